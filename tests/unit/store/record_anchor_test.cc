// FindRecordAnchor / ReadRecordAnchor: the last message before a log end, across BLANKs and
// segment rolls, walked whole or incrementally, and what is refused.
#include "broker/store/record_anchor.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/crc32c.h"
#include "store_test_util.h"
#include "testutil/temp_dir.h"

namespace mq::store {
namespace {

using mq::testing::TempDir;
using testing::Msg;
using testing::PutSync;
using testing::SmallOptions;

constexpr int64_t kSegment = 64 * 1024;

bool IsCorruption(const Status& s) { return s.code() == StatusCode::kCorruption; }

class RecordAnchorTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(store_.Start().ok()); }
  void TearDown() override { store_.Shutdown(); }

  // Puts `n` messages of about `size` bytes; returns each record's [offset, end).
  std::vector<std::pair<int64_t, int64_t>> Put(int n, size_t size) {
    std::vector<std::pair<int64_t, int64_t>> out;
    for (int i = 0; i < n; ++i) {
      auto r = PutSync(
          store_,
          Msg("T", 0, std::string(size + static_cast<size_t>(i % 7), 'a' + static_cast<char>(i % 26))));
      EXPECT_TRUE(r.ok()) << r.error;
      out.emplace_back(r.physical_offset, r.physical_offset + r.wrote_bytes);
    }
    return out;
  }

  TempDir dir_;
  MessageStore store_{SmallOptions(dir_.path())};
};

TEST_F(RecordAnchorTest, AnchorsEveryRecordBoundaryAndSegmentEnd) {
  auto records = Put(150, 1000);  // ~150 KB: two segment rolls, each leaving a BLANK
  ASSERT_GT(store_.MaxPhyOffset(), 2 * kSegment);
  int blanks = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    const auto [offset, end] = records[i];
    auto anchor = store_.FindRecordAnchor(end);
    ASSERT_TRUE(anchor.ok()) << anchor.status().ToString();
    EXPECT_EQ(anchor->offset, offset);
    EXPECT_EQ(anchor->size, end - offset);
    EXPECT_EQ(anchor->end, end);
    auto read = store_.ReadRecordAnchor(offset, end);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    EXPECT_EQ(*read, *anchor);
    // The next record starts a new segment: the log end after the BLANK anchors this record too.
    if (i + 1 < records.size() && records[i + 1].first != end) {
      ++blanks;
      const int64_t segment_end = records[i + 1].first;
      ASSERT_EQ(segment_end % kSegment, 0);
      auto after_blank = store_.FindRecordAnchor(segment_end);
      ASSERT_TRUE(after_blank.ok()) << after_blank.status().ToString();
      EXPECT_EQ(after_blank->offset, offset);
      EXPECT_EQ(after_blank->crc32c, anchor->crc32c);
      EXPECT_EQ(after_blank->end, segment_end);
      auto read_blank = store_.ReadRecordAnchor(offset, segment_end);
      ASSERT_TRUE(read_blank.ok()) << read_blank.status().ToString();
      EXPECT_EQ(*read_blank, *after_blank);
    }
  }
  EXPECT_EQ(blanks, 2);
}

TEST_F(RecordAnchorTest, CrcCoversTheWholeRecord) {
  auto records = Put(3, 500);
  auto anchor = store_.FindRecordAnchor(records[1].second);
  ASSERT_TRUE(anchor.ok());
  auto msg = store_.LookMessageByOffset(records[1].first);
  ASSERT_TRUE(msg.ok());
  auto raw = store_.ReadReplicaBytes(records[1].first, 1);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->size(), static_cast<size_t>(anchor->size));
  EXPECT_EQ(anchor->crc32c, crc32c::Value(*raw));
}

TEST_F(RecordAnchorTest, IncrementalWalkAgreesWithAFullOne) {
  auto records = Put(150, 1000);
  RecordAnchor known;
  bool have = false;
  // Chunks as a replica receives them: ReadReplicaBytes ends on record boundaries or a BLANK.
  int64_t pos = 0;
  while (pos < store_.MaxPhyOffset()) {
    auto chunk = store_.ReadReplicaBytes(pos, 3000);
    ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
    pos += static_cast<int64_t>(chunk->size());
    auto inc = store_.FindRecordAnchor(pos, have ? &known : nullptr);
    auto full = store_.FindRecordAnchor(pos);
    ASSERT_TRUE(inc.ok()) << pos << ": " << inc.status().ToString();
    ASSERT_TRUE(full.ok()) << pos << ": " << full.status().ToString();
    EXPECT_EQ(*inc, *full) << "end " << pos;
    known = *inc;
    have = true;
  }
}

TEST_F(RecordAnchorTest, RefusesWhatIsNotARecordBoundary) {
  auto records = Put(150, 1000);
  EXPECT_TRUE(store_.FindRecordAnchor(0).status().IsNotFound());
  EXPECT_TRUE(IsCorruption(store_.FindRecordAnchor(records[2].second - 5).status()));
  EXPECT_TRUE(store_.FindRecordAnchor(store_.MaxPhyOffset() + 1).status().IsInvalidArgument());
  // Inside the BLANK that closes the first segment.
  size_t last_in_first = 0;
  while (records[last_in_first + 1].first < kSegment) ++last_in_first;
  auto in_blank = store_.FindRecordAnchor(records[last_in_first].second + 4);
  EXPECT_TRUE(IsCorruption(in_blank.status())) << in_blank.status().ToString();

  // The master's side: the claimed last record must be a message ending at (or BLANK-padded
  // up to) the claimed end.
  EXPECT_TRUE(IsCorruption(store_.ReadRecordAnchor(records[1].first + 3, records[1].second).status()));
  auto short_end = store_.ReadRecordAnchor(records[1].first, records[1].second - 1);
  EXPECT_TRUE(IsCorruption(short_end.status())) << short_end.status().ToString();
  auto followed = store_.ReadRecordAnchor(records[1].first, records[2].second);
  EXPECT_TRUE(IsCorruption(followed.status()));
  EXPECT_NE(followed.status().message().find("not by a BLANK"), std::string::npos)
      << followed.status().ToString();
  EXPECT_TRUE(
      store_.ReadRecordAnchor(records[1].first, store_.MaxPhyOffset() + 10).status().IsInvalidArgument());
}

}  // namespace
}  // namespace mq::store
