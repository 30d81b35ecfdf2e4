#include "broker/ha/replication_waiters.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "testutil/wait.h"

namespace mq::ha {
namespace {

using namespace std::chrono_literals;

TEST(ReplicationWaitersTest, CompletesInOffsetOrderWhenAcked) {
  ReplicationWaiters w;
  w.Start();
  std::vector<int> done;
  w.Wait(100, 10s, [&](bool ok) { done.push_back(ok ? 100 : -100); });
  w.Wait(50, 10s, [&](bool ok) { done.push_back(ok ? 50 : -50); });
  w.Wait(200, 10s, [&](bool ok) { done.push_back(ok ? 200 : -200); });
  EXPECT_EQ(w.pending(), 3u);
  w.SetReplicatedOffset(120, 1);
  EXPECT_EQ(done, (std::vector<int>{50, 100}));
  w.SetReplicatedOffset(200, 2);
  EXPECT_EQ(done, (std::vector<int>{50, 100, 200}));
  EXPECT_EQ(w.pending(), 0u);
  w.Shutdown();
}

TEST(ReplicationWaitersTest, AlreadyReplicatedCompletesInline) {
  ReplicationWaiters w;
  w.Start();
  w.SetReplicatedOffset(500, 3);
  bool result = false;
  w.Wait(400, 10s, [&](bool ok) { result = ok; });
  EXPECT_TRUE(result);
  // The offset may move back (a lagging slave joined): later waiters wait again.
  w.SetReplicatedOffset(300, 4);
  std::atomic<int> r{0};
  w.Wait(400, 10s, [&](bool ok) { r = ok ? 1 : 2; });
  EXPECT_EQ(r.load(), 0);
  w.SetReplicatedOffset(400, 5);
  EXPECT_EQ(r.load(), 1);
}

// Two computations published in the reverse of the order they were made: the older one (made
// before a lagging slave joined) does not overwrite the newer, so no send completes on it.
TEST(ReplicationWaitersTest, AnOlderComputationPublishedLateIsIgnored) {
  ReplicationWaiters w;
  w.Start();
  std::atomic<int> r{0};
  w.Wait(1000, 10s, [&](bool ok) { r = ok ? 1 : 2; });
  w.SetReplicatedOffset(500, 2);   // computed second: the joined slave holds 500
  w.SetReplicatedOffset(2000, 1);  // computed first, published late
  EXPECT_EQ(w.replicated_offset(), 500);
  EXPECT_EQ(r.load(), 0);
  w.SetReplicatedOffset(1000, 3);
  EXPECT_EQ(r.load(), 1);
  w.Shutdown();
}

TEST(ReplicationWaitersTest, TimesOutAndShutdownFailsPending) {
  ReplicationWaiters w;
  w.Start();
  std::atomic<int> timed_out{0};
  auto start = std::chrono::steady_clock::now();
  w.Wait(10, 50ms, [&](bool ok) { timed_out = ok ? 1 : 2; });
  ASSERT_TRUE(mq::testing::WaitUntil([&] { return timed_out.load() != 0; }, 5s));
  EXPECT_EQ(timed_out.load(), 2);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);

  std::atomic<int> at_shutdown{0};
  w.Wait(10, 60s, [&](bool ok) { at_shutdown = ok ? 1 : 2; });
  w.Shutdown();
  EXPECT_EQ(at_shutdown.load(), 2);
}

}  // namespace
}  // namespace mq::ha
