// Partitions between a slave and its master's replication port (TcpProxy kStall: silence,
// kRefuse: resets and refused connects), with real processes. SYNC_MASTER must acknowledge
// nothing the slave does not hold; an ASYNC_MASTER's slave must catch up after the heal.
#include <gtest/gtest.h>

#include <map>

#include "fault/network/ha_fault_fixture.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

using namespace std::chrono_literals;
using Mode = TcpProxy::Mode;

std::string Body(const std::string& tag, int n) {
  std::string body = tag + "-" + std::to_string(n) + "-";
  body.resize(300, static_cast<char>('a' + n % 26));
  return body;
}

TEST_F(HaFaultTest, SyncMasterAcksNothingDuringPartitionAndAckedSurviveMasterKill) {
  StartMaster("SYNC_MASTER");
  StartSlaveBehindProxy();
  CreateTopic(*master_, "NetSync", 4);
  ASSERT_TRUE(WaitUntil([&] { return HasTopic(*slave_, "NetSync"); }));

  std::vector<SentMessage> acked;
  int seq = 0;
  for (int i = 0; i < 40; ++i, ++seq) {
    auto m = SendOne(*master_, "NetSync", seq % 4, Body("before", seq));
    ASSERT_TRUE(m.has_value());
    ASSERT_EQ(m->status, mq::v1::SEND_OK);
    acked.push_back(*m);
  }

  // Rounds: a silent partition (the slave counts as in sync until its acks are 3 s stale, so
  // sends first time out) and a refusing one (the stream breaks at once).
  for (Mode mode : {Mode::kStall, Mode::kRefuse, Mode::kStall}) {
    SCOPED_TRACE(mode == Mode::kStall ? "stall" : "refuse");
    proxy_->SetMode(mode);
    std::map<mq::v1::SendStatus, int> statuses;
    int sends = 0;
    // Bounded: 60 sends / 20 s; ends once SLAVE_NOT_AVAILABLE was seen after >= 5 sends.
    const bool saw_unavailable = WaitUntil(
        [&] {
          if (sends >= 60) return false;
          auto m = SendOne(*master_, "NetSync", seq % 4, Body("partitioned", seq));
          ++seq;
          if (!m) return false;
          ++sends;
          ++statuses[m->status];
          EXPECT_NE(m->status, mq::v1::SEND_OK) << "acknowledged during a partition: " << m->body;
          return sends >= 5 && statuses[mq::v1::SLAVE_NOT_AVAILABLE] > 0;
        },
        20s, 1ms);
    EXPECT_TRUE(saw_unavailable);
    EXPECT_EQ(statuses[mq::v1::SEND_OK], 0);
    std::printf("[ network ] %s partition: %d sends, FLUSH_SLAVE_TIMEOUT %d, SLAVE_NOT_AVAILABLE %d\n",
                mode == Mode::kStall ? "stall" : "refuse", sends, statuses[mq::v1::FLUSH_SLAVE_TIMEOUT],
                statuses[mq::v1::SLAVE_NOT_AVAILABLE]);
    if (mode == Mode::kStall) {
      EXPECT_GT(statuses[mq::v1::FLUSH_SLAVE_TIMEOUT], 0);
    }

    proxy_->SetMode(Mode::kForward);
    ASSERT_TRUE(WaitSlaveInSync(20s));
    int ok = 0;
    // Bounded: 200 sends; only SEND_OK counts as acknowledged.
    for (int i = 0; i < 200 && ok < 20; ++i, ++seq) {
      auto m = SendOne(*master_, "NetSync", seq % 4, Body("healed", seq));
      ASSERT_TRUE(m.has_value());
      if (m->status == mq::v1::SEND_OK) {
        ++ok;
        acked.push_back(*m);
      }
    }
    EXPECT_EQ(ok, 20);
  }

  // The last partition never heals: the master dies behind it. Whatever it acknowledged, the
  // slave has; what it refused may be lost with it.
  proxy_->SetMode(Mode::kStall);
  for (int i = 0; i < 3; ++i, ++seq) {
    auto m = SendOne(*master_, "NetSync", seq % 4, Body("lost", seq));
    ASSERT_TRUE(m.has_value());
    EXPECT_NE(m->status, mq::v1::SEND_OK);
  }
  master_->process().Kill();
  ExpectHolds(*slave_, "NetSync", acked);
  std::printf(
      "[ network ] sync: %zu acknowledged messages read back from the slave after kill -9 of the master\n",
      acked.size());
}

TEST_F(HaFaultTest, SyncMasterAcksNothingAcrossOneWayPartitions) {
  StartMaster("SYNC_MASTER");
  StartSlaveBehindProxy();
  CreateTopic(*master_, "NetOneWay", 2);
  ASSERT_TRUE(WaitUntil([&] { return HasTopic(*slave_, "NetOneWay"); }));
  std::vector<SentMessage> acked;
  int seq = 0;
  auto send_ok = [&](int n) {
    for (int i = 0; i < n; ++i, ++seq) {
      auto m = SendOne(*master_, "NetOneWay", seq % 2, Body("oneway", seq));
      ASSERT_TRUE(m.has_value());
      ASSERT_EQ(m->status, mq::v1::SEND_OK);
      acked.push_back(*m);
    }
  };
  send_ok(10);
  // Acks lost (the slave gets the bytes but the master never hears so), then chunks lost
  // (the slave's reports and reconnects reach the master, nothing comes back).
  for (Mode mode : {Mode::kStallToUpstream, Mode::kStallToClient}) {
    const bool acks_lost = mode == Mode::kStallToUpstream;
    SCOPED_TRACE(acks_lost ? "acks lost" : "chunks lost");
    const int64_t slave_before = InfoInt(*slave_, "commitLogMaxOffset");
    proxy_->SetMode(mode);
    std::map<mq::v1::SendStatus, int> statuses;
    int sends = 0;
    EXPECT_TRUE(WaitUntil(
        [&] {
          if (sends >= 60) return false;
          auto m = SendOne(*master_, "NetOneWay", seq % 2, Body("oneway-cut", seq));
          ++seq;
          if (!m) return false;
          ++sends;
          ++statuses[m->status];
          EXPECT_NE(m->status, mq::v1::SEND_OK) << "acknowledged across a one-way partition: " << m->body;
          return sends >= 5 && statuses[mq::v1::SLAVE_NOT_AVAILABLE] > 0;
        },
        20s, 1ms));
    std::printf("[ network ] %s: %d sends, FLUSH_SLAVE_TIMEOUT %d, SLAVE_NOT_AVAILABLE %d\n",
                acks_lost ? "acks lost" : "chunks lost", sends, statuses[mq::v1::FLUSH_SLAVE_TIMEOUT],
                statuses[mq::v1::SLAVE_NOT_AVAILABLE]);
    if (acks_lost) {
      EXPECT_GT(InfoInt(*slave_, "commitLogMaxOffset"), slave_before) << "the slave should hold the bytes";
    } else {
      EXPECT_EQ(InfoInt(*slave_, "commitLogMaxOffset"), slave_before);
    }
    proxy_->SetMode(Mode::kForward);
    ASSERT_TRUE(WaitSlaveInSync(20s));
    ASSERT_TRUE(WaitCaughtUp());
    send_ok(10);
  }
  proxy_->SetMode(Mode::kStall);
  master_->process().Kill();
  ExpectHolds(*slave_, "NetOneWay", acked);
}

TEST_F(HaFaultTest, AsyncMasterSlaveCatchesUpAfterPartitionHeals) {
  StartMaster("ASYNC_MASTER");
  StartSlaveBehindProxy();
  CreateTopic(*master_, "NetAsync", 4);
  ASSERT_TRUE(WaitUntil([&] { return HasTopic(*slave_, "NetAsync"); }));

  std::vector<SentMessage> acked;
  int seq = 0;
  int round = 0;
  for (Mode mode : {Mode::kStall, Mode::kRefuse, Mode::kStall}) {
    SCOPED_TRACE(round);
    proxy_->SetMode(mode);
    const int64_t slave_before = InfoInt(*slave_, "commitLogMaxOffset");
    for (int i = 0; i < 200; ++i, ++seq) {
      auto m = SendOne(*master_, "NetAsync", seq % 4, Body("async", seq));
      ASSERT_TRUE(m.has_value());
      ASSERT_EQ(m->status, mq::v1::SEND_OK);
      acked.push_back(*m);
    }
    EXPECT_GT(InfoInt(*master_, "commitLogMaxOffset"), slave_before);
    if (round == 2) {
      // Long enough for the slave's watchdog (5 s of silence) to drop the stream: its
      // reconnects meet the partition too.
      EXPECT_TRUE(WaitUntil([&] { return Info(*slave_, "haConnected") == "false"; }, 15s));
    }
    EXPECT_EQ(InfoInt(*slave_, "commitLogMaxOffset"), slave_before) << "bytes crossed the partition";
    proxy_->SetMode(Mode::kForward);
    ASSERT_TRUE(WaitCaughtUp()) << "slave " << Info(*slave_, "commitLogMaxOffset") << " master "
                                << Info(*master_, "commitLogMaxOffset");
    ++round;
  }
  std::printf("[ network ] async: %zu messages over 3 partitions, %ld connections, %ld resets\n",
              acked.size(), static_cast<long>(proxy_->accepted()), static_cast<long>(proxy_->resets()));
  ExpectHolds(*slave_, "NetAsync", acked);
  ExpectQueuesIdentical(*master_, *slave_, "NetAsync", 4);
  ExpectCommitLogsEqual(master_store(), slave_store(), InfoInt(*master_, "commitLogMaxOffset"));
}

TEST_F(HaFaultTest, MasterDropsASlaveThatWentSilent) {
  StartMaster("ASYNC_MASTER");
  StartSlaveBehindProxy();
  ASSERT_EQ(Info(*master_, "haSlaveCount"), "1");
  // A partition that never heals (a slave host that vanished without a FIN or RST): the
  // master must stop counting the stream as a connected slave and free its threads.
  proxy_->SetMode(Mode::kStall);
  const auto t = std::chrono::steady_clock::now();
  EXPECT_TRUE(WaitUntil([&] { return Info(*master_, "haSlaveCount") == "0"; }, 30s))
      << "haSlaveCount " << Info(*master_, "haSlaveCount");
  std::printf("[ network ] silent slave dropped by the master after %.1f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count());
  EXPECT_EQ(Info(*master_, "haSlaveInSync_1"), "");
}

TEST_F(HaFaultTest, SlaveRetriesAReconnectWhoseHandshakeNeverAnswers) {
  StartMaster("ASYNC_MASTER");
  StartSlaveBehindProxy();
  proxy_->SetMode(Mode::kStall);
  // The slave's watchdog drops the silent stream and reconnects; that connection is stuck too.
  ASSERT_TRUE(WaitUntil([&] { return Info(*slave_, "haConnected") == "false"; }, 15s));
  const int64_t accepted = proxy_->accepted();
  ASSERT_TRUE(WaitUntil([&] { return proxy_->accepted() > accepted; }, 15s));
  // The network heals for new connections only: the stuck ones stay silent, as after a
  // middlebox lost their state. The slave must give up on its stuck handshake and reconnect.
  proxy_->FreezeLive();
  proxy_->SetMode(Mode::kForward);
  const auto t = std::chrono::steady_clock::now();
  EXPECT_TRUE(WaitUntil([&] { return Info(*slave_, "haConnected") == "true"; }, 30s));
  std::printf("[ network ] slave reconnected %.1f s after its handshake got stuck\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count());
  EXPECT_LT(std::chrono::steady_clock::now() - t, 12s);
  CreateTopic(*master_, "NetStuck", 1);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(SendOne(*master_, "NetStuck", 0, Body("stuck", i)).has_value());
  EXPECT_TRUE(WaitCaughtUp());
}

}  // namespace
}  // namespace mq::testing
