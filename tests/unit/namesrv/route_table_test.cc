#include "namesrv/route_table.h"

#include <gtest/gtest.h>

namespace mq::namesrv {
namespace {

BrokerRegistration Reg(const std::string& cluster, const std::string& name, int64_t id,
                       const std::string& addr, std::vector<std::string> topics, int64_t version = 1,
                       int32_t queues = 4) {
  BrokerRegistration r;
  r.broker = {cluster, name, id, addr, id == 0 ? addr.substr(0, addr.find(':')) + ":10912" : "", "", ""};
  r.data_version = {1000, version, "s"};
  for (auto& t : topics) r.topics.push_back({t, queues, queues, kPermRead | kPermWrite, 0, false, ""});
  return r;
}

class RouteTableTest : public ::testing::Test {
 protected:
  ManualClock clock_;
  RouteTable table_{&clock_, &clock_};
};

TEST_F(RouteTableTest, RegistersAndRoutesMasterAndSlaves) {
  ASSERT_TRUE(table_.RegisterBroker(Reg("c1", "broker-a", 0, "10.0.0.1:10911", {"T1", "T2"})).ok());
  auto slave = table_.RegisterBroker(Reg("c1", "broker-a", 1, "10.0.0.2:10911", {"T1", "T2"}));
  ASSERT_TRUE(slave.ok());
  EXPECT_EQ(slave->master_addr, "10.0.0.1:10911");
  EXPECT_EQ(slave->ha_server_addr, "10.0.0.1:10912");
  ASSERT_TRUE(table_.RegisterBroker(Reg("c1", "broker-b", 0, "10.0.0.3:10911", {"T1"})).ok());

  auto route = table_.PickRoute("T1");
  ASSERT_TRUE(route.ok());
  ASSERT_EQ(route->queue_datas.size(), 2u);
  EXPECT_EQ(route->queue_datas[0].broker_name, "broker-a");
  EXPECT_EQ(route->queue_datas[0].write_queue_nums, 4);
  ASSERT_EQ(route->broker_datas.size(), 2u);
  EXPECT_EQ(route->broker_datas[0].broker_addrs.at(0), "10.0.0.1:10911");
  EXPECT_EQ(route->broker_datas[0].broker_addrs.at(1), "10.0.0.2:10911");
  EXPECT_EQ(table_.PickRoute("T2")->queue_datas.size(), 1u);
  EXPECT_TRUE(table_.PickRoute("Nope").status().IsNotFound());
}

TEST_F(RouteTableTest, RegistrationIsIdempotent) {
  auto reg = Reg("c1", "broker-a", 0, "10.0.0.1:10911", {"T1"});
  ASSERT_TRUE(table_.RegisterBroker(reg).ok());
  ASSERT_TRUE(table_.RegisterBroker(reg).ok());
  auto info = table_.GetClusterInfo();
  EXPECT_EQ(info.live_brokers.size(), 1u);
  EXPECT_EQ(info.broker_addr_table.size(), 1u);
  EXPECT_EQ(table_.PickRoute("T1")->queue_datas.size(), 1u);
}

TEST_F(RouteTableTest, HeartbeatSkipsWhenVersionUnchanged) {
  auto reg = Reg("c1", "broker-a", 0, "10.0.0.1:10911", {"T1"});
  auto hb = table_.Heartbeat(reg.broker, reg.data_version);
  ASSERT_TRUE(hb.ok());
  EXPECT_TRUE(hb->need_full_registration);  // unknown broker
  ASSERT_TRUE(table_.RegisterBroker(reg).ok());
  EXPECT_FALSE(table_.Heartbeat(reg.broker, reg.data_version)->need_full_registration);
  DataVersion newer = reg.data_version;
  newer.counter++;
  EXPECT_TRUE(table_.Heartbeat(reg.broker, newer)->need_full_registration);
}

TEST_F(RouteTableTest, HeartbeatKeepsBrokerAlive) {
  auto reg = Reg("c1", "broker-a", 0, "10.0.0.1:10911", {"T1"});
  ASSERT_TRUE(table_.RegisterBroker(reg).ok());
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(60'000);
    ASSERT_FALSE(table_.Heartbeat(reg.broker, reg.data_version)->need_full_registration);
    EXPECT_TRUE(table_.ExpireInactive(120'000).empty());
  }
  clock_.Advance(120'001);
  EXPECT_EQ(table_.ExpireInactive(120'000).size(), 1u);
  EXPECT_TRUE(table_.PickRoute("T1").status().IsNotFound());
}

TEST_F(RouteTableTest, MasterUpdateReplacesTopicsAndDropsRemovedOnes) {
  ASSERT_TRUE(table_.RegisterBroker(Reg("c1", "broker-a", 0, "10.0.0.1:10911", {"T1", "T2"}, 1)).ok());
  ASSERT_TRUE(table_.RegisterBroker(Reg("c1", "broker-a", 0, "10.0.0.1:10911", {"T1", "T3"}, 2, 8)).ok());
  EXPECT_EQ(table_.PickRoute("T1")->queue_datas[0].read_queue_nums, 8);
  EXPECT_TRUE(table_.PickRoute("T2").status().IsNotFound());
  EXPECT_TRUE(table_.PickRoute("T3").ok());
}

TEST_F(RouteTableTest, SlaveTopicsFillInButNeverOverrideMaster) {
  ASSERT_TRUE(table_.RegisterBroker(Reg("c1", "broker-a", 1, "10.0.0.2:10911", {"T1"}, 1, 2)).ok());
  EXPECT_EQ(table_.PickRoute("T1")->queue_datas[0].read_queue_nums, 2);  // master unknown yet
  ASSERT_TRUE(table_.RegisterBroker(Reg("c1", "broker-a", 0, "10.0.0.1:10911", {"T1"}, 1, 8)).ok());
  ASSERT_TRUE(table_.RegisterBroker(Reg("c1", "broker-a", 1, "10.0.0.2:10911", {"T1"}, 2, 2)).ok());
  EXPECT_EQ(table_.PickRoute("T1")->queue_datas[0].read_queue_nums, 8);
}

TEST_F(RouteTableTest, ASlaveDoesNotBringBackATopicItsRegisteredMasterDeleted) {
  ASSERT_TRUE(table_.RegisterBroker(Reg("c1", "broker-a", 0, "10.0.0.1:10911", {"T1"}, 1)).ok());
  // The slave still lists Gone (it was down when the master deleted it).
  ASSERT_TRUE(table_.RegisterBroker(Reg("c1", "broker-a", 1, "10.0.0.2:10911", {"T1", "Gone"}, 1)).ok());
  EXPECT_TRUE(table_.PickRoute("Gone").status().IsNotFound());
  EXPECT_TRUE(table_.PickRoute("T1").ok());
}

TEST(RouteTableClockTest, ExpiryFollowsTheSteadyClockNotTheWallClock) {
  ManualClock wall, steady;
  RouteTable table(&wall, &steady);
  ASSERT_TRUE(table.RegisterBroker(Reg("c1", "broker-a", 0, "10.0.0.1:10911", {"T1"})).ok());
  ASSERT_TRUE(table.RegisterBroker(Reg("c1", "broker-b", 0, "10.0.0.2:10911", {"T1"})).ok());
  wall.Advance(600'000);  // the wall clock steps forward 10 minutes: nobody is silent for that
  EXPECT_TRUE(table.ExpireInactive(120'000).empty());
  wall.Advance(-3'600'000);  // then back an hour: a broker that goes silent still expires
  steady.Advance(60'000);
  auto b = Reg("c1", "broker-b", 0, "10.0.0.2:10911", {"T1"});
  ASSERT_FALSE(table.Heartbeat(b.broker, b.data_version)->need_full_registration);
  steady.Advance(61'000);
  auto removed = table.ExpireInactive(120'000);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].broker.broker_name, "broker-a");
  // The time shown is the wall clock's.
  EXPECT_EQ(table.GetClusterInfo().live_brokers.at(0).last_update_ms, wall.NowMillis());
}

TEST_F(RouteTableTest, MasterExpiryLeavesSlavesRoutable) {
  ASSERT_TRUE(table_.RegisterBroker(Reg("c1", "broker-a", 0, "10.0.0.1:10911", {"T1"})).ok());
  clock_.Advance(100'000);
  auto slave = Reg("c1", "broker-a", 1, "10.0.0.2:10911", {"T1"});
  ASSERT_TRUE(table_.RegisterBroker(slave).ok());
  clock_.Advance(30'000);
  auto removed = table_.ExpireInactive(120'000);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].broker.broker_id, 0);
  auto route = table_.PickRoute("T1");
  ASSERT_TRUE(route.ok());
  ASSERT_EQ(route->broker_datas.size(), 1u);
  EXPECT_EQ(route->broker_datas[0].broker_addrs.count(0), 0u);
  EXPECT_EQ(route->broker_datas[0].broker_addrs.at(1), "10.0.0.2:10911");
  EXPECT_EQ(table_.Heartbeat(slave.broker, slave.data_version)->master.master_addr, "");
}

TEST_F(RouteTableTest, UnregisterRemovesAddressAndEmptySets) {
  auto master = Reg("c1", "broker-a", 0, "10.0.0.1:10911", {"T1"});
  ASSERT_TRUE(table_.RegisterBroker(master).ok());
  ASSERT_TRUE(table_.UnregisterBroker(master.broker).ok());
  EXPECT_TRUE(table_.PickRoute("T1").status().IsNotFound());
  EXPECT_TRUE(table_.GetClusterInfo().cluster_addr_table.empty());
  EXPECT_TRUE(table_.UnregisterBroker(master.broker).IsNotFound());
}

TEST_F(RouteTableTest, SlavePromotedOnSameAddress) {
  ASSERT_TRUE(table_.RegisterBroker(Reg("c1", "broker-a", 1, "10.0.0.2:10911", {"T1"})).ok());
  ASSERT_TRUE(table_.RegisterBroker(Reg("c1", "broker-a", 0, "10.0.0.2:10911", {"T1"})).ok());
  auto route = table_.PickRoute("T1");
  ASSERT_EQ(route->broker_datas.size(), 1u);
  EXPECT_EQ(route->broker_datas[0].broker_addrs.size(), 1u);
  EXPECT_EQ(route->broker_datas[0].broker_addrs.at(0), "10.0.0.2:10911");
  // The set stays in its cluster: mqadmin's -c verbs resolve masters through it.
  auto clusters = table_.GetClusterInfo().cluster_addr_table;
  ASSERT_EQ(clusters.count("c1"), 1u);
  EXPECT_EQ(clusters.at("c1").count("broker-a"), 1u);
  EXPECT_EQ(*table_.GetAllTopics("c1"), std::vector<std::string>{"T1"});
}

TEST_F(RouteTableTest, WipeAndAddWritePermSurviveHeartbeats) {
  auto reg = Reg("c1", "broker-a", 0, "10.0.0.1:10911", {"T1", "T2"});
  ASSERT_TRUE(table_.RegisterBroker(reg).ok());
  EXPECT_EQ(*table_.WipeWritePerm("broker-a"), 2);
  EXPECT_EQ(table_.PickRoute("T1")->queue_datas[0].perm, kPermRead);
  EXPECT_FALSE(table_.Heartbeat(reg.broker, reg.data_version)->need_full_registration);
  EXPECT_EQ(table_.PickRoute("T1")->queue_datas[0].perm, kPermRead);
  EXPECT_EQ(*table_.AddWritePerm("broker-a"), 2);
  EXPECT_EQ(table_.PickRoute("T1")->queue_datas[0].perm, kPermRead | kPermWrite);
  EXPECT_TRUE(table_.WipeWritePerm("broker-x").status().IsNotFound());
}

TEST_F(RouteTableTest, TopicsPerClusterAndDelete) {
  ASSERT_TRUE(table_.RegisterBroker(Reg("c1", "broker-a", 0, "10.0.0.1:10911", {"T1", "T2"})).ok());
  ASSERT_TRUE(table_.RegisterBroker(Reg("c2", "broker-b", 0, "10.0.0.3:10911", {"T2", "T3"})).ok());
  EXPECT_EQ(*table_.GetAllTopics(""), (std::vector<std::string>{"T1", "T2", "T3"}));
  EXPECT_EQ(*table_.GetAllTopics("c2"), (std::vector<std::string>{"T2", "T3"}));
  EXPECT_TRUE(table_.GetAllTopics("c9").status().IsNotFound());

  ASSERT_TRUE(table_.DeleteTopic("T2", "c1").ok());
  auto t2 = table_.PickRoute("T2");
  ASSERT_EQ(t2->queue_datas.size(), 1u);
  EXPECT_EQ(t2->queue_datas[0].broker_name, "broker-b");
  ASSERT_TRUE(table_.DeleteTopic("T2", "").ok());
  EXPECT_TRUE(table_.PickRoute("T2").status().IsNotFound());
  EXPECT_TRUE(table_.DeleteTopic("T2", "").IsNotFound());
}

TEST_F(RouteTableTest, RejectsBadInputNamingTheField) {
  auto expect_field = [&](BrokerRegistration r, const std::string& field) {
    auto result = table_.RegisterBroker(r);
    ASSERT_FALSE(result.ok()) << field;
    EXPECT_TRUE(result.status().IsInvalidArgument());
    EXPECT_EQ(result.status().message().rfind(field, 0), 0u) << result.status().message();
  };
  auto good = Reg("c1", "broker-a", 0, "10.0.0.1:10911", {"T1"});
  auto r = good;
  r.broker.cluster_name = "";
  expect_field(r, "broker.cluster_name");
  r = good;
  r.broker.broker_name = "bad name";
  expect_field(r, "broker.broker_name");
  r = good;
  r.broker.broker_id = -1;
  expect_field(r, "broker.broker_id");
  r = good;
  r.broker.broker_addr = "10.0.0.1";
  expect_field(r, "broker.broker_addr");
  r = good;
  r.broker.ha_server_addr = "x:99999";
  expect_field(r, "broker.ha_server_addr");
  r = good;
  r.topics[0].topic_name = std::string(128, 't');
  expect_field(r, "topic_configs[0].topic_name");
  r = good;
  r.topics[0].write_queue_nums = -3;
  expect_field(r, "topic_configs[0].write_queue_nums");
  r = good;
  r.topics[0].perm = 99;
  expect_field(r, "topic_configs[0].perm");
  r = good;
  r.topics.push_back(r.topics[0]);
  expect_field(r, "topic_configs[1].topic_name");
  // Nothing was registered by the failed attempts.
  EXPECT_TRUE(table_.GetClusterInfo().live_brokers.empty());
}

TEST_F(RouteTableTest, HundredThousandTopics) {
  std::vector<std::string> topics;
  for (int i = 0; i < 100'000; ++i) topics.push_back("topic_" + std::to_string(i));
  ASSERT_TRUE(table_.RegisterBroker(Reg("c1", "broker-a", 0, "10.0.0.1:10911", topics)).ok());
  EXPECT_EQ(table_.TopicCount(), 100'000u);
  EXPECT_TRUE(table_.PickRoute("topic_99999").ok());
}

}  // namespace
}  // namespace mq::namesrv

namespace mq::namesrv {
namespace {

// Each broker's apache.rocketmq.v2 address travels with its registration and comes back per
// broker id in routes; it leaves with the broker.
TEST_F(RouteTableTest, KeepsEachBrokersV2AddressAndTopicMessageType) {
  BrokerRegistration a = Reg("c1", "broker-a", 0, "10.0.0.1:10911", {"T1"});
  a.broker.grpc_v2_addr = "10.0.0.1:8081";
  a.topics[0].message_type = "FIFO";
  BrokerRegistration b = Reg("c1", "broker-b", 0, "10.0.0.2:10911", {"T1"});
  ASSERT_TRUE(table_.RegisterBroker(a).ok());
  ASSERT_TRUE(table_.RegisterBroker(b).ok());
  auto route = table_.PickRoute("T1");
  ASSERT_TRUE(route.ok());
  ASSERT_EQ(route->broker_datas.size(), 2u);
  for (const auto& data : route->broker_datas) {
    if (data.broker_name == "broker-a") {
      EXPECT_EQ(data.v2_addrs.at(0), "10.0.0.1:8081");
    } else {
      EXPECT_TRUE(data.v2_addrs.empty());
    }
  }
  for (const auto& q : route->queue_datas)
    EXPECT_EQ(q.message_type, q.broker_name == "broker-a" ? "FIFO" : "");

  // A changed v2 address forces a full registration; an empty one removes it.
  BrokerIdentity moved = a.broker;
  moved.grpc_v2_addr = "10.0.0.1:9091";
  auto hb = table_.Heartbeat(moved, a.data_version);
  ASSERT_TRUE(hb.ok());
  EXPECT_TRUE(hb->need_full_registration);
  a.broker.grpc_v2_addr.clear();
  ASSERT_TRUE(table_.RegisterBroker(a).ok());
  // The route is kept in a variable: a range-for over a temporary's member would read it freed.
  auto without_v2 = table_.PickRoute("T1");
  ASSERT_TRUE(without_v2.ok());
  for (const auto& data : without_v2->broker_datas) EXPECT_TRUE(data.v2_addrs.empty());

  a.broker.grpc_v2_addr = "not-an-address";
  auto bad = table_.RegisterBroker(a);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind("broker.grpc_v2_addr", 0), 0u) << bad.status().message();
}

// The fast send port's address travels the same way: per broker id in routes, a change forces
// a full registration, an empty one removes it, a malformed one is refused naming the field.
TEST_F(RouteTableTest, KeepsEachBrokersFastSendAddress) {
  BrokerRegistration a = Reg("c1", "broker-a", 0, "10.0.0.1:10911", {"T1"});
  a.broker.fast_send_addr = "10.0.0.1:10909";
  BrokerRegistration b = Reg("c1", "broker-b", 0, "10.0.0.2:10911", {"T1"});
  ASSERT_TRUE(table_.RegisterBroker(a).ok());
  ASSERT_TRUE(table_.RegisterBroker(b).ok());
  auto route = table_.PickRoute("T1");
  ASSERT_TRUE(route.ok());
  for (const auto& data : route->broker_datas) {
    if (data.broker_name == "broker-a") {
      EXPECT_EQ(data.fast_send_addrs.at(0), "10.0.0.1:10909");
    } else {
      EXPECT_TRUE(data.fast_send_addrs.empty());
    }
  }
  BrokerIdentity moved = a.broker;
  moved.fast_send_addr = "10.0.0.1:20909";
  auto hb = table_.Heartbeat(moved, a.data_version);
  ASSERT_TRUE(hb.ok());
  EXPECT_TRUE(hb->need_full_registration);
  a.broker.fast_send_addr.clear();
  ASSERT_TRUE(table_.RegisterBroker(a).ok());
  auto without_fast = table_.PickRoute("T1");
  ASSERT_TRUE(without_fast.ok());
  for (const auto& data : without_fast->broker_datas) EXPECT_TRUE(data.fast_send_addrs.empty());
  a.broker.fast_send_addr = "10.0.0.1";
  auto bad = table_.RegisterBroker(a);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind("broker.fast_send_addr", 0), 0u) << bad.status().message();
}

}  // namespace
}  // namespace mq::namesrv
