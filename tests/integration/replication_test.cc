// Master/Slave replication with real processes: 1 NameServer, a master and 1-2 slaves
// (ASYNC_MASTER / SYNC_MASTER), kill -9 and restarts. See docs/replication.md.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "replication_fixture.h"
#include "testutil/proc_status.h"

namespace mq::testing {
namespace {

TEST_F(ReplicationTest, AsyncMasterReplicatesLagDrainsAndKilledSlaveCatchesUp) {
  auto master = StartMaster();
  auto slave = StartSlave(slave1_dir_, 1);
  ASSERT_TRUE(WaitSlaves(*master, 1)) << slave->process().ReadLog();
  auto stream_threads = [&] { return ThreadNames(master->process().pid())["mq-ha-stream"]; };
  EXPECT_EQ(stream_threads(), 1);
  LatencyOfSequentialSends(*master, "ASYNC_MASTER, 1 slave");

  // ~12 MiB in 1 KiB messages: crosses several 4 MiB commit log segments.
  auto t0 = std::chrono::steady_clock::now();
  auto sent = SendBatches(*master, "ReplAsync", 400, 32, 1024, 4, "a");
  ASSERT_EQ(sent.size(), 400u);
  EXPECT_EQ(sent.front().response.status(), mq::v1::SEND_OK);
  const std::string master_max = Info(*master, "commitLogMaxOffset");
  ASSERT_TRUE(WaitUntil([&] { return Info(*slave, "commitLogMaxOffset") == master_max; }, 20s));
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ replication ] %s bytes sent and replicated in %.2f s (%.1f MB/s end to end)\n",
              master_max.c_str(), secs, std::stod(master_max) / secs / 1e6);
  ASSERT_TRUE(WaitUntil([&] { return Info(*master, "haLagBytes_1") == "0"; }));
  EXPECT_EQ(Info(*master, "haSlaveAckOffset_1"), master_max);
  EXPECT_EQ(Info(*master, "haLagTimeMills_1"), "0");
  ASSERT_TRUE(WaitUntil([&] { return Info(*slave, "haLagBytes") == "0"; }));
  EXPECT_EQ(Info(*slave, "haConnected"), "true");
  EXPECT_FALSE(Info(*slave, "haMasterAddress").empty());
  ASSERT_TRUE(WaitUntil([&] { return HasTopic(*slave, "ReplAsync"); }));
  ExpectAllReadable(*slave, "ReplAsync", sent);

  // kill -9 the slave, keep writing, restart it: it resumes from its own offset.
  slave->process().Kill();
  ASSERT_TRUE(WaitSlaves(*master, 0));
  EXPECT_TRUE(WaitUntil([&] { return stream_threads() == 0; })) << "the dead slave's stream thread stayed";
  auto more = SendBatches(*master, "ReplAsync", 200, 32, 1024, 4, "b");
  const std::string master_max2 = Info(*master, "commitLogMaxOffset");
  ASSERT_TRUE(slave->Start()) << slave->process().ReadLog();
  auto t1 = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitUntil([&] { return Info(*slave, "commitLogMaxOffset") == master_max2; }, 20s))
      << slave->process().ReadLog();
  secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  const double backlog = std::stod(master_max2) - std::stod(master_max);
  std::printf("[ replication ] restarted slave caught up %.0f bytes in %.2f s (%.1f MB/s)\n", backlog, secs,
              backlog / secs / 1e6);
  sent.insert(sent.end(), more.begin(), more.end());
  ExpectAllReadable(*slave, "ReplAsync", sent);
  ASSERT_TRUE(WaitUntil([&] { return Info(*master, "haLagBytes_1") == "0"; }));
}

TEST_F(ReplicationTest, SlaveRefusesWrites) {
  auto master = StartMaster();
  auto slave = StartSlave(slave1_dir_, 1);
  mq::v1::SendMessageResponse resp;
  EXPECT_GRPC_ERROR(Send(slave->messaging(), "ToSlave", 0, {TextMessage("x")}, &resp),
                    grpc::StatusCode::PERMISSION_DENIED, "broker: broker-a (brokerId 1) is a SLAVE");
}

TEST_F(ReplicationTest, SlaveWithStaticMasterAddressNeedsNoNameServer) {
  auto master = StartMaster();
  CreateTopic(*master, "Pinned", 1);
  auto sent = SendBatches(*master, "Pinned", 3, 10, 256, 1, "pin");
  // A slave with no NameServer at all, told where the master's replication port is.
  const std::string ha = "127.0.0.1:" + Info(*master, "haListenPort");
  BrokerProcess slave(BrokerOptions{
      "", slave1_dir_.path(), "broker-a", {"brokerRole=SLAVE", "brokerId=1", "haMasterAddress=" + ha}});
  ASSERT_TRUE(slave.Start()) << slave.process().ReadLog();
  ASSERT_TRUE(WaitSlaves(*master, 1, &slave));
  ASSERT_TRUE(WaitForMaxOffset(slave.messaging(), "Pinned", 0, 30)) << slave.process().ReadLog();
  ExpectAllReadable(slave, "Pinned", sent);
}

TEST_F(ReplicationTest, SyncMasterWithoutSlaveFailsEverySend) {
  auto master = StartMaster("SYNC_MASTER");
  ExpectEverySendFails(*master, "NoSlave");

  // A slave makes sends succeed; once it is killed, every send fails again.
  ExpectSendsFailOnceTheSlaveIsGone(*master, "NoSlave");
}

TEST_F(ReplicationTest, SyncMasterAckedMessagesSurviveMasterKill) {
  auto master = StartMaster("SYNC_MASTER");
  auto slave1 = StartSlave(slave1_dir_, 1);
  auto slave2 = StartSlave(slave2_dir_, 2);
  ASSERT_TRUE(WaitSlaves(*master, 2));
  CreateTopic(*master, "ReplSync", 4);
  ASSERT_TRUE(WaitUntil([&] { return HasTopic(*slave1, "ReplSync") && HasTopic(*slave2, "ReplSync"); }));

  LatencyOfSequentialSends(*master, "SYNC_MASTER, 2 slaves");
  auto sent = SendBatches(*master, "ReplSync", 200, 1, 1024, 4, "s");
  ASSERT_EQ(sent.size(), 200u);
  for (const auto& s : sent) ASSERT_EQ(s.response.status(), mq::v1::SEND_OK);

  master->process().Kill();
  ExpectAllReadable(*slave1, "ReplSync", sent);
  ExpectAllReadable(*slave2, "ReplSync", sent);
}

// SYNC_MASTER + SYNC_FLUSH: replication starts at the append and overlaps the fsync, yet an
// ack still means both: every SEND_OK message is on the slave after the master is killed,
// and without an in-sync slave no send is acknowledged although each one is durable locally.
TEST_F(ReplicationTest, SyncMasterWithSyncFlushAcksOnlyWhatTheSlaveHolds) {
  auto master = StartBroker(master_dir_.path(), "SYNC_MASTER", 0, {"flushDiskType=SYNC_FLUSH"});
  ExpectEverySendFails(*master, "DurableNoSlave");
  auto slave = StartSlave(slave1_dir_, 1);
  ASSERT_TRUE(WaitSlaves(*master, 1, slave.get()));
  CreateTopic(*master, "ReplDurable", 4);
  ASSERT_TRUE(WaitUntil([&] { return HasTopic(*slave, "ReplDurable"); }));

  LatencyOfSequentialSends(*master, "SYNC_MASTER + SYNC_FLUSH, 1 slave");
  auto sent = SendBatches(*master, "ReplDurable", 100, 1, 1024, 4, "d");
  auto batches = SendBatches(*master, "ReplDurable", 20, 8, 512, 4, "db");
  ASSERT_EQ(sent.size(), 100u);
  ASSERT_EQ(batches.size(), 20u);
  for (const auto& s : sent) ASSERT_EQ(s.response.status(), mq::v1::SEND_OK);
  for (const auto& s : batches) ASSERT_EQ(s.response.status(), mq::v1::SEND_OK);
  sent.insert(sent.end(), batches.begin(), batches.end());

  master->process().Kill();
  ExpectAllReadable(*slave, "ReplDurable", sent);
}

TEST_F(ReplicationTest, SyncMasterWithSyncFlushFailsEverySendOnceTheSlaveIsGone) {
  auto master = StartBroker(master_dir_.path(), "SYNC_MASTER", 0, {"flushDiskType=SYNC_FLUSH"});
  ExpectSendsFailOnceTheSlaveIsGone(*master, "DurableGone");
}

TEST_F(ReplicationTest, PullSuggestsTheBrokerByRocketMqsRule) {
  auto master = StartMaster();
  auto slave = StartBroker(slave1_dir_.path(), "SLAVE", 1, {"slaveReadEnable=true"});
  ASSERT_TRUE(WaitSlaves(*master, 1));
  CreateTopic(*master, "Suggest", 1);
  mq::v1::CreateSubscriptionGroupRequest group;
  group.mutable_config()->set_group_name("suggest_group");
  group.mutable_config()->set_consume_enable(true);
  group.mutable_config()->set_broker_id(1);
  group.mutable_config()->set_which_broker_when_consume_slowly(1);
  mq::v1::CreateSubscriptionGroupResponse group_resp;
  ASSERT_GRPC_OK(
      Call(master->admin(), &mq::v1::BrokerAdmin::Stub::CreateSubscriptionGroup, group, &group_resp));
  SendBatches(*master, "Suggest", 1, 5, 100, 1, "g");
  ASSERT_TRUE(WaitForMaxOffset(master->messaging(), "Suggest", 0, 5));

  // slaveReadEnable=false (the master's default): the group's brokerId.
  mq::v1::PullMessageResponse resp;
  ASSERT_GRPC_OK(Pull(master->messaging(), "suggest_group", "Suggest", 0, 0, &resp));
  EXPECT_EQ(resp.status(), mq::v1::FOUND);
  EXPECT_EQ(resp.suggest_which_broker_id(), 1);

  // slaveReadEnable=true and the consumer is far from RAM-sized lag: back to the master.
  ASSERT_TRUE(WaitUntil([&] { return HasTopic(*slave, "Suggest"); }));
  ASSERT_TRUE(WaitForMaxOffset(slave->messaging(), "Suggest", 0, 5));
  ASSERT_TRUE(WaitUntil([&] {
    return Pull(slave->messaging(), "suggest_group", "Suggest", 0, 0, &resp).ok() &&
           resp.status() == mq::v1::FOUND;
  }));
  EXPECT_EQ(resp.messages_size(), 5);
  EXPECT_EQ(resp.suggest_which_broker_id(), 0);
}

TEST_F(ReplicationTest, SlaveAheadOfItsMasterIsRefusedAndNeverAcknowledgesASend) {
  // Give the future slave's store more bytes than the master will have (the situation of a
  // master that crashed and lost an unflushed tail the slave had copied).
  const std::string slave_end = SeedStandalone(slave1_dir_, 5, 10, 1000, 'x');
  auto master = StartMaster("SYNC_MASTER");
  auto slave = StartSlave(slave1_dir_, 1);
  const std::string reason = WaitRefused(*master, *slave, "SLAVE_AHEAD");
  EXPECT_NE(reason.find("ends at offset " + slave_end), std::string::npos) << reason;
  EXPECT_NE(reason.find("master's max offset 0"), std::string::npos) << reason;
  EXPECT_EQ(Info(*slave, "haDiverged"), "true");
  EXPECT_EQ(Info(*slave, "haConnected"), "false");
  EXPECT_NE(slave->process().ReadLog().find("replication refused by the master: SLAVE_AHEAD"),
            std::string::npos);
  EXPECT_EQ(Info(*slave, "commitLogMaxOffset"), slave_end);  // nothing appended, nothing cut

  // Before the handshake a slave ahead counted as in sync for ~1 s per reconnect: sends across
  // several refused reconnects must all fail.
  ExpectSendsFailAcrossRefusals(*master, "Ahead");
  EXPECT_EQ(Info(*master, "haRefusedReason_1").rfind("SLAVE_AHEAD", 0), 0u);
}

TEST_F(ReplicationTest, SlaveWithAnotherHistoryEndingOnAMasterRecordBoundaryIsRefused) {
  // The slave's log and the master's first records have the same shape but other contents, so
  // the slave's end is a record boundary of the master's log: offsets alone cannot tell.
  const std::string slave_end = SeedStandalone(slave1_dir_, 3, 1, 300, 's');
  auto master = StartMaster("SYNC_MASTER");
  SendShaped(*master, 3, 300, 'm');
  ASSERT_EQ(Info(*master, "commitLogMaxOffset"), slave_end) << "precondition: equal record sizes";
  SendShaped(*master, 3, 300, 'm');  // the master has grown past the slave's end

  auto slave = StartSlave(slave1_dir_, 1);
  const std::string reason = WaitRefused(*master, *slave, "LOG_DIVERGED");
  EXPECT_NE(reason.find("ends at offset " + slave_end), std::string::npos) << reason;
  EXPECT_NE(reason.find("diverged"), std::string::npos) << reason;
  EXPECT_EQ(Info(*slave, "haDiverged"), "true");
  EXPECT_EQ(Info(*slave, "commitLogMaxOffset"), slave_end);  // no spliced history
  ExpectSendsFailAcrossRefusals(*master, "Diverged");
}

TEST_F(ReplicationTest, SlaveWithAnotherSegmentSizeIsRefused) {
  auto master = StartMaster("SYNC_MASTER");
  auto slave = StartBroker(slave1_dir_.path(), "SLAVE", 1, {"mappedFileSizeCommitLog=8388608"});
  const std::string reason = WaitRefused(*master, *slave, "SEGMENT_SIZE_MISMATCH");
  EXPECT_NE(reason.find("mappedFileSizeCommitLog=8388608"), std::string::npos) << reason;
  EXPECT_NE(reason.find("mappedFileSizeCommitLog=4194304"), std::string::npos) << reason;
  EXPECT_EQ(Info(*slave, "haDiverged"), "false");
  ExpectSendsFailAcrossRefusals(*master, "Segments");
  EXPECT_EQ(Info(*slave, "commitLogMaxOffset"), "0");
}

}  // namespace
}  // namespace mq::testing
