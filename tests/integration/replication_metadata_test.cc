// What reaches a slave besides the log, with real processes: topics, groups and offsets (both
// ways), deletions, the transaction scan's positions, and committed transactions on a
// SYNC_MASTER. See docs/replication.md.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>

#include "common/file_util.h"
#include "process_pause.h"
#include "replication_fixture.h"

namespace mq::testing {
namespace {

TEST_F(ReplicationTest, MetadataReachesSlave) {
  auto master = StartMaster();
  auto slave = StartSlave(slave1_dir_, 1);
  ASSERT_TRUE(WaitSlaves(*master, 1, slave.get()));
  CreateTopic(*master, "MetaTopic", 2);
  mq::v1::CreateSubscriptionGroupRequest group;
  group.mutable_config()->set_group_name("meta_group");
  group.mutable_config()->set_consume_enable(true);
  group.mutable_config()->set_retry_max_times(7);
  group.mutable_config()->set_which_broker_when_consume_slowly(1);
  mq::v1::CreateSubscriptionGroupResponse group_resp;
  ASSERT_GRPC_OK(
      Call(master->admin(), &mq::v1::BrokerAdmin::Stub::CreateSubscriptionGroup, group, &group_resp));
  ASSERT_GRPC_OK(CommitOffset(*master, "meta_group", "MetaTopic", 1, 42));

  EXPECT_TRUE(WaitUntil([&] { return HasTopic(*slave, "MetaTopic"); }));
  EXPECT_TRUE(WaitUntil([&] {
    mq::v1::GetSubscriptionGroupsRequest req;
    req.set_group("meta_group");
    mq::v1::GetSubscriptionGroupsResponse resp;
    return Call(slave->admin(), &mq::v1::BrokerAdmin::Stub::GetSubscriptionGroups, req, &resp).ok() &&
           resp.configs_size() == 1 && resp.configs(0).retry_max_times() == 7;
  }));
  EXPECT_TRUE(WaitUntil([&] { return QueryOffset(*slave, "meta_group", "MetaTopic", 1) == 42; }));
}

// The transaction check-back scan's positions reach the slave, so a slave promoted (restarted
// as the master) resumes the scan about where its master was.
TEST_F(ReplicationTest, TransactionScanPositionsReachTheSlave) {
  auto master = StartMaster();
  auto slave = StartSlave(slave1_dir_, 1);
  ASSERT_TRUE(WaitSlaves(*master, 1, slave.get()));
  CreateTopic(*master, "TxnRepl", 1);
  const mq::v1::EndTransactionRequest end = SendHalf(*master, "TxnRepl", "half");
  mq::v1::EndTransactionResponse ended;
  ASSERT_GRPC_OK(Call(master->messaging(), &Stub::EndTransaction, end, &ended));
  // The master's scan passes the ended half and writes its positions; the slave takes them.
  const std::string master_file = master_dir_.path() + "/store/config/transactionProgress";
  const std::string slave_file = slave1_dir_.path() + "/store/config/transactionProgress";
  auto content = [](const std::string& path) -> std::string {
    auto r = ReadFileToString(path);
    return r.ok() ? *r : "(none)";
  };
  EXPECT_TRUE(WaitUntil([&] { return content(slave_file).find("halfOffset=1\n") != std::string::npos; }, 20s))
      << "master: " << content(master_file) << " slave: " << content(slave_file);
}

// Before: on a SYNC_MASTER a transaction's commit was answered before the slaves held the
// committed message (only sends waited for them), so a master lost right after the answer could
// take the message with it. Now the answer waits for the slave (here: paused, then resumed).
TEST_F(ReplicationTest, SyncMasterAnswersACommitOnceTheSlaveHoldsTheMessage) {
  auto master = StartBroker(master_dir_.path(), "SYNC_MASTER", 0, {"syncFlushTimeout=20000"});
  auto slave = StartSlave(slave1_dir_, 1);
  ASSERT_TRUE(WaitSlaves(*master, 1, slave.get()));
  CreateTopic(*master, "TxnSync", 1);
  // The slave serves the topic only once its config arrived, which no sync brings after the kill.
  ASSERT_TRUE(WaitUntil([&] { return HasTopic(*slave, "TxnSync"); }));
  const mq::v1::EndTransactionRequest end = SendHalf(*master, "TxnSync", "committed");

  ProcessPause pause({&slave->process()});
  std::atomic<bool> answered{false};
  grpc::Status end_status;
  std::thread ender([&] {
    mq::v1::EndTransactionResponse ended;
    end_status = Call(master->messaging(), &Stub::EndTransaction, end, &ended);
    answered = true;
  });
  // The master stores the committed message at once; the answer must wait for the slave.
  EXPECT_TRUE(WaitUntil([&] { return !PullN(master->messaging(), "TxnSync", 0, 0, 1).empty(); }));
  EXPECT_FALSE(WaitUntil([&] { return answered.load(); }, 1s)) << "answered while the slave was paused";
  pause.Resume();
  ASSERT_TRUE(WaitUntil([&] { return answered.load(); }, 20s));
  ender.join();
  ASSERT_TRUE(end_status.ok()) << end_status.error_message();
  master->process().Kill();
  auto got = PullN(slave->messaging(), "TxnSync", 0, 0, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].message().body(), "committed");
}

// What mqadmin deleteTopic and deleteSubGroup --removeOffsets remove on the master goes from the
// slave too, and later syncs do not bring the offsets back to the master.
TEST_F(ReplicationTest, DeletionsOnTheMasterReachTheSlaveAndStay) {
  auto master = StartMaster();
  auto slave = StartSlave(slave1_dir_, 1);
  ASSERT_TRUE(WaitSlaves(*master, 1, slave.get()));
  CreateTopic(*master, "Doomed", 1);
  CreateTopic(*master, "Live", 1);
  mq::v1::CreateSubscriptionGroupRequest group;
  group.mutable_config()->set_group_name("doomed_group");
  group.mutable_config()->set_consume_enable(true);
  mq::v1::CreateSubscriptionGroupResponse group_resp;
  ASSERT_GRPC_OK(
      Call(master->admin(), &mq::v1::BrokerAdmin::Stub::CreateSubscriptionGroup, group, &group_resp));
  ASSERT_GRPC_OK(CommitOffset(*master, "doomed_group", "Live", 0, 42));
  auto slave_has_group = [&] {
    mq::v1::GetSubscriptionGroupsRequest req;
    req.set_group("doomed_group");
    mq::v1::GetSubscriptionGroupsResponse resp;
    return Call(slave->admin(), &mq::v1::BrokerAdmin::Stub::GetSubscriptionGroups, req, &resp).ok() &&
           resp.configs_size() == 1;
  };
  ASSERT_TRUE(WaitUntil([&] {
    return HasTopic(*slave, "Doomed") && slave_has_group() &&
           QueryOffset(*slave, "doomed_group", "Live", 0) == 42;
  }));

  mq::v1::DeleteTopicOnBrokerRequest del_topic;
  del_topic.set_topic("Doomed");
  mq::v1::DeleteTopicOnBrokerResponse del_topic_resp;
  ASSERT_GRPC_OK(Call(master->admin(), &mq::v1::BrokerAdmin::Stub::DeleteTopic, del_topic, &del_topic_resp));
  mq::v1::DeleteSubscriptionGroupRequest del_group;
  del_group.set_group("doomed_group");
  del_group.set_remove_offsets(true);
  mq::v1::DeleteSubscriptionGroupResponse del_group_resp;
  ASSERT_GRPC_OK(
      Call(master->admin(), &mq::v1::BrokerAdmin::Stub::DeleteSubscriptionGroup, del_group, &del_group_resp));
  EXPECT_TRUE(WaitUntil([&] {
    return !HasTopic(*slave, "Doomed") && !slave_has_group() &&
           !QueryOffset(*slave, "doomed_group", "Live", 0).has_value();
  })) << slave->process().ReadLog();

  // Two more syncs, each prompted by a commit that changes the master's metadata: the slave
  // offered the deleted offsets back as its own at the second sync after a delete.
  for (int64_t probe = 1; probe <= 2; ++probe) {
    ASSERT_GRPC_OK(CommitOffset(*master, "probe_group", "Live", 0, probe));
    ASSERT_TRUE(WaitUntil([&] { return QueryOffset(*slave, "probe_group", "Live", 0) == probe; }));
  }
  EXPECT_FALSE(QueryOffset(*master, "doomed_group", "Live", 0).has_value());
  EXPECT_FALSE(QueryOffset(*slave, "doomed_group", "Live", 0).has_value());
}

TEST_F(ReplicationTest, ConsumerReadsFromSlaveWhileMasterIsDownAndKeepsItsOffsets) {
  auto master = StartMaster();
  auto slave = StartSlave(slave1_dir_, 1);
  ASSERT_TRUE(WaitSlaves(*master, 1));
  CreateTopic(*master, "Failover", 1);
  auto sent = SendBatches(*master, "Failover", 1, 20, 100, 1, "f");
  ASSERT_GRPC_OK(CommitOffset(*master, "fo_group", "Failover", 0, 5));
  ASSERT_TRUE(WaitUntil([&] { return QueryOffset(*slave, "fo_group", "Failover", 0) == 5; }));
  ASSERT_TRUE(WaitForMaxOffset(slave->messaging(), "Failover", 0, 20));

  master->process().Kill();
  // The consumer resumes on the slave from the replicated offset and commits there.
  auto got = PullN(slave->messaging(), "Failover", 0, *QueryOffset(*slave, "fo_group", "Failover", 0), 15);
  ASSERT_EQ(got.size(), 15u);
  EXPECT_EQ(got.front().queue_offset(), 5);
  EXPECT_EQ(got.front().message().body(), sent[0].bodies[5]);
  ASSERT_GRPC_OK(CommitOffset(*slave, "fo_group", "Failover", 0, 20));
  EXPECT_EQ(QueryOffset(*slave, "fo_group", "Failover", 0), 20);

  // The master returns: the slave's commit is adopted, not overwritten by the master's 5.
  ASSERT_TRUE(master->Start()) << master->process().ReadLog();
  EXPECT_TRUE(WaitUntil([&] { return QueryOffset(*master, "fo_group", "Failover", 0) == 20; }, 20s))
      << slave->process().ReadLog();
  EXPECT_TRUE(WaitUntil([&] { return Info(*master, "haSlaveCount") == "1"; }, 15s));
  EXPECT_EQ(QueryOffset(*slave, "fo_group", "Failover", 0), 20);
}

}  // namespace
}  // namespace mq::testing
