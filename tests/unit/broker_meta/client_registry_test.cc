#include "broker/meta/client_registry.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <thread>

namespace mq::broker {
namespace {

mq::v1::HeartbeatRequest Request(const std::vector<std::string>& producers,
                                 const std::vector<std::string>& consumers,
                                 const std::vector<std::pair<std::string, std::string>>& subs = {
                                     {"T", "*"}}) {
  mq::v1::HeartbeatRequest request;
  for (const auto& p : producers) request.add_producers()->set_group(p);
  for (const auto& c : consumers) {
    auto* data = request.add_consumers();
    data->set_group(c);
    data->set_message_model(mq::v1::CLUSTERING);
    data->set_consume_from_where(mq::v1::CONSUME_FROM_FIRST_OFFSET);
    for (const auto& [topic, expr] : subs) {
      auto* sub = data->add_subscriptions();
      sub->set_topic(topic);
      sub->set_expression(expr);
    }
  }
  return request;
}

class ClientRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_.SetGroupChangedListener([this](const std::string& group, int64_t version) {
      events_.emplace_back(group, version);
      // Runs outside the registry lock: calling back in must not deadlock.
      (void)registry_.ConsumerIds(group);
    });
  }
  std::vector<std::string> Ids(const std::string& group) { return registry_.ConsumerIds(group).first; }
  int64_t Version(const std::string& group) { return registry_.ConsumerIds(group).second; }

  // Time passing moves both clocks; a test steps one alone.
  void Pass(int64_t ms) {
    clock_.Advance(ms);
    steady_.Advance(ms);
  }
  ManualClock clock_;
  ManualClock steady_{0};
  ClientRegistry registry_{&clock_, 120'000, 0, &steady_};
  std::vector<std::pair<std::string, int64_t>> events_;
};

TEST_F(ClientRegistryTest, JoinBumpsVersionAndReturnsIt) {
  EXPECT_EQ(Version("G"), 0);
  auto versions = registry_.Heartbeat("c1", "10.0.0.1:1", Request({"P"}, {"G"}));
  ASSERT_EQ(versions.size(), 1u);
  int64_t v1 = versions.at("G");
  EXPECT_GT(v1, 0);
  EXPECT_EQ(Ids("G"), (std::vector<std::string>{"c1"}));
  EXPECT_EQ(Version("G"), v1);
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0], std::make_pair(std::string("G"), v1));

  auto v2 = registry_.Heartbeat("c0", "10.0.0.2:1", Request({}, {"G"})).at("G");
  EXPECT_GT(v2, v1);
  EXPECT_EQ(Ids("G"), (std::vector<std::string>{"c0", "c1"})) << "sorted";
  EXPECT_EQ(events_.size(), 2u);
}

TEST_F(ClientRegistryTest, RepeatedHeartbeatDoesNotChangeVersion) {
  auto v = registry_.Heartbeat("c1", "a", Request({}, {"G"})).at("G");
  Pass(30'000);
  EXPECT_EQ(registry_.Heartbeat("c1", "a", Request({}, {"G"})).at("G"), v);
  EXPECT_EQ(events_.size(), 1u);
  EXPECT_EQ(registry_.ConsumerConnections("G")[0].last_heartbeat_ms, clock_.NowMillis());
}

TEST_F(ClientRegistryTest, SubscriptionChangeBumpsVersion) {
  auto v1 = registry_.Heartbeat("c1", "a", Request({}, {"G"}, {{"T", "*"}})).at("G");
  auto v2 = registry_.Heartbeat("c1", "a", Request({}, {"G"}, {{"T", "TagA"}})).at("G");
  EXPECT_GT(v2, v1);
  // Same subscriptions in another order are not a change.
  auto v3 = registry_.Heartbeat("c1", "a", Request({}, {"G"}, {{"U", "*"}, {"T", "TagA"}})).at("G");
  EXPECT_GT(v3, v2);
  auto v4 = registry_.Heartbeat("c1", "a", Request({}, {"G"}, {{"T", "TagA"}, {"U", "*"}})).at("G");
  EXPECT_EQ(v4, v3);
  // The same text in another expression language is another subscription.
  auto sql = Request({}, {"G"}, {{"T", "TagA"}, {"U", "*"}});
  sql.mutable_consumers(0)->mutable_subscriptions(0)->set_expression_type("SQL92");
  EXPECT_GT(registry_.Heartbeat("c1", "a", sql).at("G"), v4);
}

TEST_F(ClientRegistryTest, LeavingGroupsNoLongerNamed) {
  registry_.Heartbeat("c1", "a", Request({"P1", "P2"}, {"G1", "G2"}));
  registry_.Heartbeat("c2", "b", Request({}, {"G1"}));
  auto v_before = Version("G1");
  events_.clear();
  registry_.Heartbeat("c1", "a", Request({"P2"}, {"G2"}));
  EXPECT_EQ(Ids("G1"), (std::vector<std::string>{"c2"}));
  EXPECT_GT(Version("G1"), v_before);
  EXPECT_EQ(registry_.ProducerGroups(), (std::vector<std::string>{"P2"}));
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].first, "G1");
}

TEST_F(ClientRegistryTest, VersionsNeverRepeatAfterGroupEmptiesAndRefills) {
  auto v1 = registry_.Heartbeat("c1", "a", Request({}, {"G"})).at("G");
  registry_.Unregister("c1", {}, {"G"});
  EXPECT_EQ(Version("G"), 0);
  EXPECT_TRUE(Ids("G").empty());
  EXPECT_EQ(events_.back(), std::make_pair(std::string("G"), int64_t{0}));
  EXPECT_TRUE(registry_.ConsumerGroups().empty());
  auto v2 = registry_.Heartbeat("c1", "a", Request({}, {"G"})).at("G");
  EXPECT_GT(v2, v1);
}

TEST_F(ClientRegistryTest, UnregisterOnlyNamedGroups) {
  registry_.Heartbeat("c1", "a", Request({"P"}, {"G1", "G2"}));
  registry_.Unregister("c1", {"P"}, {"G1"});
  EXPECT_TRUE(Ids("G1").empty());
  EXPECT_EQ(Ids("G2"), (std::vector<std::string>{"c1"}));
  EXPECT_TRUE(registry_.ProducerConnections("P").empty());
  EXPECT_EQ(registry_.ClientCount(), 1u);
  registry_.Unregister("c1", {}, {"G2"});
  EXPECT_EQ(registry_.ClientCount(), 0u);
  registry_.Unregister("unknown", {"P"}, {"G"});  // no-op
}

// Before: expiry followed the wall clock, so a step forward over channelExpiredTimeout expired
// every client at once (and their orderly queue locks with them: two consumers then took one
// queue), and a step back kept a dead client registered for the step.
TEST_F(ClientRegistryTest, ExpiryFollowsTheSteadyClockNotTheWallClock) {
  registry_.Heartbeat("c1", "a", Request({}, {"G"}));
  clock_.Advance(3'600'000);
  EXPECT_TRUE(registry_.ExpireClients().empty()) << "the wall clock stepped an hour forward";
  EXPECT_EQ(registry_.ConsumerConnections("G")[0].last_heartbeat_ms, clock_.NowMillis() - 3'600'000)
      << "the time shown is the wall clock's";
  clock_.Advance(-7'200'000);
  steady_.Advance(120'001);
  EXPECT_EQ(registry_.ExpireClients(), (std::vector<std::string>{"c1"})) << "stepped back, still expires";
}

TEST_F(ClientRegistryTest, ExpiresSilentClients) {
  registry_.Heartbeat("old", "a", Request({"P"}, {"G"}));
  Pass(60'000);
  registry_.Heartbeat("new", "b", Request({}, {"G"}));
  Pass(60'000);
  EXPECT_TRUE(registry_.ExpireClients().empty()) << "exactly at the timeout is still alive";
  Pass(1);
  auto v_before = Version("G");
  events_.clear();
  EXPECT_EQ(registry_.ExpireClients(), (std::vector<std::string>{"old"}));
  EXPECT_EQ(Ids("G"), (std::vector<std::string>{"new"}));
  EXPECT_GT(Version("G"), v_before);
  EXPECT_TRUE(registry_.ProducerGroups().empty());
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].first, "G");
  Pass(60'000);
  EXPECT_EQ(registry_.ExpireClients(), (std::vector<std::string>{"new"}));
  EXPECT_EQ(Version("G"), 0);
  EXPECT_EQ(registry_.ClientCount(), 0u);
}

TEST_F(ClientRegistryTest, ConnectionsAndGroupInfo) {
  auto req = Request({"P"}, {"G"}, {{"T", "TagA"}});
  req.mutable_consumers(0)->set_orderly(true);
  registry_.Heartbeat("c1", "10.0.0.1:5000", req);
  Pass(5);
  auto req2 = Request({}, {"G"}, {{"T", "TagB"}, {"U", "*"}});
  req2.mutable_consumers(0)->set_message_model(mq::v1::BROADCASTING);
  registry_.Heartbeat("c2", "10.0.0.2:5000", req2);

  auto consumers = registry_.ConsumerConnections("G");
  ASSERT_EQ(consumers.size(), 2u);
  EXPECT_EQ(consumers[0].client_id, "c1");
  EXPECT_EQ(consumers[0].address, "10.0.0.1:5000");
  EXPECT_TRUE(consumers[0].orderly);
  EXPECT_EQ(consumers[0].consume_from_where, mq::v1::CONSUME_FROM_FIRST_OFFSET);
  ASSERT_EQ(consumers[0].subscriptions.size(), 1u);
  EXPECT_EQ(consumers[0].subscriptions[0].expression(), "TagA");
  EXPECT_EQ(consumers[1].last_heartbeat_ms, clock_.NowMillis());
  EXPECT_EQ(consumers[1].message_model, mq::v1::BROADCASTING);

  auto producers = registry_.ProducerConnections("P");
  ASSERT_EQ(producers.size(), 1u);
  EXPECT_EQ(producers[0].address, "10.0.0.1:5000");

  auto info = registry_.ConsumerGroup("G");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->message_model, mq::v1::BROADCASTING) << "from the latest heartbeat";
  EXPECT_EQ(info->version, Version("G"));
  ASSERT_EQ(info->subscriptions.size(), 2u);
  EXPECT_EQ(info->subscriptions[0].topic(), "T");
  EXPECT_EQ(info->subscriptions[0].expression(), "TagB") << "most recent member wins";
  EXPECT_EQ(info->subscriptions[1].topic(), "U");
  EXPECT_EQ(registry_.Subscriptions("G").size(), 2u);
  EXPECT_FALSE(registry_.ConsumerGroup("none"));
  EXPECT_EQ(registry_.ConsumerGroups(), (std::vector<std::string>{"G"}));
}

TEST_F(ClientRegistryTest, DuplicateTopicInOneConsumerKeepsTheLastEntry) {
  registry_.Heartbeat("c1", "a", Request({}, {"G"}, {{"T", "A"}, {"T", "B"}}));
  auto subs = registry_.Subscriptions("G");
  ASSERT_EQ(subs.size(), 1u);
  EXPECT_EQ(subs[0].expression(), "B");
}

TEST_F(ClientRegistryTest, EmptyGroupNamesAreIgnored) {
  auto versions = registry_.Heartbeat("c1", "a", Request({""}, {""}));
  EXPECT_TRUE(versions.empty());
  EXPECT_TRUE(registry_.ConsumerGroups().empty());
  EXPECT_TRUE(registry_.ProducerGroups().empty());
}

TEST_F(ClientRegistryTest, ConcurrentHeartbeatsKeepDistinctVersions) {
  ClientRegistry registry(&clock_);
  std::mutex mu;
  std::vector<int64_t> versions;
  registry.SetGroupChangedListener([&](const std::string&, int64_t version) {
    std::lock_guard lock(mu);
    if (version != 0) versions.push_back(version);
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&registry, t] {
      for (int i = 0; i < 200; ++i) {
        std::string id = "c" + std::to_string(t) + "-" + std::to_string(i);
        registry.Heartbeat(id, "a", Request({"P"}, {"G"}));
        if (i % 2 == 0) registry.Unregister(id, {"P"}, {"G"});
      }
    });
  }
  for (auto& th : threads) th.join();
  auto [ids, version] = registry.ConsumerIds("G");
  EXPECT_EQ(ids.size(), 400u);
  std::sort(versions.begin(), versions.end());
  EXPECT_EQ(std::adjacent_find(versions.begin(), versions.end()), versions.end()) << "no version repeats";
  ASSERT_FALSE(versions.empty());
  EXPECT_EQ(version, versions.back()) << "the last change is the current version";
  EXPECT_EQ(registry.ProducerConnections("P").size(), 400u);
}

TEST_F(ClientRegistryTest, TryHeartbeatRefusesNewClientsPastMaxClients) {
  ClientRegistry registry(&clock_, /*channel_expired_timeout_ms=*/1000, /*max_clients=*/2, &steady_);
  ASSERT_TRUE(registry.TryHeartbeat("c1", "a", Request({"P"}, {"G"})).ok());
  ASSERT_TRUE(registry.TryHeartbeat("c2", "b", Request({"P"}, {})).ok());
  auto full = registry.TryHeartbeat("c3", "c", Request({}, {"G"}));
  ASSERT_EQ(full.status().code(), StatusCode::kResourceExhausted) << full.status().ToString();
  EXPECT_EQ(full.status().message().rfind("client_id: cannot register 'c3'", 0), 0u)
      << full.status().message();
  EXPECT_NE(full.status().message().find("maxClientCount=2"), std::string::npos);
  EXPECT_EQ(registry.ClientCount(), 2u);
  EXPECT_EQ(registry.ConsumerIds("G").first, std::vector<std::string>{"c1"});
  // Known clients keep heartbeating; once one expires a new one fits.
  auto again = registry.TryHeartbeat("c1", "a", Request({"P"}, {"G"}));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->count("G"), 1u);
  Pass(1500);
  ASSERT_TRUE(registry.TryHeartbeat("c1", "a", Request({"P"}, {"G"})).ok());
  EXPECT_EQ(registry.ExpireClients(), std::vector<std::string>{"c2"});
  EXPECT_TRUE(registry.TryHeartbeat("c3", "c", Request({}, {"G"})).ok());
}

}  // namespace
}  // namespace mq::broker
