#include "common/durable_progress.h"

#include <gtest/gtest.h>

namespace mq {
namespace {

TEST(DurableProgressTest, HandsOutOnlySnapshotsWhoseRecordsAreDurable) {
  DurableProgress<int> p;
  EXPECT_EQ(p.Offer(1, /*log_end=*/100, /*flushed=*/50, false), std::nullopt);  // held
  EXPECT_EQ(p.Offer(2, 200, 99, false), std::nullopt);  // 1 is still not durable; 1 stays held
  EXPECT_EQ(p.Offer(3, 300, 150, false), 1);            // 1 is now; 3 is held in its place
  EXPECT_EQ(p.Offer(4, 400, 250, false), std::nullopt);
  EXPECT_EQ(p.Offer(5, 500, 500, false), 5);  // durable at once: nothing older held
  EXPECT_EQ(p.Offer(6, 600, 550, false), std::nullopt);
  EXPECT_EQ(p.Offer(7, 700, 0, /*force=*/true), 7);  // shutdown: the caller flushes next
  EXPECT_EQ(p.Offer(8, 800, 800, false), 8);
}

}  // namespace
}  // namespace mq
