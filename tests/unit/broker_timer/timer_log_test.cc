#include "broker/timer/timer_log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "common/file_util.h"
#include "testutil/temp_dir.h"

namespace mq::broker::timer {
namespace {

TimerUnit Unit(int64_t slot, int64_t cq, int64_t prev = -1) {
  TimerUnit u;
  u.prev_pos = prev;
  u.slot_ms = slot;
  u.deliver_ms = slot + 1;
  u.commit_log_offset = cq * 100;
  u.size = 100;
  u.cq_offset = cq;
  return u;
}

std::vector<std::pair<int64_t, TimerUnit>> Reopen(const std::string& dir, int64_t per_segment) {
  std::vector<std::pair<int64_t, TimerUnit>> seen;
  TimerLog log(dir, per_segment);
  Status s = log.Open([&](int64_t pos, const TimerUnit& u) { seen.emplace_back(pos, u); });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return seen;
}

TEST(TimerLogTest, AppendsReadsAndReopensAcrossSegments) {
  mq::testing::TempDir dir;
  {
    TimerLog log(dir.path(), 4);
    ASSERT_TRUE(log.Open([](int64_t, const TimerUnit&) {}).ok());
    int64_t prev = -1;
    for (int i = 0; i < 10; ++i) {
      auto pos = log.Append(Unit(1000, i, prev));
      ASSERT_TRUE(pos.ok()) << pos.status().ToString();
      EXPECT_EQ(*pos, i * TimerUnit::kSize);
      prev = *pos;
    }
    EXPECT_EQ(log.segment_count(), 3u);
    auto u = log.Read(9 * TimerUnit::kSize);
    ASSERT_TRUE(u.ok());
    EXPECT_EQ(u->cq_offset, 9);
    EXPECT_EQ(u->prev_pos, 8 * TimerUnit::kSize);
    EXPECT_FALSE(log.Read(10 * TimerUnit::kSize).ok());
    EXPECT_FALSE(log.Read(3).ok());
    ASSERT_TRUE(log.Sync().ok());
  }
  auto seen = Reopen(dir.path(), 4);
  ASSERT_EQ(seen.size(), 10u);
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i].second.cq_offset, static_cast<int64_t>(i));
}

TEST(TimerLogTest, TornTailIsCutAndLaterSegmentsDropped) {
  mq::testing::TempDir dir;
  {
    TimerLog log(dir.path(), 4);
    ASSERT_TRUE(log.Open([](int64_t, const TimerUnit&) {}).ok());
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(log.Append(Unit(1000, i)).ok());
  }
  // Corrupt unit 5 (second segment, second unit): units 5..9 are gone after recovery.
  const std::string second = dir.path() + "/" + OffsetToFileName(4 * TimerUnit::kSize);
  {
    std::fstream f(second, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(TimerUnit::kSize + 20);
    f.put('\x7f');
  }
  {
    TimerLog log(dir.path(), 4);
    int64_t count = 0;
    ASSERT_TRUE(log.Open([&](int64_t, const TimerUnit&) { ++count; }).ok());
    EXPECT_EQ(count, 5);
    EXPECT_EQ(log.end(), 5 * TimerUnit::kSize);
    EXPECT_EQ(log.segment_count(), 2u);
    // Appending continues right after the last good unit.
    auto pos = log.Append(Unit(2000, 5));
    ASSERT_TRUE(pos.ok());
    EXPECT_EQ(*pos, 5 * TimerUnit::kSize);
  }
  EXPECT_EQ(Reopen(dir.path(), 4).size(), 6u);
}

TEST(TimerLogTest, PartialUnitAtTheEndIsTruncated) {
  mq::testing::TempDir dir;
  {
    TimerLog log(dir.path(), 8);
    ASSERT_TRUE(log.Open([](int64_t, const TimerUnit&) {}).ok());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(log.Append(Unit(1000, i)).ok());
  }
  const std::string first = dir.path() + "/" + OffsetToFileName(0);
  ASSERT_EQ(::truncate(first.c_str(), 2 * TimerUnit::kSize + 17), 0);
  auto seen = Reopen(dir.path(), 8);
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_EQ(std::filesystem::file_size(first), static_cast<uintmax_t>(2 * TimerUnit::kSize));
}

TEST(TimerLogTest, DeletesOnlySegmentsWhoseSlotsAreAllDone) {
  mq::testing::TempDir dir;
  TimerLog log(dir.path(), 2);
  ASSERT_TRUE(log.Open([](int64_t, const TimerUnit&) {}).ok());
  for (int64_t slot : {1000, 2000, 1000, 5000, 3000, 3000}) ASSERT_TRUE(log.Append(Unit(slot, 0)).ok());
  EXPECT_EQ(log.DeleteDoneSegments(2000), 0);  // the first holds slot 2000
  EXPECT_EQ(log.DeleteDoneSegments(2001), 1);
  EXPECT_EQ(log.DeleteDoneSegments(4000), 0);  // the second holds slot 5000
  EXPECT_EQ(log.DeleteDoneSegments(9000), 1);  // the active (last) segment stays
  EXPECT_EQ(log.segment_count(), 1u);
  EXPECT_FALSE(log.Read(0).ok());
  EXPECT_TRUE(log.Read(4 * TimerUnit::kSize).ok());
}

}  // namespace
}  // namespace mq::broker::timer
