// ASYNC_FLUSH across power cuts: the store recovers to a consistent prefix. No torn or
// corrupt record is served, each queue is gap-free and in log order, the surviving acked
// messages are a per-queue prefix, the index finds survivors by key, what survived one cut
// survives the next, and nothing acked well before the cut (2 s, 20 flush intervals) is lost.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <thread>

#include "fault/powercut/crash_harness.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

constexpr auto kDurableAfter = std::chrono::milliseconds(2000);

TEST(AsyncFlushCrashTest, RecoversAConsistentPrefixAfterRandomCuts) {
  CrashHarness h(/*sync_flush=*/false);
  if (!h.usable()) GTEST_SKIP() << h.skip_reason();
  std::mt19937 rng(34);
  ASSERT_TRUE(h.StartBroker());
  constexpr int kRounds = 5;
  for (int round = 0; round < kRounds; ++round) {
    h.StartLoad(2);
    // The load phase's length is the point (some rounds outlast kDurableAfter); this sleep
    // waits for no condition.
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 2700));
    ASSERT_GT(h.acked_count(), 0u) << "round " << round;
    ASSERT_TRUE(h.PowerCut()) << "round " << round;
    ASSERT_TRUE(h.StartBroker()) << "round " << round << " restart";
    ASSERT_TRUE(h.VerifyConsistentPrefix(kDurableAfter)) << "round " << round;
  }
  std::printf("acked messages lost to %d ASYNC_FLUSH cuts: %lld\n", kRounds,
              static_cast<long long>(h.lost_acked()));
}

class AsyncFlushNamedCutTest : public ::testing::TestWithParam<CutMoment> {};

TEST_P(AsyncFlushNamedCutTest, RecoversAConsistentPrefix) {
  const CutMoment& m = GetParam();
  CrashHarness h(/*sync_flush=*/false);
  if (!h.usable()) GTEST_SKIP() << h.skip_reason();
  ASSERT_TRUE(h.StartBroker());
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(h.CutUnderLoadAt(m, /*load_threads=*/2));
    ASSERT_TRUE(h.VerifyConsistentPrefix(kDurableAfter)) << m.name << " round " << round;
  }
}

INSTANTIATE_TEST_SUITE_P(Moments, AsyncFlushNamedCutTest,
                         ::testing::Values(CutMoment{"MidCommitLogFlush", "write", "*/commitlog/*", 40},
                                           CutMoment{"MidSegmentRoll", "create", "*/commitlog/*", 3},
                                           CutMoment{"MidCheckpoint", "rename", "*/checkpoint.tmp", 2},
                                           CutMoment{"MidConsumeQueueWrite", "write", "*/consumequeue/*", 9},
                                           CutMoment{"MidIndexFlush", "fsync", "*/index/*", 2}),
                         CutMomentName);

}  // namespace
}  // namespace mq::testing
