// IndexService flushes incrementally: only files written since the last Flush are synced, a
// failed sync leaves them dirty for the next attempt, and what was flushed reads back after a
// reload. Syncs are observed through the store's FaultHook seam (op "flush", one per msync).
// The on-disk entries follow RocketMQ's layout (hash of "topic#key").
#include "broker/store/index_service.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>

#include "broker/store/message_format.h"
#include "common/coding.h"
#include "testutil/temp_dir.h"

namespace mq::store {
namespace {

using mq::testing::TempDir;

class IndexFlushTest : public ::testing::Test {
 protected:
  IndexFlushTest() {
    options_.store_path_root_dir = dir_.path();
    // Tiny files: 4 entries each (entry 0 is never used), so a few keys span several files.
    options_.max_hash_slot_num = 8;
    options_.max_index_num = 4;
    options_.fault_hook = [this](std::string_view op, const std::string& path) -> Status {
      if (op != "flush") return Status::OK();
      if (fail_next_flush_) {
        fail_next_flush_ = false;
        return Status::IoError("injected msync failure");
      }
      ++flushes_[path];
      return Status::OK();
    };
  }

  // Indexes one record with UNIQ_KEY `key` (and KEYS `keys`) at commit log offset `phy` (100
  // bytes long).
  static void Put(IndexService& index, const std::string& key, int64_t phy, const std::string& keys = "") {
    IndexRequest req;
    req.topic = "T";
    req.uniq_key = key;
    req.keys = keys;
    req.phy_offset = phy;
    req.size = 100;
    req.store_timestamp = 1'700'000'000'000;
    ASSERT_TRUE(index.BuildIndex(req).ok());
  }
  // Each of k0 .. k<n-1> is found once, at its Put offset (i * 100).
  static void ExpectKeysAtTheirOffsets(IndexService& index, int n) {
    for (int i = 0; i < n; ++i) {
      auto found = index.Query("T", "k" + std::to_string(i), 10, 0, INT64_MAX);
      ASSERT_EQ(found.size(), 1u) << "k" << i;
      EXPECT_EQ(found[0], i * 100);
    }
  }
  int TotalFlushes() const {
    int n = 0;
    for (const auto& [path, count] : flushes_) n += count;
    return n;
  }

  TempDir dir_;
  StoreOptions options_;
  std::map<std::string, int> flushes_;  // path -> syncs
  bool fail_next_flush_ = false;
};

// RocketMQ's index layout: a key is stored as the Java hashCode of "topic#key" (made
// non-negative), in the slot that hash picks; entry n sits after the 40-byte header and the slots.
TEST_F(IndexFlushTest, EntriesHoldTheHashOfTopicHashKey) {
  IndexService index(options_);
  ASSERT_TRUE(index.Load().ok());
  Put(index, "k0", 0);
  ASSERT_TRUE(index.Flush().ok());
  std::ifstream in(dir_.path() + "/index/00000000000000000000", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const int32_t slots = options_.max_hash_slot_num;
  ASSERT_GE(bytes.size(), static_cast<size_t>(40 + slots * 4 + 2 * 20));
  int32_t hash = JavaHashCode("T#k0");
  hash = hash == INT32_MIN ? 0 : (hash < 0 ? -hash : hash);
  const size_t entry = 40 + slots * 4 + 1 * 20;  // entry 0 is never used
  EXPECT_EQ(static_cast<int32_t>(DecodeFixed32BE(bytes.data() + entry)), hash);
  EXPECT_EQ(static_cast<int64_t>(DecodeFixed64BE(bytes.data() + entry + 4)), 0);
  EXPECT_EQ(static_cast<int32_t>(DecodeFixed32BE(bytes.data() + 40 + (hash % slots) * 4)), 1);
}

TEST_F(IndexFlushTest, SyncsOnlyFilesWrittenSinceTheLastFlush) {
  IndexService index(options_);
  ASSERT_TRUE(index.Load().ok());
  ASSERT_TRUE(index.Flush().ok());
  EXPECT_EQ(TotalFlushes(), 0) << "nothing indexed, nothing to sync";

  for (int i = 0; i < 5; ++i) Put(index, "k" + std::to_string(i), i * 100);  // 3 + 2: two files
  ASSERT_TRUE(index.Flush().ok());
  ASSERT_EQ(flushes_.size(), 2u);
  EXPECT_EQ(TotalFlushes(), 2);

  ASSERT_TRUE(index.Flush().ok());
  EXPECT_EQ(TotalFlushes(), 2) << "an unchanged index is not synced again";

  Put(index, "k5", 500);  // into the newest file only
  flushes_.clear();
  ASSERT_TRUE(index.Flush().ok());
  ASSERT_EQ(flushes_.size(), 1u);
  EXPECT_EQ(flushes_.begin()->first, dir_.Sub("index/00000000000000000300"));
}

TEST_F(IndexFlushTest, FailedSyncLeavesTheFileDirtyForTheNextFlush) {
  IndexService index(options_);
  ASSERT_TRUE(index.Load().ok());
  Put(index, "a", 0);
  fail_next_flush_ = true;
  EXPECT_FALSE(index.Flush().ok());
  EXPECT_EQ(TotalFlushes(), 0);
  ASSERT_TRUE(index.Flush().ok());
  EXPECT_EQ(TotalFlushes(), 1) << "the failed file is synced by the next Flush";
}

TEST_F(IndexFlushTest, FlushedEntriesReadBackAfterReload) {
  {
    IndexService index(options_);
    ASSERT_TRUE(index.Load().ok());
    for (int i = 0; i < 7; ++i) Put(index, "k" + std::to_string(i), i * 100);
    ASSERT_TRUE(index.Flush().ok());
  }
  IndexService reloaded(options_);
  ASSERT_TRUE(reloaded.Load().ok());
  EXPECT_EQ(reloaded.IndexedEnd(), 700);
  ExpectKeysAtTheirOffsets(reloaded, 7);
}

// The process died right after creating the next index file, before its first entry: the file
// is there, its header all zeros. Recovery must not take it for the index's end (its end offset
// reads 0), or re-dispatching would re-index from the checkpoint into it, fill it, and open a
// "new" file at an offset that already has one (found by StoreCrashTest: a write past the end of
// a full file, then an abort in Flush).
TEST_F(IndexFlushTest, AFileDiedBeforeItsFirstEntryIsDroppedAtRecovery) {
  {
    IndexService index(options_);
    ASSERT_TRUE(index.Load().ok());
    for (int i = 0; i < 3; ++i) Put(index, "k" + std::to_string(i), i * 100);  // fills file 0
    ASSERT_TRUE(index.Flush().ok());
  }
  {
    // What the dead process left: the next file, sized, never written.
    std::ofstream(dir_.Sub("index/00000000000000000300"), std::ios::binary);
  }
  IndexService recovered(options_);
  ASSERT_TRUE(recovered.Load().ok());
  ASSERT_TRUE(recovered.Recover(400, /*synced_below=*/300).ok());
  EXPECT_EQ(recovered.IndexedEnd(), 300);
  // Re-dispatch from the checkpoint (0), as MessageStore does after a crash.
  for (int i = 0; i < 4; ++i) Put(recovered, "k" + std::to_string(i), i * 100);
  ASSERT_TRUE(recovered.Flush().ok());
  ExpectKeysAtTheirOffsets(recovered, 4);
}

TEST_F(IndexFlushTest, ARecordWhoseKeysFillAWholeFileDoesNotReopenIt) {
  IndexService index(options_);
  ASSERT_TRUE(index.Load().ok());
  // Five keys, three entries per file: the file named 0 is full after three.
  Put(index, "u", 0, "a b c d");
  Put(index, "next", 100);
  ASSERT_TRUE(index.Flush().ok());
  EXPECT_EQ(index.Query("T", "u", 10, 0, INT64_MAX), std::vector<int64_t>{0});
  EXPECT_EQ(index.Query("T", "next", 10, 0, INT64_MAX), std::vector<int64_t>{100});
}

}  // namespace
}  // namespace mq::store
