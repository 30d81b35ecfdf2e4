// Added latency and connections reset mid-stream between a slave and its master's
// replication port (TcpProxy), with real processes: replication resumes from where it broke,
// the slave's log is the master's byte for byte (no duplicate, no gap), and a SYNC_MASTER
// still acknowledges only what the slave holds.
#include <gtest/gtest.h>

#include <chrono>

#include "fault/network/ha_fault_fixture.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

using namespace std::chrono_literals;

std::string Body(int n, size_t size) {
  std::string body = "flaky-" + std::to_string(n) + "-";
  body.resize(size, static_cast<char>('A' + n % 26));
  return body;
}

TEST_F(HaFaultTest, SyncMasterUnderDelayAcksOnlyWhatTheSlaveHolds) {
  StartMaster("SYNC_MASTER");
  StartSlaveBehindProxy();
  CreateTopic(*master_, "NetDelay", 2);
  ASSERT_TRUE(WaitUntil([&] { return HasTopic(*slave_, "NetDelay"); }));
  proxy_->SetDelay(100ms);  // each way: a send waits for a chunk out and an ack back

  std::vector<SentMessage> acked;
  double min_ms = 1e9;
  for (int i = 0; i < 15; ++i) {
    const auto t = std::chrono::steady_clock::now();
    auto m = SendOne(*master_, "NetDelay", i % 2, Body(i, 512));
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
    ASSERT_TRUE(m.has_value());
    ASSERT_EQ(m->status, mq::v1::SEND_OK);
    acked.push_back(*m);
    min_ms = std::min(min_ms, ms);
  }
  std::printf("[ network ] SYNC_MASTER with 100 ms each way: fastest of 15 sends %.1f ms\n", min_ms);
  EXPECT_GE(min_ms, 200.0) << "the send did not wait for the slave's ack through the proxy";
  master_->process().Kill();
  ExpectHolds(*slave_, "NetDelay", acked);
}

TEST_F(HaFaultTest, ReplicationResumesAfterDelayAndMidStreamResetsWithoutGapOrDuplicate) {
  StartMaster("ASYNC_MASTER");
  StartSlaveBehindProxy();
  CreateTopic(*master_, "NetFlaky", 4);
  ASSERT_TRUE(WaitUntil([&] { return HasTopic(*slave_, "NetFlaky"); }));

  std::vector<SentMessage> acked;
  int seq = 0;
  auto send_batch = [&](int n, size_t size) {
    for (int i = 0; i < n; ++i, ++seq) {
      auto m = SendOne(*master_, "NetFlaky", seq % 4, Body(seq, size));
      ASSERT_TRUE(m.has_value());
      ASSERT_EQ(m->status, mq::v1::SEND_OK);
      acked.push_back(*m);
    }
  };

  // 1. Latency: 50 ms each way.
  proxy_->SetDelay(50ms);
  send_batch(300, 1024);
  ASSERT_TRUE(WaitCaughtUp());

  // 2. Every connection is reset after a pseudo-random 0.5..1.5 MiB, with 5 ms latency; the
  // slave must keep making progress across reconnects (whole chunks only: gRPC frames a chunk
  // as one message, so a reset loses it whole and the slave asks again from its own end).
  proxy_->SetDelay(5ms);
  proxy_->SetResetAfterBytes(1 << 20);
  const int64_t resets_before = proxy_->resets();
  for (int burst = 0; burst < 8; ++burst) {
    send_batch(400, 2048);
    ASSERT_TRUE(WaitCaughtUp(30s)) << "burst " << burst << ": slave " << Info(*slave_, "commitLogMaxOffset")
                                   << " master " << Info(*master_, "commitLogMaxOffset");
  }
  const int64_t size_resets = proxy_->resets() - resets_before;

  // 3. Resets at arbitrary moments while sending, no byte limit.
  proxy_->SetResetAfterBytes(0);
  proxy_->SetDelay(0ms);
  for (int burst = 0; burst < 5; ++burst) {
    // The reset must meet a live stream: wait for the slave's reconnect first.
    ASSERT_TRUE(WaitUntil([&] { return Info(*slave_, "haConnected") == "true"; }));
    send_batch(100, 4096);
    proxy_->ResetAll();
  }
  send_batch(50, 100);
  ASSERT_TRUE(WaitCaughtUp(30s));
  std::printf("[ network ] flaky link: %zu messages, %ld connections, %ld resets (%ld by byte limit)\n",
              acked.size(), static_cast<long>(proxy_->accepted()), static_cast<long>(proxy_->resets()),
              static_cast<long>(size_resets));
  EXPECT_GE(size_resets, 3);
  EXPECT_GE(proxy_->accepted(), 8);

  ExpectHolds(*slave_, "NetFlaky", acked);
  ExpectQueuesIdentical(*master_, *slave_, "NetFlaky", 4);
  ExpectCommitLogsEqual(master_store(), slave_store(), InfoInt(*master_, "commitLogMaxOffset"));
}

}  // namespace
}  // namespace mq::testing
