#include "route_info.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>

#include "common/clock.h"
#include "convert.h"
#include "latency_fault.h"

namespace mq::client {
namespace {

mq::v1::TopicRouteData Route() {
  mq::v1::TopicRouteData r;
  auto add = [&](const std::string& name, int32_t w, int32_t rd, int32_t perm, bool master) {
    auto* qd = r.add_queue_datas();
    qd->set_broker_name(name);
    qd->set_write_queue_nums(w);
    qd->set_read_queue_nums(rd);
    qd->set_perm(perm);
    auto* bd = r.add_broker_datas();
    bd->set_broker_name(name);
    (*bd->mutable_broker_addrs())[master ? 0 : 1] = name + ":1";
  };
  add("broker-b", 2, 3, 6, true);
  add("broker-a", 2, 2, 6, true);
  add("broker-ro", 4, 4, 4, true);      // read only
  add("broker-slave", 4, 4, 6, false);  // no master
  return r;
}

TEST(RouteInfoTest, PublishQueuesAreWritableMastersSorted) {
  auto q = PublishQueues("T", Route());
  ASSERT_EQ(q.size(), 4u);
  EXPECT_EQ(q[0].ToString(), "T@broker-a#0");
  EXPECT_EQ(q[3].ToString(), "T@broker-b#1");
  // Reads go on from a set whose master is away (broker-slave has only a slave).
  auto s = SubscribeQueues("T", Route());
  EXPECT_EQ(s.size(), 2u + 3u + 4u + 4u);
  for (const auto& mq : q) EXPECT_NE(mq.broker_name, "broker-slave");
  EXPECT_EQ(CountBrokers(q), 2);
  EXPECT_EQ(CountBrokers({}), 0);
  EXPECT_EQ(MasterAddress(Route(), "broker-a"), "broker-a:1");
  EXPECT_EQ(MasterAddress(Route(), "broker-slave"), "");
  // The fast send port only where the master advertises one.
  auto route = Route();
  (*route.mutable_broker_datas(1)->mutable_fast_send_addrs())[0] = "broker-a:2";
  (*route.mutable_broker_datas(3)->mutable_fast_send_addrs())[1] = "broker-slave:2";
  EXPECT_EQ(MasterFastSendAddress(route, "broker-a"), "broker-a:2");
  EXPECT_EQ(MasterFastSendAddress(route, "broker-b"), "");
  EXPECT_EQ(MasterFastSendAddress(route, "broker-slave"), "");
}

// A send reuses the topic's publish queues while the route snapshot is the same one, and gets
// them rebuilt from a new snapshot (a new answer from the NameServers).
TEST(RouteInfoTest, PublishRouteCacheRebuildsOnlyForANewSnapshot) {
  PublishRouteCache cache;
  auto snapshot = std::make_shared<const mq::v1::TopicRouteData>(Route());
  auto first = cache.Get("T", snapshot);
  EXPECT_EQ(first->route, snapshot);
  EXPECT_EQ(first->queues, PublishQueues("T", *snapshot));
  EXPECT_EQ(cache.Get("T", snapshot), first);  // the same object: no copy, no sort
  auto changed = Route();
  changed.mutable_queue_datas(0)->set_write_queue_nums(1);
  auto second = cache.Get("T", std::make_shared<const mq::v1::TopicRouteData>(changed));
  EXPECT_NE(second, first);
  EXPECT_EQ(second->queues, PublishQueues("T", changed));
  EXPECT_NE(second->queues.size(), first->queues.size());
  EXPECT_EQ(cache.Get("U", snapshot)->queues, PublishQueues("U", *snapshot));  // per topic
}

TEST(RouteInfoTest, SelectorRoundRobinsAndAvoidsLastAndFaultyBrokers) {
  auto q = PublishQueues("T", Route());
  QueueSelector sel;
  std::map<std::string, int> hits;
  for (int i = 0; i < 40; ++i) hits[sel.Select(q, "", nullptr).ToString()]++;
  for (const auto& mq : q) EXPECT_EQ(hits[mq.ToString()], 10);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(sel.Select(q, "broker-a", nullptr).broker_name, "broker-b");
  ManualClock clock;
  LatencyFaultTolerance faults(&clock);
  faults.Update("broker-b", 0, true);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(sel.Select(q, "", &faults).broker_name, "broker-a");
  // Everything excluded: still returns a queue, preferring another broker than the last.
  faults.Update("broker-a", 0, true);
  EXPECT_EQ(sel.Select(q, "broker-a", &faults).broker_name, "broker-b");
  clock.Advance(30'001);
  EXPECT_TRUE(faults.IsAvailable("broker-a"));
}

TEST(RouteInfoTest, BalancedSelectorEvensOutMessageCountsOverBatchesOfAnySize) {
  auto q = PublishQueues("T", Route());
  ASSERT_EQ(q.size(), 4u);
  QueueSelector sel;
  std::map<std::string, int64_t> given;
  // Batches of very different sizes: per-request round robin would give one queue all the
  // large ones.
  for (int i = 0; i < 400; ++i) {
    const int64_t batch = (i % 4 == 0) ? 200 : 1;
    given[sel.SelectBalanced(q, "", nullptr, batch).ToString()] += batch;
  }
  int64_t lo = INT64_MAX, hi = 0;
  for (const auto& [name, n] : given) {
    lo = std::min(lo, n);
    hi = std::max(hi, n);
  }
  EXPECT_EQ(given.size(), 4u);
  EXPECT_LE(hi - lo, 200) << "within one batch of each other";

  // The last broker and isolated brokers are avoided, as by Select.
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(sel.SelectBalanced(q, "broker-a", nullptr, 1).broker_name, "broker-b");
  ManualClock clock;
  LatencyFaultTolerance faults(&clock);
  faults.Update("broker-b", 0, true);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(sel.SelectBalanced(q, "", &faults, 50).broker_name, "broker-a");

  // A queue that appears later starts level with the others instead of taking everything.
  auto more = q;
  more.push_back(MessageQueue{"T", "broker-c", 0});
  std::map<std::string, int> picks;
  for (int i = 0; i < 50; ++i) picks[sel.SelectBalanced(more, "", nullptr, 10).broker_name]++;
  EXPECT_LT(picks["broker-c"], 30);
}

TEST(LatencyFaultTest, SlowBrokersAreIsolatedByLatencyStep) {
  EXPECT_EQ(LatencyFaultTolerance::IsolationFor(10), 0);
  EXPECT_EQ(LatencyFaultTolerance::IsolationFor(549), 0);
  EXPECT_EQ(LatencyFaultTolerance::IsolationFor(550), 30'000);
  EXPECT_EQ(LatencyFaultTolerance::IsolationFor(2500), 120'000);
  EXPECT_EQ(LatencyFaultTolerance::IsolationFor(20'000), 600'000);
  ManualClock clock;
  LatencyFaultTolerance faults(&clock);
  faults.Update("a", 1200, false);
  EXPECT_FALSE(faults.IsAvailable("a"));
  clock.Advance(60'000);
  EXPECT_TRUE(faults.IsAvailable("a"));
  faults.Update("a", 1200, false);
  faults.Update("a", 5, false);  // a fast answer clears the isolation
  EXPECT_TRUE(faults.IsAvailable("a"));
}

std::vector<MessageQueue> MakeQueues(int n) {
  std::vector<MessageQueue> out;
  for (int i = 0; i < n; ++i) out.push_back(MessageQueue{"T", i < n / 2 ? "a" : "b", i});
  return out;
}

TEST(AllocateTest, AveragelySplitsContiguouslyAndCoversEveryQueueOnce) {
  for (int nq : {1, 3, 8, 10}) {
    for (int nc : {1, 2, 3, 5, 12}) {
      std::vector<std::string> cids;
      for (int c = 0; c < nc; ++c) cids.push_back("cid-" + std::to_string(c));
      std::map<std::string, int> owners;
      size_t max_share = 0, min_share = 1000;
      for (const auto& me : cids) {
        auto mine = AllocateAveragely(MakeQueues(nq), cids, me);
        max_share = std::max(max_share, mine.size());
        min_share = std::min(min_share, mine.size());
        for (const auto& q : mine) owners[q.ToString()]++;
      }
      EXPECT_EQ(owners.size(), static_cast<size_t>(nq)) << nq << " queues, " << nc << " consumers";
      for (const auto& [q, n] : owners) EXPECT_EQ(n, 1) << q;
      EXPECT_LE(max_share - min_share, 1u);
    }
  }
  EXPECT_TRUE(AllocateAveragely(MakeQueues(4), {"x"}, "not-a-member").empty());
  // Input order does not matter: both sides sort.
  auto a = AllocateAveragely(MakeQueues(8), {"c2", "c1"}, "c1");
  ASSERT_EQ(a.size(), 4u);
  EXPECT_EQ(a[0].queue_id, 0);
}

TEST(TagFilterTest, ParsesStarAndAlternatives) {
  auto all = TagFilter::Parse("*");
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->Matches("anything"));
  EXPECT_TRUE(all->Matches(""));
  auto some = TagFilter::Parse(" TagA || TagB ");
  ASSERT_TRUE(some.ok());
  EXPECT_TRUE(some->Matches("TagA"));
  EXPECT_TRUE(some->Matches("TagB"));
  EXPECT_FALSE(some->Matches("TagC"));
  EXPECT_FALSE(some->Matches(""));
  EXPECT_EQ(some->expression(), "TagA || TagB");
  auto trailing = TagFilter::Parse("TagA ||");  // RocketMQ's FilterAPI skips the empty alternative
  ASSERT_TRUE(trailing.ok());
  EXPECT_EQ(trailing->expression(), "TagA");
  EXPECT_FALSE(TagFilter::Parse("||").ok());
  EXPECT_FALSE(TagFilter::Parse("TagA | TagB").ok());
}

TEST(ValidateMessageTest, RejectsBadTopicEmptyAndOversizeBodies) {
  Message m = MakeMessage("T", "x");
  EXPECT_TRUE(ValidateMessage(m, 10).ok());
  m.topic = "bad topic!";
  EXPECT_EQ(ValidateMessage(m, 10).code(), StatusCode::kInvalidArgument);
  m.topic = "T";
  m.body.clear();
  EXPECT_NE(ValidateMessage(m, 10).message().find("body"), std::string::npos);
  m.body = std::string(11, 'x');
  EXPECT_NE(ValidateMessage(m, 10).message().find("exceed"), std::string::npos);
  m.body = "x";
  m.delay_level = 19;
  EXPECT_FALSE(ValidateMessage(m, 10).ok());
}

// A scheduled message is sent alone (the broker refuses batches holding one), so every way
// RocketMQ names a delivery time must be seen.
TEST(IsScheduledTest, DeliverTimeOrAnyTimerPropertySchedulesOthersDoNot) {
  Message m = MakeMessage("T", "x");
  EXPECT_FALSE(IsScheduled(m));
  m.properties["a"] = "1";
  m.properties["TIMER_DELIVER_MS_NOT"] = "1";
  EXPECT_FALSE(IsScheduled(m));
  for (const char* key : {"TIMER_DELIVER_MS", "__STARTDELIVERTIME", "TIMER_DELAY_SEC", "TIMER_DELAY_MS"}) {
    Message timed = m;
    timed.properties[key] = "1000";
    EXPECT_TRUE(IsScheduled(timed)) << key;
  }
  m.deliver_time_ms = 1;
  EXPECT_TRUE(IsScheduled(m));
}

}  // namespace
}  // namespace mq::client
