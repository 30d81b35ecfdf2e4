// SYNC_FLUSH across power cuts: every acknowledged message survives, byte-exact at its
// acknowledged offsets, and the broker restarts on the cut store without help. Cuts come at
// random moments under load and at named moments armed in the FUSE layer.
#include <gtest/gtest.h>

#include <random>

#include "fault/powercut/crash_harness.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

TEST(SyncFlushCrashTest, EveryAckSurvivesRandomCutsUnderLoad) {
  CrashHarness h(/*sync_flush=*/true);
  if (!h.usable()) GTEST_SKIP() << h.skip_reason();
  std::mt19937 rng(12);  // fixed: a failure replays the same cut points
  constexpr int kRounds = 6;
  ASSERT_TRUE(h.StartBroker());
  for (int round = 0; round < kRounds; ++round) {
    size_t before = h.acked_count();
    size_t target = before + 20 + rng() % 300;
    h.StartLoad(3);
    ASSERT_TRUE(WaitUntil([&] { return h.acked_count() >= target; }, std::chrono::seconds(30)))
        << "round " << round << ": only " << h.acked_count() - before << " acks";
    ASSERT_TRUE(h.PowerCut()) << "round " << round;
    ASSERT_TRUE(h.StartBroker()) << "round " << round << " restart";
    ASSERT_TRUE(h.VerifyEveryAckPresent()) << "round " << round;
  }
  RecordProperty("acked", static_cast<int>(h.acked_count()));
}

class SyncFlushNamedCutTest : public ::testing::TestWithParam<CutMoment> {};

TEST_P(SyncFlushNamedCutTest, EveryAckSurvivesTheCut) {
  const CutMoment& m = GetParam();
  CrashHarness h(/*sync_flush=*/true);
  if (!h.usable()) GTEST_SKIP() << h.skip_reason();
  // Twice per moment: the second cut hits a store that already recovered from the first.
  ASSERT_TRUE(h.StartBroker());
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(h.CutUnderLoadAt(m, /*load_threads=*/2));
    ASSERT_TRUE(h.VerifyEveryAckPresent()) << m.name << " round " << round;
  }
}

INSTANTIATE_TEST_SUITE_P(Moments, SyncFlushNamedCutTest,
                         ::testing::Values(CutMoment{"MidAppend", "write", "*/commitlog/*", 150},
                                           CutMoment{"MidAppendFsync", "fsync", "*/commitlog/*", 90},
                                           CutMoment{"MidSegmentRollCreate", "create", "*/commitlog/*", 3},
                                           CutMoment{"MidSegmentRollDirFsync", "fsyncdir", "*/commitlog", 3},
                                           CutMoment{"MidCheckpointWrite", "write", "*/checkpoint.tmp", 3},
                                           CutMoment{"MidCheckpointRename", "rename", "*/checkpoint.tmp", 2},
                                           CutMoment{"MidConsumeQueueWrite", "write", "*/consumequeue/*", 60},
                                           CutMoment{"MidConsumeQueueFsync", "fsync", "*/consumequeue/*", 6},
                                           CutMoment{"MidConsumeQueueRoll", "create", "*/consumequeue/*/*/*",
                                                     6},
                                           CutMoment{"MidIndexWrite", "write", "*/index/*", 20}),
                         CutMomentName);

}  // namespace
}  // namespace mq::testing
