// Retry topics, dead-letter queues and delay levels end to end: a real NameServer and broker
// (short messageDelayLevel so every wait is a few seconds) and the C++ client.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "broker_fixture.h"
#include "mq/client/producer.h"
#include "mq/client/push_consumer.h"
#include "namesrv_fixture.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

using mq::client::ConsumeResult;
using mq::client::MakeMessage;
using mq::client::MessageModel;
using mq::client::Producer;
using mq::client::PushConsumer;
using mq::client::ReceivedMessage;
using Clock = std::chrono::steady_clock;

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One delivery as the listener saw it.
struct Delivery {
  std::string topic;
  std::string body;
  int32_t reconsume_times = 0;
  std::string reconsume_time_property;
  int64_t at_ms = 0;  // wall clock
};

// Records deliveries; fails the first `failures` deliveries of each body (-1: always). Thread-safe.
class Recorder {
 public:
  explicit Recorder(int failures) : failures_(failures) {}
  mq::client::MessageListener Listener() {
    return [this](const std::vector<ReceivedMessage>& msgs) {
      std::lock_guard lock(mu_);
      bool fail = false;
      for (const auto& m : msgs) {
        Delivery d{m.message.topic, m.message.body, m.reconsume_times, "", WallMs()};
        if (auto it = m.system_properties.find("RECONSUME_TIME"); it != m.system_properties.end()) {
          d.reconsume_time_property = it->second;
        }
        const int n = ++count_[m.message.body];
        if (failures_ < 0 || n <= failures_) fail = true;
        log_.push_back(std::move(d));
      }
      return fail ? ConsumeResult::kRetryLater : ConsumeResult::kSuccess;
    };
  }
  int count(const std::string& body) {
    std::lock_guard lock(mu_);
    return count_[body];
  }
  std::vector<Delivery> of(const std::string& body) {
    std::lock_guard lock(mu_);
    std::vector<Delivery> out;
    for (const auto& d : log_) {
      if (d.body == body) out.push_back(d);
    }
    return out;
  }

 private:
  const int failures_;
  std::mutex mu_;
  std::map<std::string, int> count_;  // guarded by mu_
  std::vector<Delivery> log_;         // guarded by mu_
};

class RetryMessageTest : public ::testing::Test {
 protected:
  static constexpr const char* kTopic = "RetryTopic";

  void SetUp() override {
    broker_ = std::make_unique<BrokerProcess>(
        BrokerOptions{namesrv_.address(),
                      dir_.Sub("broker"),
                      "broker-a",
                      {"messageDelayLevel=1s 1s 1s 1s 1s 1s 1s 3s", "flushDelayOffsetInterval=200",
                       "autoCreateTopicEnable=true"}});
    ASSERT_TRUE(namesrv_.started());
    ASSERT_TRUE(broker_->Start());
    CreateTopic(*broker_, kTopic, 2);
    ASSERT_TRUE(WaitForRoute(kTopic));
    mq::client::ProducerOptions o;
    o.client = Client();
    producer_ = std::make_unique<Producer>(o);
    ASSERT_TRUE(producer_->Start().ok());
  }
  void TearDown() override {
    producer_.reset();
    // A clean exit: also catches sanitizer reports (leaks, UB) of the broker in ASan builds.
    if (broker_) {
      EXPECT_EQ(broker_->Stop(), 0) << broker_->process().ReadLog().substr(0, 4000);
    }
  }

  bool WaitForRoute(const std::string& topic) {
    return WaitUntil([&] {
      mq::v1::TopicRouteData route;
      return QueryRoute(namesrv_.stub(), topic, &route).ok() && route.queue_datas_size() == 1;
    });
  }
  mq::client::ClientOptions Client() const {
    mq::client::ClientOptions o;
    o.namesrv_addrs = {namesrv_.address()};
    o.route_refresh_ms = 300;
    o.heartbeat_ms = 500;
    return o;
  }
  mq::client::PushConsumerOptions Consumer(const std::string& group) const {
    mq::client::PushConsumerOptions o;
    o.client = Client();
    o.group = group;
    o.consume_from_where = mq::client::ConsumeFromWhere::kFirstOffset;
    o.rebalance_interval_ms = 300;
    o.commit_interval_ms = 200;
    o.pull_suspend_ms = 2000;
    o.retry_delay_ms = 100;
    o.consume_threads = 2;
    o.offset_dir = dir_.Sub("offsets");
    return o;
  }
  std::unique_ptr<PushConsumer> StartConsumer(const mq::client::PushConsumerOptions& o, Recorder* r,
                                              const std::string& topic = kTopic) {
    auto c = std::make_unique<PushConsumer>(o);
    EXPECT_TRUE(c->Subscribe(topic, "*").ok());
    c->RegisterListener(r->Listener());
    EXPECT_TRUE(c->Start().ok());
    return c;
  }
  void SetRetryMaxTimes(const std::string& group, int times, int retry_queue_nums = 1) {
    mq::v1::CreateSubscriptionGroupRequest req;
    auto* g = req.mutable_config();
    g->set_group_name(group);
    g->set_consume_enable(true);
    g->set_consume_broadcast_enable(true);
    g->set_retry_queue_nums(retry_queue_nums);
    g->set_retry_max_times(times);
    g->set_which_broker_when_consume_slowly(1);
    g->set_notify_consumer_ids_changed_enable(true);
    mq::v1::CreateSubscriptionGroupResponse resp;
    grpc::ClientContext ctx;
    auto st = broker_->admin()->CreateSubscriptionGroup(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  // Every message of queue 0 of `topic` (e.g. a DLQ), pulled with an admin group.
  std::vector<mq::v1::MessageExt> PullAll(const std::string& topic) {
    mq::v1::PullMessageResponse resp;
    auto st = Pull(broker_->messaging(), "retry-test-admin", topic, 0, 0, &resp);
    if (!st.ok() || resp.status() != mq::v1::FOUND) return {};
    return {resp.messages().begin(), resp.messages().end()};
  }

  TempDir dir_;
  NamesrvProcess namesrv_;
  std::unique_ptr<BrokerProcess> broker_;
  std::unique_ptr<Producer> producer_;
};

TEST_F(RetryMessageTest, ListenerFailingThreeTimesGetsTheMessageFourTimesThroughTheRetryTopic) {
  Recorder r(3);
  auto consumer = StartConsumer(Consumer("g-flaky"), &r);
  ASSERT_TRUE(producer_->Send(MakeMessage(kTopic, "flaky", "TagA")).ok());
  ASSERT_TRUE(WaitUntil([&] { return r.count("flaky") >= 4; }, std::chrono::seconds(20)));
  // The retry queue's progress reaches the broker: nothing more is coming.
  ASSERT_TRUE(WaitUntil(
      [&] {
        mq::v1::QueryConsumerOffsetRequest req;
        req.set_consumer_group("g-flaky");
        req.mutable_queue()->set_topic("%RETRY%g-flaky");
        req.mutable_queue()->set_queue_id(0);
        mq::v1::QueryConsumerOffsetResponse resp;
        grpc::ClientContext ctx;
        return broker_->messaging()->QueryConsumerOffset(&ctx, req, &resp).ok() && resp.offset() == 3;
      },
      std::chrono::seconds(10)));
  auto got = r.of("flaky");
  ASSERT_EQ(got.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(got[i].topic, kTopic) << i;  // the original topic, restored from RETRY_TOPIC
    EXPECT_EQ(got[i].reconsume_times, i);
    EXPECT_EQ(got[i].reconsume_time_property, i == 0 ? "" : std::to_string(i));
    // Each retry waits its delay level (1 s in this test's messageDelayLevel).
    if (i > 0) {
      EXPECT_GE(got[i].at_ms - got[i - 1].at_ms, 900) << i;
    }
  }
}

TEST_F(RetryMessageTest, AlwaysFailingLandsInTheDlqAfterRetryMaxTimes) {
  SetRetryMaxTimes("g-doomed", 2);
  Recorder r(-1);
  auto consumer = StartConsumer(Consumer("g-doomed"), &r);
  auto sent = producer_->Send(MakeMessage(kTopic, "doomed", "TagD"));
  ASSERT_TRUE(sent.ok());
  std::vector<mq::v1::MessageExt> dlq;
  ASSERT_TRUE(WaitUntil(
      [&] {
        dlq = PullAll("%DLQ%g-doomed");
        return !dlq.empty();
      },
      std::chrono::seconds(20)));
  ASSERT_EQ(dlq.size(), 1u);
  const auto& m = dlq[0];
  EXPECT_EQ(m.message().body(), "doomed");
  EXPECT_EQ(m.message().tags(), "TagD");
  EXPECT_EQ(m.msg_id(), sent->msg_id);
  EXPECT_EQ(m.message().reconsume_times(), 3);
  EXPECT_EQ(m.system_properties().at("RETRY_TOPIC"), kTopic);
  EXPECT_EQ(m.system_properties().at("ORIGIN_MESSAGE_ID"), sent->msg_id);
  EXPECT_EQ(m.system_properties().at("MAX_RECONSUME_TIMES"), "2");
  // Deliveries 0, 1, 2: the third failure used up retryMaxTimes 2.
  EXPECT_EQ(r.count("doomed"), 3);
  // The DLQ is read-only by default (issue 13).
  mq::v1::GetTopicConfigRequest treq;
  treq.set_topic("%DLQ%g-doomed");
  mq::v1::GetTopicConfigResponse tresp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(broker_->admin()->GetTopicConfig(&ctx, treq, &tresp).ok());
  ASSERT_EQ(tresp.configs_size(), 1);
  EXPECT_EQ(tresp.configs(0).perm(), 4);
}

TEST_F(RetryMessageTest, DelayLevelIsDeliveredWithinItsWindowAndNotBefore) {
  // Level 3 of "1s 1s 1s ..." is 1 s; level 30 is clamped to the last level (also 1 s).
  Recorder r(0);
  auto consumer = StartConsumer(Consumer("g-delay"), &r);
  ASSERT_TRUE(WaitUntil([&] { return !consumer->AssignedQueues().empty(); }));
  auto m = MakeMessage(kTopic, "later", "TagL");
  m.delay_level = 3;
  const int64_t sent_at = WallMs();
  auto sent = producer_->Send(m);
  ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  EXPECT_EQ(sent->queue.topic, kTopic);  // the SendResult names the real topic's queue
  // The broker clamps a level above its table (the client itself accepts 1..18).
  mq::v1::Message clamped = TextMessage("clamped", "TagL");
  clamped.set_delay_level(30);
  ASSERT_TRUE(Send(broker_->messaging(), kTopic, 0, {clamped}).ok());
  // Not consumable before its time: the real queues are still empty.
  for (int q = 0; q < 2; ++q) {
    mq::v1::PullMessageResponse resp;
    ASSERT_TRUE(Pull(broker_->messaging(), "g-peek", kTopic, q, 0, &resp).ok());
    EXPECT_NE(resp.status(), mq::v1::FOUND) << q;
  }
  ASSERT_TRUE(
      WaitUntil([&] { return r.count("later") == 1 && r.count("clamped") == 1; }, std::chrono::seconds(10)));
  const int64_t got_at = r.of("later")[0].at_ms;
  EXPECT_GE(got_at, sent_at + 1000);
  EXPECT_LE(got_at, sent_at + 1000 + 1500);
}

TEST_F(RetryMessageTest, ScheduledMessageSurvivesKill9OfTheBroker) {
  constexpr int kMessages = 20;
  std::set<std::string> sent;
  for (int i = 0; i < kMessages; ++i) {
    mq::v1::Message m = TextMessage("delayed-" + std::to_string(i), "TagK");
    m.set_delay_level(8);  // 3 s
    ASSERT_TRUE(Send(broker_->messaging(), kTopic, 0, {m}).ok());
    sent.insert(m.body());
  }
  // Nothing is in the real queue yet; the broker dies before anything is due.
  mq::v1::GetQueueOffsetsRequest oreq;
  oreq.mutable_queue()->set_topic(kTopic);
  oreq.mutable_queue()->set_queue_id(0);
  mq::v1::GetQueueOffsetsResponse oresp;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(broker_->messaging()->GetQueueOffsets(&ctx, oreq, &oresp).ok());
    EXPECT_EQ(oresp.max_offset(), 0);
  }
  broker_->process().Signal(SIGKILL);
  ASSERT_TRUE(broker_->process().Wait(std::chrono::seconds(10)).has_value());
  ASSERT_TRUE(broker_->Start());
  std::set<std::string> got;
  ASSERT_TRUE(WaitUntil(
      [&] {
        mq::v1::PullMessageResponse resp;
        if (!Pull(broker_->messaging(), "g-kill", kTopic, 0, 0, &resp).ok()) return false;
        for (const auto& m : resp.messages()) {
          got.insert(m.message().body());
          EXPECT_EQ(m.system_properties().count("DELAY"), 0u);
          EXPECT_EQ(m.system_properties().at("REAL_TOPIC"), kTopic);
        }
        return got.size() == sent.size();
      },
      std::chrono::seconds(10)));
  EXPECT_EQ(got, sent);
}

TEST_F(RetryMessageTest, OrderlyConsumerRetriesLocallyThenMovesTheMessageToTheDlq) {
  auto o = Consumer("g-orderly");
  o.orderly = true;
  o.max_reconsume_times = 2;
  o.suspend_current_queue_time_ms = 200;
  std::mutex mu;
  std::vector<std::pair<std::string, int>> seen;
  auto consumer = std::make_unique<PushConsumer>(o);
  ASSERT_TRUE(consumer->Subscribe(kTopic, "*").ok());
  consumer->RegisterListener([&](const std::vector<ReceivedMessage>& msgs) {
    std::lock_guard lock(mu);
    for (const auto& m : msgs) seen.emplace_back(m.message.body, m.reconsume_times);
    return msgs[0].message.body == "poison" ? ConsumeResult::kRetryLater : ConsumeResult::kSuccess;
  });
  ASSERT_TRUE(consumer->Start().ok());
  for (const std::string body : {"poison", "after"}) {
    ASSERT_TRUE(Send(broker_->messaging(), kTopic, 1, {TextMessage(body)}).ok());
  }
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::lock_guard lock(mu);
        return !seen.empty() && seen.back().first == "after";
      },
      std::chrono::seconds(15)));
  {
    std::lock_guard lock(mu);
    std::vector<std::pair<std::string, int>> want = {
        {"poison", 0}, {"poison", 1}, {"poison", 2}, {"after", 0}};
    EXPECT_EQ(seen, want);
  }
  std::vector<mq::v1::MessageExt> dlq;
  ASSERT_TRUE(WaitUntil([&] {
    dlq = PullAll("%DLQ%g-orderly");
    return !dlq.empty();
  }));
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0].message().body(), "poison");
}

// The broker's DLQ copy adds a topic and bookkeeping properties (RETRY_TOPIC, ORIGIN_MESSAGE_ID,
// RECONSUME_TIME, MAX_RECONSUME_TIMES) to a message the producer could fill to the limits: a
// body of maxMessageSize and properties up to what the store takes. Each must still reach the
// DLQ, and the orderly queue behind it move on.
TEST_F(RetryMessageTest, MessagesAtTheSizeLimitsStillReachTheDlq) {
  // The largest user property the broker takes, found on another topic.
  CreateTopic(*broker_, "Probe", 1);
  auto with_property = [](size_t n) {
    mq::v1::Message m = TextMessage("big-properties");
    (*m.mutable_user_properties())["pad"] = std::string(n, 'p');
    return m;
  };
  size_t accepted = 0;
  for (size_t lo = 1, hi = 40'000; lo <= hi;) {
    const size_t mid = (lo + hi) / 2;
    if (Send(broker_->messaging(), "Probe", 0, {with_property(mid)}).ok()) {
      accepted = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  ASSERT_GT(accepted, 30'000u);

  auto o = Consumer("g-limits");
  o.orderly = true;
  o.max_reconsume_times = 1;
  o.suspend_current_queue_time_ms = 200;
  std::mutex mu;
  std::vector<std::string> seen;
  auto consumer = std::make_unique<PushConsumer>(o);
  ASSERT_TRUE(consumer->Subscribe(kTopic, "*").ok());
  consumer->RegisterListener([&](const std::vector<ReceivedMessage>& msgs) {
    std::lock_guard lock(mu);
    const std::string& body = msgs[0].message.body;
    seen.push_back(body.size() > 64 ? "big-body" : body);
    return body == "after" ? ConsumeResult::kSuccess : ConsumeResult::kRetryLater;
  });
  ASSERT_TRUE(consumer->Start().ok());
  mq::v1::Message big_body = TextMessage(std::string(1024 * 1024, 'b'));  // the fixture's maxMessageSize
  const grpc::Status big_sent = Send(broker_->messaging(), kTopic, 1, {big_body});
  ASSERT_TRUE(big_sent.ok()) << big_sent.error_code() << " " << big_sent.error_message();
  ASSERT_TRUE(Send(broker_->messaging(), kTopic, 1, {with_property(accepted)}).ok());
  ASSERT_TRUE(Send(broker_->messaging(), kTopic, 1, {TextMessage("after")}).ok());
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::lock_guard lock(mu);
        return !seen.empty() && seen.back() == "after";
      },
      std::chrono::seconds(20)))
      << "the queue is stuck behind a message its DLQ copy does not fit";
  std::vector<mq::v1::MessageExt> dlq;
  ASSERT_TRUE(WaitUntil([&] {
    dlq = PullAll("%DLQ%g-limits");
    return dlq.size() == 2;
  }));
  EXPECT_EQ(dlq[0].message().body().size(), 1024u * 1024);
  EXPECT_EQ(dlq[1].message().user_properties().at("pad").size(), accepted);
  EXPECT_EQ(dlq[1].system_properties().at("RETRY_TOPIC"), kTopic);
}

// A send-back the broker refuses (here: the retry topic is read-only) leaves the message with
// the consumer, which hands it to the listener again after retry_delay_ms: the same message,
// whole, with one more reconsume time, and only then is its offset committed.
TEST_F(RetryMessageTest, ConcurrentConsumerRetriesLocallyWhenTheSendBackIsRefused) {
  mq::v1::CreateTopicRequest req;
  req.mutable_config()->set_topic_name("%RETRY%g-local");
  req.mutable_config()->set_read_queue_nums(1);
  req.mutable_config()->set_write_queue_nums(1);
  req.mutable_config()->set_perm(4);  // read only: send-backs are refused
  mq::v1::CreateTopicResponse created;
  grpc::ClientContext ctx;
  ASSERT_TRUE(broker_->admin()->CreateTopic(&ctx, req, &created).ok());

  std::mutex mu;
  std::vector<ReceivedMessage> seen;
  auto o = Consumer("g-local");
  auto consumer = std::make_unique<PushConsumer>(o);
  ASSERT_TRUE(consumer->Subscribe(kTopic, "*").ok());
  consumer->RegisterListener([&](const std::vector<ReceivedMessage>& msgs) {
    std::lock_guard lock(mu);
    seen.insert(seen.end(), msgs.begin(), msgs.end());
    return seen.size() == 1 ? ConsumeResult::kRetryLater : ConsumeResult::kSuccess;
  });
  ASSERT_TRUE(consumer->Start().ok());
  auto sent = producer_->Send(MakeMessage(kTopic, std::string(300, 'L'), "TagL"));
  ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  ASSERT_TRUE(WaitUntil([&] {
    std::lock_guard lock(mu);
    return seen.size() >= 2;
  }));
  ASSERT_TRUE(WaitUntil([&] {
    for (const auto& info : consumer->ProcessQueueInfos()) {
      if (info.cached_msg_count != 0 || info.cached_msg_bytes != 0) return false;
    }
    return true;
  }));
  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(seen[i].message.body, std::string(300, 'L')) << i;
    EXPECT_EQ(seen[i].message.tags, "TagL") << i;
    EXPECT_EQ(seen[i].msg_id, sent->msg_id) << i;
    EXPECT_EQ(seen[i].message.topic, kTopic) << i;
    EXPECT_EQ(seen[i].reconsume_times, i) << i;
  }
  // From the topic's own queue both times, not from %RETRY%g-local.
  EXPECT_EQ(seen[1].queue.ToString(), seen[0].queue.ToString());
  EXPECT_EQ(seen[1].queue.topic, kTopic);
  EXPECT_EQ(seen[0].queue_offset, seen[1].queue_offset);
}

TEST_F(RetryMessageTest, BroadcastingDropsAFailedMessageWithoutARetryTopic) {
  auto o = Consumer("g-broadcast");
  o.model = MessageModel::kBroadcasting;
  Recorder r(1);
  auto consumer = StartConsumer(o, &r);
  ASSERT_TRUE(WaitUntil([&] { return !consumer->AssignedQueues().empty(); }));
  ASSERT_TRUE(Send(broker_->messaging(), kTopic, 0, {TextMessage("once")}).ok());
  ASSERT_TRUE(Send(broker_->messaging(), kTopic, 0, {TextMessage("marker")}).ok());
  ASSERT_TRUE(WaitUntil([&] { return r.count("marker") == 1 && r.count("once") == 1; }));
  // Both failed (Recorder(1)) and were dropped: nothing waits for a local retry.
  ASSERT_TRUE(WaitUntil([&] {
    for (const auto& info : consumer->ProcessQueueInfos()) {
      if (info.cached_msg_count != 0) return false;
    }
    return true;
  }));
  EXPECT_EQ(r.count("once"), 1);
  EXPECT_EQ(r.count("marker"), 1);
  EXPECT_FALSE(HasTopic(*broker_, "%RETRY%g-broadcast"));
  EXPECT_FALSE(HasTopic(*broker_, "%DLQ%g-broadcast"));
}

// Before: every send-back went to queue 0 of %RETRY%<group> whatever retryQueueNums said, so
// one member of the group got every retry.
TEST_F(RetryMessageTest, SendBacksSpreadOverTheGroupsRetryQueues) {
  SetRetryMaxTimes("g-spread", 16, /*retry_queue_nums=*/4);
  mq::v1::SendMessageResponse sent;
  ASSERT_TRUE(Send(broker_->messaging(), kTopic, 0, {TextMessage("spread")}, &sent).ok());
  constexpr int kSendBacks = 40;
  for (int i = 0; i < kSendBacks; ++i) {
    mq::v1::ConsumerSendMsgBackRequest req;
    req.set_group("g-spread");
    req.set_offset_msg_id(sent.entries(0).offset_msg_id());
    req.set_delay_level(1);  // 1 s in this fixture
    mq::v1::ConsumerSendMsgBackResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(broker_->messaging()->ConsumerSendMsgBack(&ctx, req, &resp).ok());
  }
  std::vector<int> per_queue(4, 0);
  ASSERT_TRUE(WaitUntil(
      [&] {
        int total = 0;
        for (int q = 0; q < 4; ++q) {
          mq::v1::PullMessageResponse resp;
          per_queue[q] = 0;
          for (int64_t offset = 0;; offset = resp.next_begin_offset()) {
            resp.Clear();
            if (!Pull(broker_->messaging(), "retry-test-admin", "%RETRY%g-spread", q, offset, &resp).ok() ||
                resp.status() != mq::v1::FOUND) {
              break;
            }
            per_queue[q] += resp.messages_size();
          }
          total += per_queue[q];
        }
        return total == kSendBacks;
      },
      std::chrono::seconds(20)));
  EXPECT_GE(std::count_if(per_queue.begin(), per_queue.end(), [](int n) { return n > 0; }), 2)
      << per_queue[0] << " " << per_queue[1] << " " << per_queue[2] << " " << per_queue[3];
}

TEST_F(RetryMessageTest, BadSendBackInputIsRefusedNamingTheField) {
  mq::v1::SendMessageResponse sent;
  ASSERT_TRUE(Send(broker_->messaging(), kTopic, 0, {TextMessage("orig")}, &sent).ok());
  auto call = [&](mq::v1::ConsumerSendMsgBackRequest req) {
    mq::v1::ConsumerSendMsgBackResponse resp;
    grpc::ClientContext ctx;
    return broker_->messaging()->ConsumerSendMsgBack(&ctx, req, &resp);
  };
  auto expect = [&](const mq::v1::ConsumerSendMsgBackRequest& req, grpc::StatusCode code,
                    const std::string& field) {
    auto st = call(req);
    EXPECT_EQ(st.error_code(), code) << st.error_message();
    EXPECT_EQ(st.error_message().rfind(field, 0), 0u) << st.error_message();
  };
  mq::v1::ConsumerSendMsgBackRequest req;
  req.set_offset_msg_id(sent.entries(0).offset_msg_id());
  expect(req, grpc::StatusCode::INVALID_ARGUMENT, "group");
  req.set_group("bad group!");
  expect(req, grpc::StatusCode::INVALID_ARGUMENT, "group");
  req.set_group(std::string(121, 'g'));  // its retry topic would be 128 characters
  expect(req, grpc::StatusCode::INVALID_ARGUMENT, "group: length 121");
  req.set_group("g-bad");
  req.set_offset_msg_id("not-hex");
  expect(req, grpc::StatusCode::INVALID_ARGUMENT, "offset_msg_id");
  req.clear_offset_msg_id();
  req.set_commit_log_offset(-5);
  expect(req, grpc::StatusCode::INVALID_ARGUMENT, "commit_log_offset");
  req.set_commit_log_offset(int64_t{1} << 40);
  expect(req, grpc::StatusCode::NOT_FOUND, "commit_log_offset");
  req.set_offset_msg_id(sent.entries(0).offset_msg_id());
  req.set_msg_id("0123456789ABCDEF0123456789ABCDEF");
  expect(req, grpc::StatusCode::INVALID_ARGUMENT, "msg_id");
  // The right id works and lands in the retry topic (via the schedule topic).
  req.set_msg_id(sent.entries(0).msg_id());
  mq::v1::ConsumerSendMsgBackResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(broker_->messaging()->ConsumerSendMsgBack(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.topic(), "%RETRY%g-bad");
  EXPECT_EQ(resp.reconsume_times(), 1);
  EXPECT_EQ(resp.delay_level(), 3);
  // Nobody may write the schedule topic directly.
  auto st = Send(broker_->messaging(), "SCHEDULE_TOPIC_XXXX", 0, {TextMessage("x")});
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // Before: a producer's reconsume_times at the top of int32 made the send-back's "+ 1" and
  // "3 +" overflow (undefined; a sanitizer build aborted, a release build stored a wrapped
  // count and took delay level 1). They saturate now.
  mq::v1::Message worn = TextMessage("worn");
  worn.set_reconsume_times(INT32_MAX);
  mq::v1::SendMessageResponse worn_sent;
  ASSERT_TRUE(Send(broker_->messaging(), kTopic, 0, {worn}, &worn_sent).ok());
  mq::v1::ConsumerSendMsgBackRequest worn_req;
  worn_req.set_group("g-worn");
  worn_req.set_offset_msg_id(worn_sent.entries(0).offset_msg_id());
  mq::v1::ConsumerSendMsgBackResponse worn_resp;
  {
    grpc::ClientContext c;
    ASSERT_TRUE(broker_->messaging()->ConsumerSendMsgBack(&c, worn_req, &worn_resp).ok());
  }
  EXPECT_EQ(worn_resp.topic(), "%DLQ%g-worn");
  EXPECT_EQ(worn_resp.reconsume_times(), INT32_MAX);
  mq::v1::Message almost = TextMessage("almost");
  almost.set_reconsume_times(INT32_MAX - 1);
  mq::v1::SendMessageResponse almost_sent;
  ASSERT_TRUE(Send(broker_->messaging(), kTopic, 0, {almost}, &almost_sent).ok());
  worn_req.set_offset_msg_id(almost_sent.entries(0).offset_msg_id());
  worn_req.set_max_reconsume_times(INT32_MAX);
  {
    grpc::ClientContext c;
    ASSERT_TRUE(broker_->messaging()->ConsumerSendMsgBack(&c, worn_req, &worn_resp).ok());
  }
  EXPECT_EQ(worn_resp.topic(), "%RETRY%g-worn");
  EXPECT_EQ(worn_resp.delay_level(), 8);  // the last level of this test's table, as any count past it
}

TEST_F(RetryMessageTest, ARetryQueueIsReadFromItsStartWhateverConsumeFromWhereSays) {
  // A message sent back before the group's consumer first takes the retry queue (a new group,
  // a broker added) must be delivered: RocketMQ starts a retry queue at 0 even under
  // CONSUME_FROM_LAST_OFFSET.
  mq::v1::SendMessageResponse sent;
  ASSERT_TRUE(Send(broker_->messaging(), kTopic, 0, {TextMessage("sent-back-early")}, &sent).ok());
  mq::v1::ConsumerSendMsgBackRequest req;
  req.set_group("g-late");
  req.set_offset_msg_id(sent.entries(0).offset_msg_id());
  req.set_msg_id(sent.entries(0).msg_id());
  req.set_delay_level(1);
  mq::v1::ConsumerSendMsgBackResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(broker_->messaging()->ConsumerSendMsgBack(&ctx, req, &resp).ok());
  ASSERT_TRUE(WaitUntil([&] { return !PullAll("%RETRY%g-late").empty(); }, std::chrono::seconds(10)));
  Recorder recorder(0);
  auto o = Consumer("g-late");
  o.consume_from_where = mq::client::ConsumeFromWhere::kLastOffset;  // the default
  auto consumer = StartConsumer(o, &recorder);
  ASSERT_TRUE(WaitUntil([&] { return recorder.count("sent-back-early") == 1; }, std::chrono::seconds(10)));
  auto deliveries = recorder.of("sent-back-early");
  EXPECT_EQ(deliveries[0].topic, kTopic);
  EXPECT_EQ(deliveries[0].reconsume_times, 1);
}

}  // namespace
}  // namespace mq::testing
