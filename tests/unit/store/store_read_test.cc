// GetMessages reads a queue's records in runs (the adjacent records of a queue in one read): a
// run ends where the next record is not adjacent (a segment's blank, other queues' records), and
// each record of a run is verified on its own.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "broker/store/message_store.h"
#include "common/coding.h"
#include "common/file_util.h"
#include "store_test_util.h"
#include "testutil/wait.h"

namespace mq::store {
namespace {

using mq::testing::WaitUntil;
using testing::Msg;
using testing::PutSync;

class StoreReadTest : public testing::StoreFixture {
 protected:
  // Puts `n` messages of 1 KiB to queue T-0 (adjacent in the log); their physical offsets.
  std::vector<int64_t> PutAdjacent(MessageStore& store, int n) {
    std::vector<int64_t> offsets;
    for (int i = 0; i < n; ++i) {
      auto put = PutSync(store, Msg("T", 0, Body(i)));
      EXPECT_TRUE(put.ok()) << put.error;
      offsets.push_back(put.physical_offset);
    }
    EXPECT_TRUE(WaitUntil([&] { return store.MaxOffsetInQueue("T", 0) == n; }));
    return offsets;
  }
  static std::string Body(int i) {
    return std::string(1000, static_cast<char>('a' + i % 26)) + std::to_string(i);
  }

  // The bodies of the records back to back in `records`, or a failure.
  static std::vector<std::string> Bodies(std::string_view records) {
    std::vector<std::string> bodies;
    Status s = record::ForEachRecord(records, /*verify_crc=*/true,
                                     [&](const RecordView& view) { bodies.emplace_back(view.body); });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return bodies;
  }
};

TEST_F(StoreReadTest, AQueuesRecordsAcrossSegmentRollsComeBackInOnePull) {
  auto store = Open();  // 64 KiB log segments hold 58 such records; a queue segment 100 units
  const auto offsets = PutAdjacent(*store, 90);
  ASSERT_EQ(offsets.back() / options_.mapped_file_size_commit_log, 1);
  std::string records;
  auto joined = store->GetMessages("g", "T", 0, 0, 200, 1 << 20, {}, {}, &records);
  auto each = store->GetMessages("g", "T", 0, 0, 200, 1 << 20);
  ASSERT_EQ(joined.status, GetMessageStatus::kFound);
  ASSERT_EQ(joined.queue_offsets.size(), 90u);
  EXPECT_EQ(joined.queue_offsets, each.queue_offsets);
  EXPECT_EQ(joined.next_begin_offset, 90);
  EXPECT_EQ(joined.last_phy_offset, offsets.back());
  const auto bodies = Bodies(records);
  ASSERT_EQ(bodies.size(), 90u);
  ASSERT_EQ(each.messages.size(), 90u);
  for (int i = 0; i < 90; ++i) EXPECT_EQ(bodies[i], Body(i)) << i;
  std::string expected;
  for (const auto& record : each.messages) expected += record;
  EXPECT_EQ(records, expected);
}

TEST_F(StoreReadTest, ADamagedRecordInsideARunIsSkippedAndItsNeighboursServed) {
  auto store = Open();
  const auto offsets = PutAdjacent(*store, 10);
  // One body byte of the sixth record, changed in the segment file under the running store.
  const int64_t segment =
      offsets[5] / options_.mapped_file_size_commit_log * options_.mapped_file_size_commit_log;
  const std::string path = options_.store_path_root_dir + "/commitlog/" + OffsetToFileName(segment);
  int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::pwrite(fd, "#", 1, offsets[5] - segment + 500), 1);
  ::close(fd);

  std::string records;
  auto joined = store->GetMessages("g", "T", 0, 0, 32, 1 << 20, {}, {}, &records);
  auto each = store->GetMessages("g", "T", 0, 0, 32, 1 << 20);
  const std::vector<int64_t> served{0, 1, 2, 3, 4, 6, 7, 8, 9};
  EXPECT_EQ(joined.queue_offsets, served);
  EXPECT_EQ(each.queue_offsets, served);
  EXPECT_EQ(joined.next_begin_offset, 10);
  const auto bodies = Bodies(records);
  ASSERT_EQ(bodies.size(), served.size());
  for (size_t i = 0; i < served.size(); ++i) EXPECT_EQ(bodies[i], Body(static_cast<int>(served[i])));
  // A pull that starts at the damaged record skips it too.
  records.clear();
  auto from_damaged = store->GetMessages("g", "T", 0, 5, 2, 1 << 20, {}, {}, &records);
  EXPECT_EQ(from_damaged.queue_offsets, (std::vector<int64_t>{6, 7}));
  EXPECT_EQ(Bodies(records), (std::vector<std::string>{Body(6), Body(7)}));
}

// A run stops at a unit the tag filter rejects, so the records after it come in a run of their
// own: every matching record is served, in both forms, and a count bound ends the pull early.
TEST_F(StoreReadTest, ATagFilteredPullOverAdjacentRecordsServesEveryMatch) {
  auto store = Open();
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(PutSync(*store, Msg("T", 0, Body(i), i % 3 == 0 ? "TagA" : "TagB")).ok());
  }
  ASSERT_TRUE(WaitUntil([&] { return store->MaxOffsetInQueue("T", 0) == 30; }));
  std::vector<int64_t> tag_a;
  std::vector<std::string> tag_a_bodies;
  for (int i = 0; i < 30; i += 3) {
    tag_a.push_back(i);
    tag_a_bodies.push_back(Body(i));
  }
  std::string records;
  auto joined = store->GetMessages("g", "T", 0, 0, 32, 1 << 20, MakeTagFilter({"TagA"}), {}, &records);
  auto each = store->GetMessages("g", "T", 0, 0, 32, 1 << 20, MakeTagFilter({"TagA"}));
  EXPECT_EQ(joined.queue_offsets, tag_a);
  EXPECT_EQ(each.queue_offsets, tag_a);
  EXPECT_EQ(Bodies(records), tag_a_bodies);
  records.clear();
  auto first_two = store->GetMessages("g", "T", 0, 1, 2, 1 << 20, MakeTagFilter({"TagB"}), {}, &records);
  EXPECT_EQ(first_two.queue_offsets, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(first_two.next_begin_offset, 3);
  EXPECT_EQ(Bodies(records), (std::vector<std::string>{Body(1), Body(2)}));
}

// A damaged unit naming most of a segment is dropped on its record's own size, and the pull
// reserves nothing for it; the records after it are served.
TEST_F(StoreReadTest, ALargeUnitWhoseRecordIsAnotherSizeIsDropped) {
  options_.mapped_file_size_commit_log = 8 << 20;
  options_.max_message_size = 4 << 20;
  auto store = Open();
  const std::string big(3 << 20, 'b');
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(PutSync(*store, Msg("T", 0, big + std::to_string(i))).ok());
  ASSERT_TRUE(WaitUntil([&] { return store->MaxOffsetInQueue("T", 0) == 3; }));
  // Unit 0's size field (bytes 8-11 of the unit) says 6 MiB: within the log, not the record.
  const std::string path = options_.store_path_root_dir + "/consumequeue/T/0/" + OffsetToFileName(0);
  int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0) << path;
  char size_be[4];
  EncodeFixed32BE(size_be, 6u << 20);
  ASSERT_EQ(::pwrite(fd, size_be, 4, 8), 4);
  ::close(fd);

  std::string records;
  auto r = store->GetMessages("g", "T", 0, 0, 32, 1 << 20, {}, {}, &records);
  EXPECT_EQ(r.queue_offsets, (std::vector<int64_t>{1}));  // then the byte bound
  EXPECT_EQ(Bodies(records), (std::vector<std::string>{big + "1"}));
  EXPECT_LT(records.capacity(), size_t{5} << 20);
  auto each = store->GetMessages("g", "T", 0, 0, 32, 64 << 20);
  EXPECT_EQ(each.queue_offsets, (std::vector<int64_t>{1, 2}));
}

}  // namespace
}  // namespace mq::store
