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
#include "retry_fixture.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

using mq::client::ConsumeResult;
using mq::client::MakeMessage;
using mq::client::MessageModel;
using mq::client::PushConsumer;
using mq::client::ReceivedMessage;

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
