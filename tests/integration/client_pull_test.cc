// The lite pull consumer against 1 NameServer + 2 broker sets.
#include <gtest/gtest.h>

#include <set>

#include "client_cluster.h"
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
  mq::client::ProducerOptions po;
  po.client = cluster.Client();
  mq::client::Producer producer(po);
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
    ASSERT_TRUE(WaitUntil(
        [&] {
          auto msgs = consumer.Poll(200);
          if (!msgs.ok()) return false;
          for (const auto& m : *msgs) seen.insert(m.message.body);
          return seen.size() == 40;
        },
        std::chrono::seconds(20)));
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

}  // namespace
}  // namespace mq::testing
