// The key index is synced on its own interval (flushIntervalIndex), not at every checkpoint:
// between its syncs the checkpoint's logic offset stays at the last synced point, so a crash
// that loses the unsynced index re-indexes from there; a clean shutdown syncs it. Index syncs are
// observed through the store's FaultHook seam (op "flush", one per msync).
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>

#include "broker/store/checkpoint.h"
#include "common/file_util.h"
#include "store_test_util.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::store {
namespace {

namespace fs = std::filesystem;
using mq::testing::TempDir;
using mq::testing::WaitUntil;
using testing::Msg;
using testing::PutSync;

class IndexSyncTest : public testing::StoreFixture {
 protected:
  IndexSyncTest() {
    options_.fault_hook = [this](std::string_view op, const std::string& path) -> Status {
      if (op == "flush" && path.find("/index/") != std::string::npos) ++index_syncs_;
      return Status::OK();
    };
  }

  // Puts the messages with UNIQ_KEY u<from> .. u<to - 1>.
  static void PutKeyed(MessageStore& store, int from, int to) {
    for (int i = from; i < to; ++i) {
      ASSERT_TRUE(
          PutSync(store, Msg("I", i % 2, "body" + std::to_string(i), "", "", "u" + std::to_string(i))).ok());
    }
  }
  static int Found(const MessageStore& store, int n) {
    int found = 0;
    for (int i = 0; i < n; ++i)
      found += store.QueryMessageByUniqueKey("I", "u" + std::to_string(i)).ok() ? 1 : 0;
    return found;
  }
  StoreCheckpoint Checkpoint(const std::string& root) const {
    auto cp = StoreCheckpoint::Load(root + "/checkpoint");
    return cp.ok() ? *cp : StoreCheckpoint{};
  }
  // Waits for a checkpoint written after the whole log was flushed.
  bool WaitForCheckpointCovering(int64_t end) {
    return WaitUntil([&] { return Checkpoint(dir_.path()).physic_offset == end; });
  }
  // Copies the running store's files to `to` as a crash leaves them (abort marker included),
  // once a checkpoint covers its whole log.
  ::testing::AssertionResult CopyAsCrashed(const MessageStore& store, const TempDir& to) {
    if (!WaitForCheckpointCovering(store.MaxPhyOffset()))
      return ::testing::AssertionFailure() << "no checkpoint covered the log";
    fs::copy(dir_.path(), to.path(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    return ::testing::AssertionSuccess();
  }
  // A store started on the copy in `root`, recovering from it.
  std::unique_ptr<MessageStore> OpenCopy(const TempDir& root) {
    StoreOptions options = options_;
    options.store_path_root_dir = root.path();
    return testing::OpenStore(options, &clock_);
  }

  std::atomic<int> index_syncs_{0};
};

TEST_F(IndexSyncTest, CheckpointsBetweenIndexSyncsKeepTheLogicOffsetAtTheLastSync) {
  options_.flush_interval_index_ms = 3'600'000;
  auto store = Open();
  PutKeyed(*store, 0, 20);
  const int64_t end = store->MaxPhyOffset();
  ASSERT_TRUE(WaitForCheckpointCovering(end));
  EXPECT_EQ(Checkpoint(dir_.path()).logic_offset, 0) << "the index was never synced: recovery starts at 0";
  EXPECT_EQ(index_syncs_.load(), 0);
  EXPECT_EQ(Found(*store, 20), 20);

  store->Shutdown();
  EXPECT_EQ(Checkpoint(dir_.path()).logic_offset, end) << "a clean shutdown syncs the index";
  EXPECT_EQ(index_syncs_.load(), 1);
}

TEST_F(IndexSyncTest, AZeroIntervalSyncsTheIndexAtEveryCheckpoint) {
  options_.flush_interval_index_ms = 0;
  auto store = Open();
  PutKeyed(*store, 0, 20);
  const int64_t end = store->MaxPhyOffset();
  ASSERT_TRUE(WaitUntil([&] { return Checkpoint(dir_.path()).logic_offset == end; }));
  EXPECT_GE(index_syncs_.load(), 1);
}

// A crash that loses everything the index wrote since it was created (the file exists, fallocated,
// all zeros: nothing of it was synced): recovery re-indexes from the checkpoint's logic offset and
// finds every key. With the logic offset at the dispatched end (as when the index was synced at
// every checkpoint) the re-dispatch would start past them and find none.
TEST_F(IndexSyncTest, ACrashBeforeTheIndexSyncReindexesFromTheCheckpoint) {
  options_.flush_interval_index_ms = 3'600'000;
  constexpr int kMessages = 40;
  TempDir crashed;
  {
    auto store = Open();
    PutKeyed(*store, 0, kMessages);
    ASSERT_TRUE(CopyAsCrashed(*store, crashed));
  }
  ASSERT_TRUE(fs::exists(crashed.Sub("abort")));
  // The unsynced index as a power cut leaves it.
  int index_files = 0;
  for (const auto& entry : fs::directory_iterator(crashed.Sub("index"))) {
    const auto size = fs::file_size(entry.path());
    std::ofstream(entry.path(), std::ios::binary | std::ios::trunc)
        .write(std::string(size, '\0').data(), size);
    ++index_files;
  }
  ASSERT_GT(index_files, 0);

  EXPECT_EQ(Found(*OpenCopy(crashed), kMessages), kMessages);
}

// A crash after the kernel wrote back some pages of the index written since its last sync, not
// others: the last synced file's header and slots as they were at the crash, its entries as they
// were at the sync, and a second file opened after the sync. Recovery keeps the synced entries,
// rebuilds the slots from them (a slot naming a lost entry would hide the older entries of its
// bucket) and re-indexes the rest: every key is found. Without the repair the header's end offset
// made re-dispatch skip the lost keys.
TEST_F(IndexSyncTest, ACrashWithTheHeaderAndSlotsOnDiskButNotTheEntriesLosesNoKey) {
  options_.flush_interval_index_ms = 3'600'000;
  options_.max_index_num = 32;  // 31 entries a file: the second batch of keys opens a second file
  {
    auto store = Open();
    PutKeyed(*store, 0, 20);
  }
  // The first file as the clean shutdown's sync left it.
  auto synced = ReadFileToString(dir_.Sub("index/00000000000000000000"));
  ASSERT_TRUE(synced.ok()) << synced.status().ToString();
  TempDir crashed;
  {
    auto store = Open();
    PutKeyed(*store, 20, 40);
    ASSERT_TRUE(CopyAsCrashed(*store, crashed));
  }
  int files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(crashed.Sub("index"))) ++files;
  ASSERT_EQ(files, 2) << "the second batch should have opened a second index file";
  {
    const size_t entries_start = 40 + options_.max_hash_slot_num * 4;
    std::fstream torn(crashed.Sub("index/00000000000000000000"),
                      std::ios::binary | std::ios::in | std::ios::out);
    torn.seekp(static_cast<std::streamoff>(entries_start));
    torn.write(synced->data() + entries_start, static_cast<std::streamsize>(synced->size() - entries_start));
    ASSERT_TRUE(torn.good());
  }
  EXPECT_EQ(Found(*OpenCopy(crashed), 40), 40);
}

}  // namespace
}  // namespace mq::store
