// The lite pull consumer against 1 NameServer + 2 broker sets.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "client_cluster.h"
#include "convert.h"
#include "grpc_test_util.h"
#include "mq/client/pull_consumer.h"

namespace mq::testing {
namespace {

using mq::client::MakeMessage;
using mq::client::PullConsumer;
using mq::client::PullConsumerOptions;

TEST(ClientPullTest, PollSeekAndCommit) {
  ClientCluster cluster;
  ASSERT_TRUE(cluster.Start());
  ASSERT_TRUE(cluster.CreateTopic("PullTopic", 2));
  mq::client::Producer producer(cluster.Producer());
  ASSERT_TRUE(producer.Start().ok());
  for (int i = 0; i < 40; ++i)
    ASSERT_TRUE(producer.Send(MakeMessage("PullTopic", "p" + std::to_string(i))).ok());

  PullConsumerOptions o;
  o.client = cluster.Client();
  o.group = "g-pull";
  o.consume_from_where = mq::client::ConsumeFromWhere::kFirstOffset;
  o.auto_commit = false;
  std::set<std::string> seen;
  {
    PullConsumer consumer(o);
    ASSERT_TRUE(consumer.Start().ok());
    ASSERT_TRUE(consumer.Subscribe("PullTopic").ok());
    EXPECT_EQ(consumer.Assignment().size(), 4u);
    ASSERT_TRUE(PollUntilSeen(consumer, &seen, 40));
    EXPECT_EQ(seen.size(), 40u);
    auto empty = consumer.Poll(300);
    ASSERT_TRUE(empty.ok());
    EXPECT_TRUE(empty->empty());
    // Seek one queue back to 0 and read it again.
    auto q = consumer.Assignment()[0];
    ASSERT_TRUE(consumer.Seek(q, 0).ok());
    auto again = consumer.Poll(1000);
    ASSERT_TRUE(again.ok());
    ASSERT_FALSE(again->empty());
    EXPECT_EQ(again->front().queue, q);
    EXPECT_EQ(again->front().queue_offset, 0);
    ASSERT_TRUE(WaitUntil([&] {
      auto m = consumer.Poll(100);
      return m.ok() && m->empty();
    }));
    ASSERT_TRUE(consumer.Commit().ok());
    consumer.Shutdown();
  }
  ASSERT_TRUE(producer.Send(MakeMessage("PullTopic", "after-commit")).ok());
  PullConsumer resumed(o);
  ASSERT_TRUE(resumed.Start().ok());
  ASSERT_TRUE(resumed.Subscribe("PullTopic").ok());
  std::vector<std::string> later;
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto msgs = resumed.Poll(200);
        if (msgs.ok()) {
          for (const auto& m : *msgs) later.push_back(m.message.body);
        }
        return !later.empty();
      },
      std::chrono::seconds(10)));
  EXPECT_EQ(later, std::vector<std::string>{"after-commit"});
}

// The offsets group committed on both brokers of the cluster for topic's `queues` queues each,
// summed (a queue without a commit counts 0).
int64_t CommittedSum(ClientCluster& cluster, const std::string& group, const std::string& topic, int queues) {
  int64_t sum = 0;
  for (int b = 0; b < 2; ++b) {
    for (int q = 0; q < queues; ++q) {
      mq::v1::QueryConsumerOffsetRequest req;
      req.set_consumer_group(group);
      req.mutable_queue()->set_topic(topic);
      req.mutable_queue()->set_queue_id(q);
      mq::v1::QueryConsumerOffsetResponse resp;
      if (Call(cluster.broker(b).messaging(), &mq::v1::Messaging::Stub::QueryConsumerOffset, req, &resp).ok())
        sum += std::max<int64_t>(resp.offset(), 0);
    }
  }
  return sum;
}

// With auto_commit, each Poll() sends the positions earlier Polls moved without waiting for the
// answers: they reach the brokers with no Commit() or Shutdown(), and the final Commit() waits
// for those still on their way, so a consumer that takes over resumes after the last message.
TEST(ClientPullTest, AutoCommitSendsWhatEarlierPollsReturnedAndCommitWaitsForIt) {
  ClientCluster cluster;
  ASSERT_TRUE(cluster.Start());
  ASSERT_TRUE(cluster.CreateTopic("AutoCommitTopic", 2));
  mq::client::Producer producer(cluster.Producer());
  ASSERT_TRUE(producer.Start().ok());
  constexpr int kN = 40;
  for (int i = 0; i < kN; ++i)
    ASSERT_TRUE(producer.Send(MakeMessage("AutoCommitTopic", "a" + std::to_string(i))).ok());

  PullConsumerOptions o;
  o.client = cluster.Client();
  o.group = "g-auto";
  o.consume_from_where = mq::client::ConsumeFromWhere::kFirstOffset;
  o.pull_batch_size = 4;  // many Polls, each moving one queue
  PullConsumer consumer(o);
  ASSERT_TRUE(consumer.Start().ok());
  ASSERT_TRUE(consumer.Subscribe("AutoCommitTopic").ok());
  std::set<std::string> seen;
  ASSERT_TRUE(PollUntilSeen(consumer, &seen, kN));
  EXPECT_EQ(seen.size(), static_cast<size_t>(kN));
  // Polls made after the last message send its queue's position too; nothing else commits.
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto more = consumer.Poll(0);
        EXPECT_TRUE(more.ok() && more->empty());
        return CommittedSum(cluster, "g-auto", "AutoCommitTopic", 2) == kN;
      },
      std::chrono::seconds(10)))
      << CommittedSum(cluster, "g-auto", "AutoCommitTopic", 2);

  // Messages read and then committed by Commit(), right after Polls whose commits may still be
  // on their way: what the brokers keep is the last position, not an older one landing after.
  for (int i = 0; i < kN; ++i)
    ASSERT_TRUE(producer.Send(MakeMessage("AutoCommitTopic", "b" + std::to_string(i))).ok());
  ASSERT_TRUE(PollUntilSeen(consumer, &seen, 2 * kN));
  EXPECT_EQ(seen.size(), static_cast<size_t>(2 * kN));
  ASSERT_TRUE(consumer.Commit().ok());
  EXPECT_EQ(CommittedSum(cluster, "g-auto", "AutoCommitTopic", 2), 2 * kN);
  consumer.Shutdown();
  EXPECT_EQ(CommittedSum(cluster, "g-auto", "AutoCommitTopic", 2), 2 * kN);
}

void ExpectSameMessage(const mq::client::ReceivedMessage& a, const mq::client::ReceivedMessage& b) {
  EXPECT_EQ(a.message.topic, b.message.topic);
  EXPECT_EQ(a.message.tags, b.message.tags);
  EXPECT_EQ(a.message.keys, b.message.keys);
  EXPECT_EQ(a.message.body, b.message.body);
  EXPECT_EQ(a.message.properties, b.message.properties);
  EXPECT_EQ(a.message.delay_level, b.message.delay_level);
  EXPECT_EQ(a.message.deliver_time_ms, b.message.deliver_time_ms);
  EXPECT_EQ(a.msg_id, b.msg_id);
  EXPECT_EQ(a.offset_msg_id, b.offset_msg_id);
  EXPECT_EQ(a.queue, b.queue);
  EXPECT_EQ(a.queue_offset, b.queue_offset);
  EXPECT_EQ(a.born_timestamp_ms, b.born_timestamp_ms);
  EXPECT_EQ(a.store_timestamp_ms, b.store_timestamp_ms);
  EXPECT_EQ(a.reconsume_times, b.reconsume_times);
  EXPECT_EQ(a.system_properties, b.system_properties);
}

// A push consumer decodes a pull reply into the messages it consumed before (their buffers and
// property nodes reused): each must come out as a freshly decoded one, nothing of the old left.
void ExpectReusedMessagesDecodeAsNew(mq::v1::PullMessageResponse& reply, const std::string& broker_name,
                                     const std::vector<mq::client::ReceivedMessage>& earlier) {
  auto fresh = mq::client::TakePulledMessages(&reply, broker_name);
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  std::vector<mq::client::ReceivedMessage> reused(earlier.rbegin(), earlier.rend());
  for (auto& m : reused) {  // what a consumed message may carry that a stored record does not set
    m.message.delay_level = 3;
    m.message.deliver_time_ms = 5;
    m.message.properties["left over"] = "x";
    m.system_properties["RETRY_TOPIC"] = "old";
    m.reconsume_times = 9;
  }
  reused.front().message.body.assign(1 << 20, 'z');  // a large buffer is not kept for a small body
  ASSERT_GE(reused.size(), fresh->size());
  size_t next = 0;
  ASSERT_TRUE(
      mq::client::DecodePulledMessages(mq::client::PullReplyViewOf(&reply), broker_name, [&](int64_t) {
        return &reused[next++];
      }).ok());
  ASSERT_EQ(next, fresh->size());
  for (size_t i = 0; i < next; ++i) {
    SCOPED_TRACE("reused message " + std::to_string(i));
    ExpectSameMessage(reused[i], (*fresh)[i]);
  }
  EXPECT_LT(reused.front().message.body.capacity(), size_t{1} << 20);
}

// A consumer asks for the stored records (accept_records) and decodes them itself; a client
// that does not ask gets the broker's MessageExt. Both must yield the same message, field by
// field, including keys, user and system properties and the broker-assigned ids.
TEST(ClientPullTest, StoredRecordsDecodeToWhatTheBrokersMessageExtCarries) {
  ClientCluster cluster;
  ASSERT_TRUE(cluster.Start());
  ASSERT_TRUE(cluster.CreateTopic("RecordTopic", 1));
  mq::client::Producer producer(cluster.Producer());
  ASSERT_TRUE(producer.Start().ok());
  constexpr int kMessages = 12;
  for (int i = 0; i < kMessages; ++i) {
    auto m = MakeMessage("RecordTopic", std::string(static_cast<size_t>(100 * i + 1), 'a' + i % 26),
                         i % 3 == 0 ? "" : "Tag" + std::to_string(i % 3));
    if (i % 2 == 0) m.keys = {"k" + std::to_string(i), "shared key"};
    if (i % 4 == 0) m.properties = {{"color", "blue"}, {"n", std::to_string(i)}};
    ASSERT_TRUE(producer.Send(std::move(m)).ok());
  }
  PullConsumerOptions o;
  o.client = cluster.Client();
  o.group = "g-records";
  o.consume_from_where = mq::client::ConsumeFromWhere::kFirstOffset;
  PullConsumer consumer(o);
  ASSERT_TRUE(consumer.Start().ok());
  ASSERT_TRUE(consumer.Subscribe("RecordTopic").ok());
  std::vector<mq::client::ReceivedMessage> got;
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto msgs = consumer.Poll(200);
        if (msgs.ok()) got.insert(got.end(), msgs->begin(), msgs->end());
        return got.size() >= kMessages;
      },
      std::chrono::seconds(20)));
  ASSERT_EQ(got.size(), static_cast<size_t>(kMessages));

  int compared = 0;
  for (int b = 0; b < 2; ++b) {
    const std::string broker_name = b == 0 ? "broker-a" : "broker-b";
    mq::v1::PullMessageRequest req;
    req.set_consumer_group("g-raw");
    req.set_topic("RecordTopic");
    req.set_max_msg_nums(32);
    mq::v1::PullMessageResponse with_records, with_messages;
    {
      req.set_accept_records(true);
      grpc::ClientContext ctx;
      ASSERT_TRUE(cluster.broker(b).messaging()->PullMessage(&ctx, req, &with_records).ok());
    }
    {
      req.set_accept_records(false);
      grpc::ClientContext ctx;
      ASSERT_TRUE(cluster.broker(b).messaging()->PullMessage(&ctx, req, &with_messages).ok());
    }
    EXPECT_EQ(with_records.messages_size(), 0);
    EXPECT_TRUE(with_messages.records().empty());
    if (with_messages.status() != mq::v1::FOUND) continue;
    EXPECT_FALSE(with_records.records().empty());
    for (const auto& ext : with_messages.messages()) {
      const auto& m = ext.message();
      auto it = std::find_if(got.begin(), got.end(), [&](const auto& r) {
        return r.queue.broker_name == broker_name && r.queue_offset == ext.queue_offset();
      });
      ASSERT_NE(it, got.end()) << broker_name << " offset " << ext.queue_offset();
      const mq::client::ReceivedMessage& r = *it;
      SCOPED_TRACE(broker_name + " offset " + std::to_string(ext.queue_offset()));
      EXPECT_EQ(r.message.topic, m.topic());
      EXPECT_EQ(r.message.body, m.body());
      EXPECT_EQ(r.message.tags, m.tags());
      EXPECT_EQ(r.message.keys, std::vector<std::string>(m.keys().begin(), m.keys().end()));
      EXPECT_EQ(r.message.properties,
                (std::map<std::string, std::string>(m.user_properties().begin(), m.user_properties().end())));
      EXPECT_EQ(r.system_properties, (std::map<std::string, std::string>(ext.system_properties().begin(),
                                                                         ext.system_properties().end())));
      EXPECT_EQ(r.msg_id, ext.msg_id());
      EXPECT_FALSE(r.msg_id.empty());
      EXPECT_EQ(r.offset_msg_id, ext.offset_msg_id());
      EXPECT_EQ(r.queue.topic, m.topic());
      EXPECT_EQ(r.queue.queue_id, ext.queue_id());
      EXPECT_EQ(r.born_timestamp_ms, m.born_timestamp());
      EXPECT_EQ(r.store_timestamp_ms, ext.store_timestamp());
      EXPECT_EQ(r.reconsume_times, m.reconsume_times());
      ++compared;
    }
    ExpectReusedMessagesDecodeAsNew(with_records, broker_name, got);
  }
  EXPECT_EQ(compared, kMessages);
}

}  // namespace
}  // namespace mq::testing
