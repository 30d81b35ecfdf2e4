// Pop consumption through the apache.rocketmq.v2 consumer RPCs of a real mqbroker process
// (generated v2 stubs, ephemeral ports, temp dirs): receive/ack, invisible-time redelivery with
// attempt 2, ChangeInvisibleDuration (old handle stale), DLQ after max attempts, FIFO order with
// one message in flight, kill -9 with acked and unacked messages, and a v2 pop group beside a
// v1 pull group on one topic. Short invisible times (minInvisibleTimeMillsForRecv=1000) keep
// every wait at a few seconds.
#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "apache/rocketmq/v2/service.grpc.pb.h"
#include "broker_fixture.h"
#include "common/digest.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

namespace pb = apache::rocketmq::v2;
using google::protobuf::util::TimeUtil;

struct Received {
  pb::Code code = pb::Code::CODE_UNSPECIFIED;
  std::string message;
  std::vector<pb::Message> messages;
  bool delivery_timestamp = false;
  grpc::Status rpc;
};

class V2PopTest : public ::testing::Test {
 protected:
  void SetUp() override { StartBroker(); }

  void StartBroker() {
    BrokerOptions o;
    o.store_dir = dir_.path();
    o.sets = {"grpcServerPort=-1", "minInvisibleTimeMillsForRecv=1000",
              "grpcClientConsumerMinLongPollingTimeoutMillis=0", "reviveInterval=100",
              "flushConsumerOffsetInterval=500"};
    broker_ = std::make_unique<BrokerProcess>(o);
    ASSERT_TRUE(broker_->Start());
    ASSERT_FALSE(broker_->v2_address().empty());
    Connect();
  }

  void Connect() {
    stub_ = pb::MessagingService::NewStub(
        grpc::CreateChannel(broker_->v2_address(), grpc::InsecureChannelCredentials()));
  }

  void Restart() {
    ASSERT_TRUE(broker_->Start());
    Connect();
  }

  std::unique_ptr<grpc::ClientContext> Context(int64_t deadline_ms = 10000) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("x-mq-client-id", "v2-pop-test-client");
    ctx->AddMetadata("x-mq-protocol", "v2");
    ctx->AddMetadata("x-mq-language", "CPP");
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms));
    return ctx;
  }

  void SendTo(const std::string& topic, int32_t queue, const std::string& body) {
    mq::v1::Message m = TextMessage(body);
    m.set_unique_key("ID-" + body);
    ASSERT_TRUE(Send(broker_->messaging(), topic, queue, {m}).ok());
  }

  Received Receive(const std::string& group, const std::string& topic, int batch, int64_t invisible_ms,
                   int64_t poll_ms = 0, const std::string& attempt_id = "") {
    pb::ReceiveMessageRequest req;
    req.mutable_group()->set_name(group);
    req.mutable_message_queue()->mutable_topic()->set_name(topic);
    req.mutable_message_queue()->set_id(0);
    req.mutable_filter_expression()->set_type(pb::FilterType::TAG);
    req.mutable_filter_expression()->set_expression("*");
    req.set_batch_size(batch);
    *req.mutable_invisible_duration() = TimeUtil::MillisecondsToDuration(invisible_ms);
    *req.mutable_long_polling_timeout() = TimeUtil::MillisecondsToDuration(poll_ms);
    if (!attempt_id.empty()) req.set_attempt_id(attempt_id);
    auto ctx = Context(poll_ms + 5000);
    auto reader = stub_->ReceiveMessage(ctx.get(), req);
    Received out;
    pb::ReceiveMessageResponse resp;
    while (reader->Read(&resp)) {
      if (resp.has_status()) {
        out.code = resp.status().code();
        out.message = resp.status().message();
      } else if (resp.has_message()) {
        out.messages.push_back(resp.message());
      } else if (resp.has_delivery_timestamp()) {
        out.delivery_timestamp = true;
      }
    }
    out.rpc = reader->Finish();
    return out;
  }

  pb::Code Ack(const std::string& group, const std::string& topic, const pb::Message& m) {
    return AckHandle(group, topic, m.system_properties().receipt_handle());
  }
  pb::Code AckHandle(const std::string& group, const std::string& topic, const std::string& handle) {
    pb::AckMessageRequest req;
    req.mutable_group()->set_name(group);
    req.mutable_topic()->set_name(topic);
    auto* e = req.add_entries();
    e->set_message_id("id");
    e->set_receipt_handle(handle);
    pb::AckMessageResponse resp;
    auto ctx = Context();
    grpc::Status s = stub_->AckMessage(ctx.get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.status().code();
  }

  std::pair<pb::Code, std::string> Change(const std::string& group, const std::string& topic,
                                          const std::string& handle, int64_t ms) {
    pb::ChangeInvisibleDurationRequest req;
    req.mutable_group()->set_name(group);
    req.mutable_topic()->set_name(topic);
    req.set_receipt_handle(handle);
    *req.mutable_invisible_duration() = TimeUtil::MillisecondsToDuration(ms);
    pb::ChangeInvisibleDurationResponse resp;
    auto ctx = Context();
    grpc::Status s = stub_->ChangeInvisibleDuration(ctx.get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {resp.status().code(), resp.receipt_handle()};
  }

  void CreateGroup(const std::string& group, bool orderly, int32_t retry_max_times) {
    mq::v1::CreateSubscriptionGroupRequest req;
    auto* c = req.mutable_config();
    c->set_group_name(group);
    c->set_consume_enable(true);
    c->set_retry_queue_nums(1);
    c->set_retry_max_times(retry_max_times);
    c->set_consume_message_orderly(orderly);
    c->set_which_broker_when_consume_slowly(1);
    mq::v1::CreateSubscriptionGroupResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::Status s = broker_->admin()->CreateSubscriptionGroup(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  // Receives until `n` messages arrived or the deadline passed.
  std::vector<pb::Message> ReceiveN(const std::string& group, const std::string& topic, size_t n,
                                    int64_t invisible_ms,
                                    std::chrono::milliseconds deadline = std::chrono::seconds(10),
                                    int batch = 32) {
    std::vector<pb::Message> all;
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (all.size() < n && std::chrono::steady_clock::now() < until) {
      Received r = Receive(group, topic, batch, invisible_ms, 500);
      EXPECT_TRUE(r.rpc.ok()) << r.rpc.error_message();
      for (auto& m : r.messages) all.push_back(std::move(m));
    }
    return all;
  }

  static std::multiset<std::string> Bodies(const std::vector<pb::Message>& ms) {
    std::multiset<std::string> out;
    for (const auto& m : ms) out.insert(m.body());
    return out;
  }

  TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_;
  std::unique_ptr<pb::MessagingService::Stub> stub_;
};

TEST_F(V2PopTest, ReceiveAckAndAnEmptyReceive) {
  CreateTopic(*broker_, "T", 4);
  for (int i = 0; i < 8; ++i) SendTo("T", i % 4, "m" + std::to_string(i));
  for (int q = 0; q < 4; ++q) ASSERT_TRUE(WaitForMaxOffset(broker_->messaging(), "T", q, 2));
  auto got = ReceiveN("g", "T", 8, 10000);
  ASSERT_EQ(got.size(), 8u);
  for (const auto& m : got) {
    const auto& sys = m.system_properties();
    EXPECT_EQ(m.topic().name(), "T");
    EXPECT_EQ(sys.message_id(), "ID-" + m.body());
    EXPECT_EQ(sys.body_digest().type(), pb::DigestType::MD5);
    EXPECT_EQ(sys.body_digest().checksum(), mq::Md5UpperHex(m.body()));
    EXPECT_EQ(sys.delivery_attempt(), 1);
    EXPECT_FALSE(sys.receipt_handle().empty());
    EXPECT_EQ(Ack("g", "T", m), pb::Code::OK);
  }
  EXPECT_EQ(Bodies(got).size(), 8u);
  Received empty = Receive("g", "T", 32, 10000, 200);
  EXPECT_TRUE(empty.rpc.ok());
  EXPECT_EQ(empty.code, pb::Code::MESSAGE_NOT_FOUND);
  EXPECT_TRUE(empty.messages.empty());
  // Bad input gets its code, not a crash.
  EXPECT_EQ(Receive("g", "NoSuchTopic", 1, 10000).code, pb::Code::TOPIC_NOT_FOUND);
  EXPECT_EQ(Receive("g", "T", 1, 10).code, pb::Code::ILLEGAL_INVISIBLE_TIME);
  EXPECT_EQ(AckHandle("g", "T", "garbage"), pb::Code::INVALID_RECEIPT_HANDLE);
}

TEST_F(V2PopTest, RedeliversAfterTheInvisibleTimeWithAttemptTwo) {
  CreateTopic(*broker_, "T", 2);
  SendTo("T", 1, "once");
  ASSERT_TRUE(WaitForMaxOffset(broker_->messaging(), "T", 1, 1));
  auto first = ReceiveN("g", "T", 1, 1000);
  ASSERT_EQ(first.size(), 1u);
  const auto start = std::chrono::steady_clock::now();
  auto second = ReceiveN("g", "T", 1, 1000);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
  EXPECT_EQ(second[0].body(), "once");
  EXPECT_EQ(second[0].system_properties().delivery_attempt(), 2);
  EXPECT_EQ(Ack("g", "T", first[0]), pb::Code::INVALID_RECEIPT_HANDLE);
  EXPECT_EQ(Ack("g", "T", second[0]), pb::Code::OK);
}

TEST_F(V2PopTest, ChangeInvisibleDurationMakesTheOldHandleStale) {
  CreateTopic(*broker_, "T", 1);
  SendTo("T", 0, "m");
  ASSERT_TRUE(WaitForMaxOffset(broker_->messaging(), "T", 0, 1));
  auto got = ReceiveN("g", "T", 1, 30000);
  ASSERT_EQ(got.size(), 1u);
  const std::string old_handle = got[0].system_properties().receipt_handle();
  auto [code, handle] = Change("g", "T", old_handle, 2);  // a Node push consumer's nack
  ASSERT_EQ(code, pb::Code::OK);
  ASSERT_FALSE(handle.empty());
  EXPECT_NE(handle, old_handle);
  EXPECT_EQ(AckHandle("g", "T", old_handle), pb::Code::INVALID_RECEIPT_HANDLE);
  auto again = ReceiveN("g", "T", 1, 30000);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].system_properties().delivery_attempt(), 2);
  EXPECT_EQ(AckHandle("g", "T", handle), pb::Code::INVALID_RECEIPT_HANDLE);
  EXPECT_EQ(Ack("g", "T", again[0]), pb::Code::OK);
}

TEST_F(V2PopTest, GoesToTheDlqAfterMaxAttempts) {
  CreateTopic(*broker_, "T", 1);
  CreateGroup("dg", /*orderly=*/false, /*retry_max_times=*/1);  // 2 deliveries
  SendTo("T", 0, "poison");
  ASSERT_TRUE(WaitForMaxOffset(broker_->messaging(), "T", 0, 1));
  auto first = ReceiveN("dg", "T", 1, 1000);
  ASSERT_EQ(first.size(), 1u);
  auto second = ReceiveN("dg", "T", 1, 1000);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].system_properties().delivery_attempt(), 2);
  ASSERT_TRUE(WaitForMaxOffset(broker_->messaging(), "%DLQ%dg", 0, 1));
  mq::v1::PullMessageResponse pulled;
  ASSERT_TRUE(Pull(broker_->messaging(), "dlq-reader", "%DLQ%dg", 0, 0, &pulled).ok());
  ASSERT_EQ(pulled.messages_size(), 1);
  EXPECT_EQ(pulled.messages(0).message().body(), "poison");
  EXPECT_TRUE(Receive("dg", "T", 32, 1000, 1500).messages.empty());
}

TEST_F(V2PopTest, FifoGroupKeepsOrderWithOneMessageInFlight) {
  CreateTopic(*broker_, "F", 1);
  CreateGroup("fg", /*orderly=*/true, 16);
  for (int i = 0; i < 3; ++i) SendTo("F", 0, "f" + std::to_string(i));
  ASSERT_TRUE(WaitForMaxOffset(broker_->messaging(), "F", 0, 3));
  Received r0 = Receive("fg", "F", 1, 1000, 0, "att-1");
  ASSERT_EQ(r0.messages.size(), 1u);
  EXPECT_EQ(r0.messages[0].body(), "f0");
  EXPECT_EQ(Receive("fg", "F", 1, 1000, 0, "att-2").code, pb::Code::MESSAGE_NOT_FOUND);
  // Not acked: f0 comes back (attempt 2) before anything after it.
  auto again = ReceiveN("fg", "F", 1, 10000, std::chrono::seconds(10), /*batch=*/1);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].body(), "f0");
  EXPECT_EQ(again[0].system_properties().delivery_attempt(), 2);
  ASSERT_EQ(Ack("fg", "F", again[0]), pb::Code::OK);
  std::vector<std::string> order;
  for (int i = 0; i < 2; ++i) {
    auto next = ReceiveN("fg", "F", 1, 10000, std::chrono::seconds(10), /*batch=*/1);
    ASSERT_EQ(next.size(), 1u);
    order.push_back(next[0].body());
    EXPECT_EQ(Receive("fg", "F", 1, 10000).code, pb::Code::MESSAGE_NOT_FOUND);
    ASSERT_EQ(Ack("fg", "F", next[0]), pb::Code::OK);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"f1", "f2"}));
}

TEST_F(V2PopTest, KillNineKeepsAcksAndRedeliversEveryUnackedMessage) {
  CreateTopic(*broker_, "K", 2);
  for (int i = 0; i < 6; ++i) SendTo("K", i % 2, "k" + std::to_string(i));
  ASSERT_TRUE(WaitForMaxOffset(broker_->messaging(), "K", 0, 3));
  ASSERT_TRUE(WaitForMaxOffset(broker_->messaging(), "K", 1, 3));
  auto got = ReceiveN("g", "K", 6, 2000);
  ASSERT_EQ(got.size(), 6u);
  std::multiset<std::string> unacked;
  for (size_t i = 0; i < got.size(); ++i) {
    if (i % 2 == 0) {
      ASSERT_EQ(Ack("g", "K", got[i]), pb::Code::OK);
    } else {
      unacked.insert(got[i].body());
    }
  }
  broker_->process().Kill();  // SIGKILL: no snapshot, no shutdown
  Restart();
  auto back = ReceiveN("g", "K", unacked.size(), 2000, std::chrono::seconds(15));
  EXPECT_EQ(Bodies(back), unacked);
  for (const auto& m : back) {
    EXPECT_EQ(m.system_properties().delivery_attempt(), 2);
    EXPECT_EQ(Ack("g", "K", m), pb::Code::OK);
  }
  // Nothing else comes back: no acked message is redelivered.
  EXPECT_TRUE(Receive("g", "K", 32, 2000, 2500).messages.empty());
}

TEST_F(V2PopTest, PopAndPullGroupsShareATopic) {
  CreateTopic(*broker_, "S", 2);
  std::multiset<std::string> sent;
  for (int i = 0; i < 10; ++i) {
    SendTo("S", i % 2, "s" + std::to_string(i));
    sent.insert("s" + std::to_string(i));
  }
  ASSERT_TRUE(WaitForMaxOffset(broker_->messaging(), "S", 0, 5));
  ASSERT_TRUE(WaitForMaxOffset(broker_->messaging(), "S", 1, 5));
  auto popped = ReceiveN("pop-group", "S", 10, 10000);
  for (const auto& m : popped) EXPECT_EQ(Ack("pop-group", "S", m), pb::Code::OK);
  EXPECT_EQ(Bodies(popped), sent);
  std::multiset<std::string> pulled;
  for (int q = 0; q < 2; ++q) {
    mq::v1::PullMessageResponse resp;
    ASSERT_TRUE(Pull(broker_->messaging(), "pull-group", "S", q, 0, &resp).ok());
    for (const auto& m : resp.messages()) pulled.insert(m.message().body());
  }
  EXPECT_EQ(pulled, sent);
}

}  // namespace
}  // namespace mq::testing
