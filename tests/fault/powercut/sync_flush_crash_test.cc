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

struct Moment {
  const char* name;
  const char* op;
  const char* glob;
  int nth;
};
void PrintTo(const Moment& m, std::ostream* os) {
  *os << m.name << " (" << m.op << " " << m.glob << " #" << m.nth << ")";
}

class SyncFlushNamedCutTest : public ::testing::TestWithParam<Moment> {};

TEST_P(SyncFlushNamedCutTest, EveryAckSurvivesTheCut) {
  const Moment& m = GetParam();
  CrashHarness h(/*sync_flush=*/true);
  if (!h.usable()) GTEST_SKIP() << h.skip_reason();
  // Twice per moment: the second cut hits a store that already recovered from the first.
  ASSERT_TRUE(h.StartBroker());
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(h.mount().Arm(m.op, m.glob, m.nth));
    h.StartLoad(2);
    ASSERT_TRUE(h.mount().WaitFrozen(std::chrono::seconds(30)))
        << m.name << " never reached: " << h.mount().Command("status") << " acked=" << h.acked_count();
    ASSERT_TRUE(h.PowerCut()) << m.name;
    ASSERT_TRUE(h.StartBroker()) << m.name << " restart";
    ASSERT_TRUE(h.VerifyEveryAckPresent()) << m.name << " round " << round;
  }
}

INSTANTIATE_TEST_SUITE_P(Moments, SyncFlushNamedCutTest,
                         ::testing::Values(Moment{"MidAppend", "write", "*/commitlog/*", 150},
                                           Moment{"MidAppendFsync", "fsync", "*/commitlog/*", 90},
                                           Moment{"MidSegmentRollCreate", "create", "*/commitlog/*", 3},
                                           Moment{"MidSegmentRollDirFsync", "fsyncdir", "*/commitlog", 3},
                                           Moment{"MidCheckpointWrite", "write", "*/checkpoint.tmp", 3},
                                           Moment{"MidCheckpointRename", "rename", "*/checkpoint.tmp", 2},
                                           Moment{"MidConsumeQueueWrite", "write", "*/consumequeue/*", 60},
                                           Moment{"MidConsumeQueueFsync", "fsync", "*/consumequeue/*", 6},
                                           Moment{"MidConsumeQueueRoll", "create", "*/consumequeue/*/*/*", 6},
                                           Moment{"MidIndexWrite", "write", "*/index/*", 20}),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

}  // namespace
}  // namespace mq::testing
