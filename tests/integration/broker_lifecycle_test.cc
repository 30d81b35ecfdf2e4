// Restart, crash and NameServer registration of the real mqbroker.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "broker_fixture.h"
#include "common/file_util.h"
#include "grpc_test_util.h"
#include "namesrv_fixture.h"
#include "testutil/proc_status.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

using namespace std::chrono_literals;
using Stub = mq::v1::Messaging::Stub;
using Admin = mq::v1::BrokerAdmin::Stub;

TEST(BrokerLifecycleTest, GracefulRestartKeepsTopicsGroupsOffsetsAndMessages) {
  TempDir dir;
  BrokerProcess broker({"", dir.path(), "broker-a", {}});
  ASSERT_TRUE(broker.Start()) << broker.process().ReadLog();

  mq::v1::CreateTopicRequest topic;
  topic.mutable_config()->set_topic_name("Durable");
  topic.mutable_config()->set_read_queue_nums(3);
  topic.mutable_config()->set_write_queue_nums(3);
  topic.mutable_config()->set_perm(6);
  mq::v1::CreateTopicResponse topic_resp;
  ASSERT_GRPC_OK(Call(broker.admin(), &Admin::CreateTopic, topic, &topic_resp));
  mq::v1::CreateSubscriptionGroupRequest group;
  group.mutable_config()->set_group_name("durable_group");
  group.mutable_config()->set_consume_enable(true);
  group.mutable_config()->set_retry_max_times(5);
  mq::v1::CreateSubscriptionGroupResponse group_resp;
  ASSERT_GRPC_OK(Call(broker.admin(), &Admin::CreateSubscriptionGroup, group, &group_resp));
  std::vector<mq::v1::Message> batch;
  for (int i = 0; i < 50; ++i) batch.push_back(TextMessage("durable-" + std::to_string(i)));
  ASSERT_GRPC_OK(Send(broker.messaging(), "Durable", 2, batch));
  mq::v1::UpdateConsumerOffsetRequest commit;
  commit.set_consumer_group("durable_group");
  commit.mutable_queue()->set_topic("Durable");
  commit.mutable_queue()->set_queue_id(2);
  commit.set_offset(17);
  mq::v1::UpdateConsumerOffsetResponse commit_resp;
  ASSERT_GRPC_OK(Call(broker.messaging(), &Stub::UpdateConsumerOffset, commit, &commit_resp));

  ASSERT_EQ(broker.Stop(), 0) << broker.process().ReadLog();
  ASSERT_TRUE(broker.Start()) << broker.process().ReadLog();

  mq::v1::GetTopicConfigRequest get_topic;
  get_topic.set_topic("Durable");
  mq::v1::GetTopicConfigResponse got_topic;
  ASSERT_GRPC_OK(Call(broker.admin(), &Admin::GetTopicConfig, get_topic, &got_topic));
  EXPECT_EQ(got_topic.configs(0).read_queue_nums(), 3);
  mq::v1::GetSubscriptionGroupsRequest get_group;
  get_group.set_group("durable_group");
  mq::v1::GetSubscriptionGroupsResponse got_group;
  ASSERT_GRPC_OK(Call(broker.admin(), &Admin::GetSubscriptionGroups, get_group, &got_group));
  EXPECT_EQ(got_group.configs(0).retry_max_times(), 5);
  mq::v1::QueryConsumerOffsetRequest query;
  query.set_consumer_group("durable_group");
  *query.mutable_queue() = commit.queue();
  mq::v1::QueryConsumerOffsetResponse offset;
  ASSERT_GRPC_OK(Call(broker.messaging(), &Stub::QueryConsumerOffset, query, &offset));
  EXPECT_EQ(offset.offset(), 17);
  auto bodies = PullAllBodies(broker.messaging(), "Durable", 2);
  ASSERT_EQ(bodies.size(), 50u);
  EXPECT_EQ(bodies[49], "durable-49");
}

TEST(BrokerLifecycleTest, KillNineInSyncFlushLosesNoAcknowledgedMessage) {
  TempDir dir;
  BrokerProcess broker({"", dir.path(), "broker-a", {"flushDiskType=SYNC_FLUSH"}});
  ASSERT_TRUE(broker.Start()) << broker.process().ReadLog();
  int acked = 0;
  for (int i = 0; i < 200; ++i) {
    mq::v1::SendMessageResponse r;
    if (Send(broker.messaging(), "Crash", 0, {TextMessage("crash-" + std::to_string(i))}, &r).ok() &&
        r.status() == mq::v1::SEND_OK) {
      ++acked;
    }
  }
  ASSERT_EQ(acked, 200);
  broker.process().Kill();  // SIGKILL: no shutdown, no final flush
  ASSERT_TRUE(broker.Start()) << broker.process().ReadLog();
  ASSERT_TRUE(WaitForMaxOffset(broker.messaging(), "Crash", 0, 200));
  auto bodies = PullAllBodies(broker.messaging(), "Crash", 0);
  ASSERT_EQ(bodies.size(), 200u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(bodies[static_cast<size_t>(i)], "crash-" + std::to_string(i));
}

// `top -H` and perf tell the broker's threads apart by name (RocketMQ's service threads are
// named too): the store's threads and the executor's must say what they do.
// Before: consumerOffset.json could be ahead of a commit log that lost its tail (a power cut
// under ASYNC_FLUSH): the lost queue offsets went to new messages, and the group, still at its
// old offset, skipped them.
TEST(BrokerLifecycleTest, AfterTheLogLostItsTailCommittedOffsetsComeBackToTheQueueEnds) {
  TempDir dir;
  BrokerProcess broker({"", dir.path(), "broker-a", {}});
  ASSERT_TRUE(broker.Start()) << broker.process().ReadLog();
  CreateTopic(broker, "Cut", 1);
  mq::v1::SendMessageResponse sent;
  std::vector<mq::v1::Message> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(TextMessage("old-" + std::to_string(i)));
  ASSERT_GRPC_OK(Send(broker.messaging(), "Cut", 0, batch, &sent));
  ASSERT_EQ(sent.entries_size(), 5);
  mq::v1::UpdateConsumerOffsetRequest commit;
  commit.set_consumer_group("cut_group");
  commit.mutable_queue()->set_topic("Cut");
  commit.mutable_queue()->set_queue_id(0);
  commit.set_offset(5);  // consumed all five
  mq::v1::UpdateConsumerOffsetResponse committed;
  ASSERT_GRPC_OK(Call(broker.messaging(), &Stub::UpdateConsumerOffset, commit, &committed));
  ASSERT_EQ(broker.Stop(), 0);  // writes consumerOffset.json
  // The power cut took old-3 and old-4: their records torn, the store's checkpoint lost.
  {
    std::fstream segment(dir.Sub("store/commitlog/") + OffsetToFileName(0),
                         std::ios::in | std::ios::out | std::ios::binary);
    segment.seekp(sent.entries(3).commit_log_offset() + 40);
    segment.write("TORN", 4);
  }
  std::filesystem::remove(dir.Sub("store/checkpoint"));
  ASSERT_TRUE(WriteFileAtomically(dir.Sub("store/abort"), "x").ok());
  ASSERT_TRUE(broker.Start()) << broker.process().ReadLog();

  ASSERT_GRPC_OK(Send(broker.messaging(), "Cut", 0, {TextMessage("new-3"), TextMessage("new-4")}, &sent));
  ASSERT_EQ(sent.queue_offset(), 3);
  mq::v1::QueryConsumerOffsetRequest query;
  query.set_consumer_group("cut_group");
  query.mutable_queue()->set_topic("Cut");
  query.mutable_queue()->set_queue_id(0);
  mq::v1::QueryConsumerOffsetResponse offset;
  ASSERT_GRPC_OK(Call(broker.messaging(), &Stub::QueryConsumerOffset, query, &offset));
  EXPECT_EQ(offset.offset(), 3);
  ASSERT_TRUE(WaitForMaxOffset(broker.messaging(), "Cut", 0, 5));
  mq::v1::PullMessageResponse pulled;
  ASSERT_GRPC_OK(Pull(broker.messaging(), "cut_group", "Cut", 0, offset.offset(), &pulled));
  ASSERT_EQ(pulled.status(), mq::v1::FOUND);
  ASSERT_EQ(pulled.messages_size(), 2);
  EXPECT_EQ(pulled.messages(0).message().body(), "new-3");
}

TEST(BrokerLifecycleTest, ServiceThreadsAreNamedAfterTheirJobs) {
  TempDir dir;
  BrokerProcess broker({"", dir.path(), "broker-a", {}});
  ASSERT_TRUE(broker.Start()) << broker.process().ReadLog();
  const auto names = ThreadNames(broker.process().pid());
  // (mq-flush-watch runs with SYNC_FLUSH only: StoreFlushTest.OnlyASyncFlushStoreRunsTheFlushWatchdog.)
  for (const char* expected : {"mq-dispatch", "mq-flush", "mq-allocate", "mq-store-maint", "mq-schedule",
                               "mq-timer", "mq-txn-check", "mq-persist", "broker"}) {
    EXPECT_EQ(names.count(expected), 1u) << expected << " missing among " << ::testing::PrintToString(names);
  }
  // Only callback services: a synchronous gRPC server's poller thread would also pick up (and
  // hand on) reads of the client port's connections.
  EXPECT_EQ(names.count("grpcpp_sync_ser"), 0u) << ::testing::PrintToString(names);
}

TEST(BrokerRegistrationTest, RegistersEverywhereExpiresAfterKillAndLeavesAtOnceOnSigterm) {
  NamesrvProcess ns1({"--set", "brokerExpiredMillis=2000", "--set", "scanNotActiveBrokerInterval=100"});
  NamesrvProcess ns2({"--set", "brokerExpiredMillis=2000", "--set", "scanNotActiveBrokerInterval=100"});
  ASSERT_TRUE(ns1.started() && ns2.started());
  TempDir dir;
  BrokerProcess broker(
      {ns1.address() + ";" + ns2.address(), dir.path(), "broker-r", {"brokerIP1=127.0.0.7"}});
  ASSERT_TRUE(broker.Start()) << broker.process().ReadLog();
  ASSERT_GRPC_OK(Send(broker.messaging(), "Routed", 0, {TextMessage("x")}));  // auto-creates the topic

  for (auto* ns : {&ns1, &ns2}) {
    mq::v1::TopicRouteData route;
    ASSERT_TRUE(WaitUntil([&] { return QueryRoute(ns->stub(), "Routed", &route).ok(); }, 10s));
    ASSERT_EQ(route.broker_datas_size(), 1);
    // brokerIP1 is what routes advertise.
    EXPECT_EQ(route.broker_datas(0).broker_addrs().at(0).rfind("127.0.0.7:", 0), 0u);
    EXPECT_EQ(route.queue_datas(0).broker_name(), "broker-r");
  }

  // SIGTERM: gone from both at once (no waiting for expiry).
  ASSERT_EQ(broker.Stop(), 0);
  EXPECT_EQ(QueryRoute(ns1.stub(), "Routed").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(QueryRoute(ns2.stub(), "Routed").error_code(), grpc::StatusCode::NOT_FOUND);

  // kill -9: gone after brokerExpiredMillis.
  ASSERT_TRUE(broker.Start()) << broker.process().ReadLog();
  ASSERT_TRUE(WaitUntil([&] { return QueryRoute(ns1.stub(), "Routed").ok(); }, 10s));
  broker.process().Kill();
  EXPECT_TRUE(WaitUntil(
      [&] { return QueryRoute(ns1.stub(), "Routed").error_code() == grpc::StatusCode::NOT_FOUND; }, 10s));
  EXPECT_TRUE(WaitUntil(
      [&] { return QueryRoute(ns2.stub(), "Routed").error_code() == grpc::StatusCode::NOT_FOUND; }, 10s));
}

TEST(BrokerRegistrationTest, NameServerDownDoesNotBlockTheOthers) {
  NamesrvProcess alive;
  ASSERT_TRUE(alive.started());
  TempDir dir;
  // 127.0.0.1:1 refuses connections: registration there fails, the other one must succeed.
  BrokerProcess broker({"127.0.0.1:1;" + alive.address(), dir.path(), "broker-d", {}});
  ASSERT_TRUE(broker.Start()) << broker.process().ReadLog();
  ASSERT_GRPC_OK(Send(broker.messaging(), "Partial", 0, {TextMessage("x")}));
  EXPECT_TRUE(WaitUntil([&] { return QueryRoute(alive.stub(), "Partial").ok(); }, 10s));
}

}  // namespace
}  // namespace mq::testing
