// ConsumerService behind an in-process gRPC server on 127.0.0.1 (a small front that forwards the
// four consumer RPCs, as the broker's v2 MessagingService does), over a real PopService and
// store: the ReceiveMessage stream shape (Status, messages, delivery_timestamp; a lone
// MESSAGE_NOT_FOUND when empty), error codes, per-entry ack results, new handles from
// ChangeInvisibleDuration, long polling woken by an arrival, and a client that cancels a parked
// receive (the reactor must outlive it cleanly).
#include "broker/v2/consumer_service.h"

#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "unit/broker_pop/pop_test_fixture.h"

namespace mq::broker::v2 {
namespace {

namespace pb = apache::rocketmq::v2;
using google::protobuf::util::TimeUtil;

class Front final : public pb::MessagingService::CallbackService {
 public:
  explicit Front(ConsumerRpcs* rpcs) : rpcs_(rpcs) {}
  grpc::ServerWriteReactor<pb::ReceiveMessageResponse>* ReceiveMessage(
      grpc::CallbackServerContext* ctx, const pb::ReceiveMessageRequest* r) override {
    return rpcs_->ReceiveMessage(ctx, r, Call());
  }
  grpc::ServerUnaryReactor* AckMessage(grpc::CallbackServerContext* ctx, const pb::AckMessageRequest* r,
                                       pb::AckMessageResponse* out) override {
    return rpcs_->AckMessage(ctx, r, out, Call());
  }
  grpc::ServerUnaryReactor* ChangeInvisibleDuration(grpc::CallbackServerContext* ctx,
                                                    const pb::ChangeInvisibleDurationRequest* r,
                                                    pb::ChangeInvisibleDurationResponse* out) override {
    return rpcs_->ChangeInvisibleDuration(ctx, r, out, Call());
  }
  grpc::ServerUnaryReactor* ForwardMessageToDeadLetterQueue(
      grpc::CallbackServerContext* ctx, const pb::ForwardMessageToDeadLetterQueueRequest* r,
      pb::ForwardMessageToDeadLetterQueueResponse* out) override {
    return rpcs_->ForwardMessageToDeadLetterQueue(ctx, r, out, Call());
  }

 private:
  static CallContext Call() {
    CallContext c;
    c.client_id = "test-client";
    return c;
  }
  ConsumerRpcs* rpcs_;
};

struct Frames {
  std::vector<pb::ReceiveMessageResponse> frames;
  grpc::Status rpc;
};

class ConsumerServiceTest : public pop::testing::PopFixture {
 protected:
  void SetUp() override {
    PopFixture::SetUp();
    ConsumerServiceOptions o;
    o.min_invisible_ms = 1000;
    o.min_long_polling_ms = 0;
    service_ = std::make_unique<ConsumerService>(o, pop_.get());
    front_ = std::make_unique<Front>(service_.get());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(front_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    address_ = "127.0.0.1:" + std::to_string(port);
    stub_ = pb::MessagingService::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    waits_->Shutdown();  // answers parked receives so the server can drain
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    server_->Wait();
    PopFixture::TearDown();
  }

  pb::ReceiveMessageRequest ReceiveRequest(const std::string& topic, int batch, int64_t invisible_ms,
                                           int64_t poll_ms) {
    pb::ReceiveMessageRequest req;
    req.mutable_group()->set_name("g");
    req.mutable_message_queue()->mutable_topic()->set_name(topic);
    req.set_batch_size(batch);
    *req.mutable_invisible_duration() = TimeUtil::MillisecondsToDuration(invisible_ms);
    *req.mutable_long_polling_timeout() = TimeUtil::MillisecondsToDuration(poll_ms);
    return req;
  }

  Frames Receive(const pb::ReceiveMessageRequest& req) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    auto reader = stub_->ReceiveMessage(&ctx, req);
    Frames out;
    pb::ReceiveMessageResponse frame;
    while (reader->Read(&frame)) out.frames.push_back(frame);
    out.rpc = reader->Finish();
    return out;
  }

  pb::AckMessageResponse Ack(const std::string& topic, const std::vector<std::string>& handles) {
    pb::AckMessageRequest req;
    req.mutable_group()->set_name("g");
    req.mutable_topic()->set_name(topic);
    for (const auto& h : handles) req.add_entries()->set_receipt_handle(h);
    pb::AckMessageResponse resp;
    grpc::ClientContext ctx;
    EXPECT_TRUE(stub_->AckMessage(&ctx, req, &resp).ok());
    return resp;
  }

  std::unique_ptr<ConsumerService> service_;
  std::unique_ptr<Front> front_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<pb::MessagingService::Stub> stub_;
  std::string address_;
};

TEST_F(ConsumerServiceTest, StreamsStatusMessagesThenDeliveryTimestamp) {
  CreateTopic("T", 2);
  Put("T", 0, "a");
  Put("T", 1, "b");
  Frames f = Receive(ReceiveRequest("T", 32, 10000, 0));
  ASSERT_TRUE(f.rpc.ok()) << f.rpc.error_message();
  ASSERT_EQ(f.frames.size(), 4u);
  EXPECT_EQ(f.frames[0].status().code(), pb::Code::OK);
  EXPECT_TRUE(f.frames[1].has_message());
  EXPECT_TRUE(f.frames[2].has_message());
  EXPECT_TRUE(f.frames[3].has_delivery_timestamp());
  std::vector<std::string> handles = {f.frames[1].message().system_properties().receipt_handle(),
                                      f.frames[2].message().system_properties().receipt_handle()};
  auto acked = Ack("T", handles);
  EXPECT_EQ(acked.status().code(), pb::Code::OK);
  ASSERT_EQ(acked.entries_size(), 2);
  EXPECT_EQ(acked.entries(1).status().code(), pb::Code::OK);
  // Again: one entry stale, one garbled -> per-entry codes, MULTIPLE_RESULTS only if they differ.
  auto stale = Ack("T", {handles[0]});
  EXPECT_EQ(stale.status().code(), pb::Code::INVALID_RECEIPT_HANDLE);
  Put("T", 0, "c");
  Frames g = Receive(ReceiveRequest("T", 1, 10000, 0));
  ASSERT_EQ(g.frames.size(), 3u);
  auto mixed = Ack("T", {g.frames[1].message().system_properties().receipt_handle(), "junk"});
  EXPECT_EQ(mixed.status().code(), pb::Code::MULTIPLE_RESULTS);
  EXPECT_EQ(mixed.entries(0).status().code(), pb::Code::OK);
  EXPECT_EQ(mixed.entries(1).status().code(), pb::Code::INVALID_RECEIPT_HANDLE);
}

TEST_F(ConsumerServiceTest, EmptyReceiveAndBadRequestsAnswerOneStatusFrame) {
  CreateTopic("T", 1);
  for (const auto& [req, code] : std::vector<std::pair<pb::ReceiveMessageRequest, pb::Code>>{
           {ReceiveRequest("T", 4, 10000, 100), pb::Code::MESSAGE_NOT_FOUND},
           {ReceiveRequest("Missing", 4, 10000, 0), pb::Code::TOPIC_NOT_FOUND},
           {ReceiveRequest("T", 4, 999, 0), pb::Code::ILLEGAL_INVISIBLE_TIME},
           {ReceiveRequest("T", 4, 44000000, 0), pb::Code::ILLEGAL_INVISIBLE_TIME},
           {ReceiveRequest("", 4, 10000, 0), pb::Code::ILLEGAL_TOPIC}}) {
    Frames f = Receive(req);
    ASSERT_TRUE(f.rpc.ok());
    ASSERT_EQ(f.frames.size(), 1u) << req.ShortDebugString();
    EXPECT_EQ(f.frames[0].status().code(), code) << f.frames[0].status().message();
  }
  auto bad_filter = ReceiveRequest("T", 4, 10000, 0);
  bad_filter.mutable_filter_expression()->set_type(pb::FilterType::SQL);
  bad_filter.mutable_filter_expression()->set_expression("a = ");
  EXPECT_EQ(Receive(bad_filter).frames.at(0).status().code(), pb::Code::ILLEGAL_FILTER_EXPRESSION);
  auto no_invisible = ReceiveRequest("T", 4, 10000, 0);
  no_invisible.clear_invisible_duration();
  EXPECT_EQ(Receive(no_invisible).frames.at(0).status().code(), pb::Code::ILLEGAL_INVISIBLE_TIME);
  no_invisible.set_auto_renew(true);
  EXPECT_EQ(Receive(no_invisible).frames.at(0).status().code(), pb::Code::MESSAGE_NOT_FOUND);
}

TEST_F(ConsumerServiceTest, ChangeInvisibleDurationAnswersANewHandle) {
  CreateTopic("T", 1);
  Put("T", 0, "a");
  Frames f = Receive(ReceiveRequest("T", 1, 10000, 0));
  ASSERT_EQ(f.frames.size(), 3u);
  const std::string old_handle = f.frames[1].message().system_properties().receipt_handle();
  pb::ChangeInvisibleDurationRequest req;
  req.mutable_group()->set_name("g");
  req.mutable_topic()->set_name("T");
  req.set_receipt_handle(old_handle);
  *req.mutable_invisible_duration() = TimeUtil::MillisecondsToDuration(4);
  pb::ChangeInvisibleDurationResponse resp;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->ChangeInvisibleDuration(&ctx, req, &resp).ok());
  }
  EXPECT_EQ(resp.status().code(), pb::Code::OK);
  EXPECT_FALSE(resp.receipt_handle().empty());
  EXPECT_NE(resp.receipt_handle(), old_handle);
  {
    grpc::ClientContext ctx;
    pb::ChangeInvisibleDurationResponse again;
    ASSERT_TRUE(stub_->ChangeInvisibleDuration(&ctx, req, &again).ok());
    EXPECT_EQ(again.status().code(), pb::Code::INVALID_RECEIPT_HANDLE);
  }
  pb::ForwardMessageToDeadLetterQueueRequest fwd;
  fwd.mutable_group()->set_name("g");
  fwd.mutable_topic()->set_name("T");
  fwd.set_receipt_handle(resp.receipt_handle());
  pb::ForwardMessageToDeadLetterQueueResponse fwd_resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->ForwardMessageToDeadLetterQueue(&ctx, fwd, &fwd_resp).ok());
  EXPECT_EQ(fwd_resp.status().code(), pb::Code::OK);
  EXPECT_EQ(pop_->InFlightCount(), 0u);
}

TEST_F(ConsumerServiceTest, LongPollingWakesOnArrivalAndSurvivesACancelledClient) {
  CreateTopic("T", 2);
  {
    // A client that gives up while its receive is parked.
    grpc::ClientContext ctx;
    auto reader = stub_->ReceiveMessage(&ctx, ReceiveRequest("T", 1, 10000, 3000));
    ctx.TryCancel();
    pb::ReceiveMessageResponse frame;
    while (reader->Read(&frame)) {
    }
    EXPECT_FALSE(reader->Finish().ok());
  }
  std::thread producer([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // lets the receive park first
    Put("T", 1, "late");
  });
  const auto start = std::chrono::steady_clock::now();
  Frames f = Receive(ReceiveRequest("T", 1, 10000, 8000));
  producer.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
  ASSERT_GE(f.frames.size(), 2u);
  EXPECT_EQ(f.frames[1].message().body(), "late");
}

TEST_F(ConsumerServiceTest, ACancelledReceiveFreesItsParkedPlaceAtOnce) {
  // Its pop is woken and ends, rather than hold a popPollingSize place until its poll ran out.
  CreateTopic("T", 1);
  grpc::ClientContext ctx;
  auto reader = stub_->ReceiveMessage(&ctx, ReceiveRequest("T", 1, 10000, 15000));
  ASSERT_TRUE(mq::testing::WaitUntil([&] { return pop_->ParkedCount() == 1; }));
  ctx.TryCancel();
  EXPECT_TRUE(mq::testing::WaitUntil([&] { return pop_->ParkedCount() == 0; }, std::chrono::seconds(3)));
  pb::ReceiveMessageResponse frame;
  while (reader->Read(&frame)) {
  }
  EXPECT_FALSE(reader->Finish().ok());
}

TEST_F(ConsumerServiceTest, AckLikeRequestsNameABadGroupOrTopic) {
  // As RocketMQ's proxy: ILLEGAL_CONSUMER_GROUP / ILLEGAL_TOPIC naming the field, not a stale
  // receipt handle.
  CreateTopic("T", 1);
  Put("T", 0, "m");
  Frames got = Receive(ReceiveRequest("T", 1, 10000, 0));
  ASSERT_GE(got.frames.size(), 2u);
  const std::string handle = got.frames[1].message().system_properties().receipt_handle();
  struct Case {
    std::string group, topic;
    pb::Code code;
    std::string field;
  };
  for (const Case& c : {Case{"", "T", pb::Code::ILLEGAL_CONSUMER_GROUP, "group.name"},
                        Case{"g", "", pb::Code::ILLEGAL_TOPIC, "topic.name"},
                        Case{"bad group!", "T", pb::Code::ILLEGAL_CONSUMER_GROUP, "group.name"}}) {
    pb::AckMessageRequest ack;
    ack.mutable_group()->set_name(c.group);
    ack.mutable_topic()->set_name(c.topic);
    ack.add_entries()->set_receipt_handle(handle);
    pb::AckMessageResponse ack_resp;
    grpc::ClientContext ack_ctx;
    ASSERT_TRUE(stub_->AckMessage(&ack_ctx, ack, &ack_resp).ok());
    EXPECT_EQ(ack_resp.status().code(), c.code) << ack_resp.status().message();
    EXPECT_EQ(ack_resp.status().message().rfind(c.field, 0), 0u) << ack_resp.status().message();
    pb::ChangeInvisibleDurationRequest change;
    *change.mutable_group() = ack.group();
    *change.mutable_topic() = ack.topic();
    change.set_receipt_handle(handle);
    *change.mutable_invisible_duration() = TimeUtil::MillisecondsToDuration(1000);
    pb::ChangeInvisibleDurationResponse change_resp;
    grpc::ClientContext change_ctx;
    ASSERT_TRUE(stub_->ChangeInvisibleDuration(&change_ctx, change, &change_resp).ok());
    EXPECT_EQ(change_resp.status().code(), c.code) << change_resp.status().message();
    pb::ForwardMessageToDeadLetterQueueRequest forward;
    *forward.mutable_group() = ack.group();
    *forward.mutable_topic() = ack.topic();
    forward.set_receipt_handle(handle);
    pb::ForwardMessageToDeadLetterQueueResponse forward_resp;
    grpc::ClientContext forward_ctx;
    ASSERT_TRUE(stub_->ForwardMessageToDeadLetterQueue(&forward_ctx, forward, &forward_resp).ok());
    EXPECT_EQ(forward_resp.status().code(), c.code) << forward_resp.status().message();
  }
  // The handle is still good.
  EXPECT_EQ(Ack("T", {handle}).status().code(), pb::Code::OK);
}

// A receive whose stream breaks after the pop took its messages: what was not written to the
// client is visible again a second later (a nack, as RocketMQ's proxy does), not after the
// receive's invisible time (nor, auto-renewed, after hours of renewals).
TEST_F(ConsumerServiceTest, MessagesABrokenStreamDidNotDeliverComeBackInASecond) {
  CreateTopic("T", 1);
  for (int i = 0; i < 32; ++i) Put("T", 0, std::string(7 * 1024, static_cast<char>('a' + i % 26)));
  // A client that takes little at a time: its stream window holds a few of the 32 frames, so
  // the broker's writes wait for it while the pop's messages are still unwritten.
  grpc::ChannelArguments args;
  args.SetInt("grpc.http2.bdp_probe", 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 16 * 1024);
  auto slow = pb::MessagingService::NewStub(
      grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), args));
  {
    grpc::ClientContext ctx;
    auto reader = slow->ReceiveMessage(&ctx, ReceiveRequest("T", 32, 60000, 0));
    pb::ReceiveMessageResponse frame;
    ASSERT_TRUE(reader->Read(&frame));  // the status: the pop took the messages
    ASSERT_TRUE(mq::testing::WaitUntil([&] { return pop_->InFlightCount() == 32; }));
    ctx.TryCancel();
    while (reader->Read(&frame)) {
    }
    reader->Finish();
  }
  // Each round a second later by the broker's clock: the nacked messages come back at attempt 2
  // well before the 60 s invisible time of those the client got and dropped.
  std::vector<pb::Message> again;
  for (int round = 0; round < 30 && again.empty(); ++round) {
    clock_.Advance(1000);
    Frames f = Receive(ReceiveRequest("T", 32, 60000, 0));
    for (const auto& fr : f.frames) {
      if (fr.has_message()) again.push_back(fr.message());
    }
  }
  ASSERT_FALSE(again.empty());
  for (const auto& m : again) EXPECT_EQ(m.system_properties().delivery_attempt(), 2);
}

}  // namespace
}  // namespace mq::broker::v2
