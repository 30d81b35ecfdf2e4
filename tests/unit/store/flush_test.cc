// The store's flush as its callers see it: SYNC_FLUSH group commit and its deadline, the
// ASYNC_FLUSH interval flush, a failed flush, and which of these runs a watchdog thread.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "broker/store/message_store.h"
#include "store_test_util.h"
#include "testutil/proc_status.h"
#include "testutil/wait.h"

namespace mq::store {
namespace {

using mq::testing::ThreadNames;
using mq::testing::WaitUntil;
using testing::Msg;
using testing::PutSync;

class StoreFlushTest : public testing::StoreFixture {};

TEST_F(StoreFlushTest, SyncFlushCompletesWhenDurableAndGatesReads) {
  options_.flush_disk_type = FlushDiskType::kSyncFlush;
  options_.flush_interval_commit_log_ms = 10000;  // only group commit flushes
  auto store = Open();
  std::atomic<int> done{0};
  std::atomic<int> ok{0};
  for (int i = 0; i < 200; ++i) {
    store->PutMessage(Msg("S", i % 4, "sync-" + std::to_string(i)), [&](const PutResult& r) {
      if (r.ok()) ++ok;
      ++done;
    });
  }
  ASSERT_TRUE(WaitUntil([&] { return done.load() == 200; }));
  EXPECT_EQ(ok.load(), 200);
  EXPECT_EQ(store->FlushedPhyOffset(), store->MaxPhyOffset());
  ASSERT_TRUE(WaitUntil([&] { return store->MaxOffsetInQueue("S", 3) == 50; }));
  EXPECT_LE(store->DispatchedPhyOffset(), store->FlushedPhyOffset());
}

TEST_F(StoreFlushTest, SyncFlushTimeoutReported) {
  options_.flush_disk_type = FlushDiskType::kSyncFlush;
  // The stuck flush is held until the put has timed out, and the timeout is long enough for a
  // healthy flush on a loaded machine, so neither put depends on how fast the disk is today.
  options_.sync_flush_timeout_ms = 500;
  auto stuck = std::make_shared<std::atomic<bool>>(false);
  options_.fault_hook = [stuck](std::string_view op, const std::string&) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (op == "flush" && stuck->load() && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return Status::OK();
  };
  auto store = Open();
  stuck->store(true);
  auto r = PutSync(*store, Msg("S", 0, "slow"));
  EXPECT_EQ(r.status, PutStatus::kFlushDiskTimeout);
  stuck->store(false);
  // Once the stuck flush finishes, puts are fast again.
  ASSERT_TRUE(WaitUntil([&] { return store->FlushedPhyOffset() == store->MaxPhyOffset(); }));
  EXPECT_TRUE(PutSync(*store, Msg("S", 0, "fast")).ok());
}

// Only SYNC_FLUSH puts wait on the flush, so only a SYNC_FLUSH store runs the thread that times
// them out: an ASYNC_FLUSH broker (the default) would otherwise wake it 100 times a second.
// A thread names itself once it runs, so the counts are read once no thread but the test's
// own carries the binary's name.
TEST_F(StoreFlushTest, OnlyASyncFlushStoreRunsTheFlushWatchdog) {
  auto threads_named = [](const std::string& name) { return ThreadNames(getpid())[name]; };
  std::string unnamed;
  ASSERT_TRUE(std::getline(std::ifstream("/proc/self/comm"), unnamed));
  const int before = threads_named(unnamed);  // the test's own threads
  auto all_named = [&] { return WaitUntil([&] { return threads_named(unnamed) == before; }); };
  {
    auto store = Open();
    ASSERT_TRUE(all_named());
    EXPECT_EQ(threads_named("mq-flush"), 1);
    EXPECT_EQ(threads_named("mq-flush-watch"), 0);
  }
  options_.flush_disk_type = FlushDiskType::kSyncFlush;
  auto store = Open();
  ASSERT_TRUE(all_named());
  EXPECT_EQ(threads_named("mq-flush-watch"), 1);
  EXPECT_TRUE(PutSync(*store, Msg("W", 0, "durable")).ok());
}

TEST_F(StoreFlushTest, AsyncFlushEventuallyDurable) {
  auto store = Open();
  ASSERT_TRUE(PutSync(*store, Msg("A", 0, "async")).ok());
  ASSERT_TRUE(WaitUntil([&] { return store->FlushedPhyOffset() == store->MaxPhyOffset(); }));
}

// With ASYNC_FLUSH, a flush also starts once flush_commit_log_every_bytes were appended since the
// last, on a master's puts and on a slave's replicated bytes alike: at a high rate the period
// alone leaves one pass tens of MB to write back in one piece. Here the period is an hour, so
// only the byte mark can flush within the test.
TEST_F(StoreFlushTest, AsyncFlushAlsoStartsOnceEnoughBytesWereAppended) {
  options_.flush_interval_commit_log_ms = 3'600'000;
  options_.flush_commit_log_every_bytes = 64 << 10;
  auto store = Open();
  const std::string body(1024, 'b');
  while (store->MaxPhyOffset() < (32 << 10)) ASSERT_TRUE(PutSync(*store, Msg("F", 0, body)).ok());
  EXPECT_EQ(store->FlushedPhyOffset(), 0);  // under the mark nothing asked for a flush
  while (store->MaxPhyOffset() < (64 << 10)) ASSERT_TRUE(PutSync(*store, Msg("F", 0, body)).ok());
  const int64_t crossed = store->MaxPhyOffset();
  ASSERT_TRUE(WaitUntil([&] { return store->FlushedPhyOffset() >= crossed; }));

  StoreOptions replica_options = options_;
  replica_options.store_path_root_dir = dir_.Sub("replica");
  replica_options.replica = true;
  auto replica = testing::OpenStore(replica_options, &clock_);
  auto bytes = store->ReadReplicaBytes(0, 1 << 20);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  ASSERT_TRUE(replica->ReplicaAppend(0, *bytes).ok());
  ASSERT_GE(replica->MaxPhyOffset(), options_.flush_commit_log_every_bytes);
  ASSERT_TRUE(WaitUntil([&] { return replica->FlushedPhyOffset() == replica->MaxPhyOffset(); }));
  replica->Shutdown();
  store->Shutdown();
}

TEST_F(StoreFlushTest, FailedFlushLatchesReadOnly) {
  options_.flush_disk_type = FlushDiskType::kSyncFlush;
  auto fail = std::make_shared<std::atomic<bool>>(false);
  options_.fault_hook = [fail](std::string_view op, const std::string& path) {
    if (op == "flush" && fail->load()) return Status::IoError("injected EIO on msync " + path);
    return Status::OK();
  };
  auto store = Open();
  ASSERT_TRUE(PutSync(*store, Msg("E", 0, "before")).ok());
  fail->store(true);
  auto r = PutSync(*store, Msg("E", 0, "during"));
  EXPECT_EQ(r.status, PutStatus::kServiceNotAvailable);
  EXPECT_NE(r.error.find("injected EIO"), std::string::npos) << r.error;
  fail->store(false);  // even when the disk "recovers", the latch stays
  r = PutSync(*store, Msg("E", 0, "after"));
  EXPECT_EQ(r.status, PutStatus::kServiceNotAvailable);
  EXPECT_NE(r.error.find("read-only"), std::string::npos) << r.error;
  EXPECT_FALSE(store->BackgroundError().ok());
  store->Shutdown();
  EXPECT_TRUE(std::filesystem::exists(dir_.Sub("abort")));  // next start recovers
}

// Pages of `path` in the page cache, read with mincore() over a mapping of our own.
int64_t CachedPages(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return -1;
  const auto size = static_cast<size_t>(std::filesystem::file_size(path));
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return -1;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> resident((size + page - 1) / page);
  int64_t cached = -1;
  if (::mincore(map, size, resident.data()) == 0) {
    cached = 0;
    for (unsigned char r : resident) cached += r & 1;
  }
  ::munmap(map, size);
  return cached;
}

// The flush thread drops the durable log more than commit_log_page_cache_bytes behind its
// flushed end from the page cache, so the log's cache stops growing; a read of dropped bytes
// comes back from the file. With 0 nothing is dropped.
TEST_F(StoreFlushTest, FlushedLogBehindItsPageCacheWindowLeavesTheCacheAndStaysReadable) {
  for (const int64_t window : {int64_t{4} << 20, int64_t{0}}) {
    SCOPED_TRACE("commit_log_page_cache_bytes " + std::to_string(window));
    mq::testing::TempDir dir;
    options_ = testing::SmallOptions(dir.path());
    options_.mapped_file_size_commit_log = 8 << 20;
    options_.max_message_size = 64 * 1024;
    options_.commit_log_page_cache_bytes = window;
    auto store = Open();
    // 40 MiB: the first segments end more than the window and a drop step behind the end.
    constexpr int kMessages = 640;
    std::vector<int64_t> offsets;
    for (int i = 0; i < kMessages; ++i) {
      auto r =
          PutSync(*store, Msg("W", i % 4, std::string(64 * 1024 - 1024, static_cast<char>('a' + i % 26))));
      ASSERT_TRUE(r.ok()) << r.error;
      offsets.push_back(r.physical_offset);
    }
    ASSERT_TRUE(WaitUntil([&] { return store->FlushedPhyOffset() == store->MaxPhyOffset(); }));
    const std::string first_segment = dir.Sub("commitlog/00000000000000000000");
    const std::string last_segment = dir.Sub("commitlog/00000000000033554432");
    if (window > 0) {
      ASSERT_TRUE(WaitUntil([&] { return CachedPages(first_segment) == 0; }))
          << CachedPages(first_segment) << " pages of the first segment still cached";
    } else {
      // One more flush pass after the one that flushed the rest (a pass drops after it
      // flushes): had it dropped anything, the first segment would be gone from the cache.
      ASSERT_TRUE(PutSync(*store, Msg("W", 0, "one more")).ok());
      ASSERT_TRUE(WaitUntil([&] { return store->FlushedPhyOffset() == store->MaxPhyOffset(); }));
      // Nothing else takes the pages away on a machine not short of memory.
      EXPECT_GT(CachedPages(first_segment), (8 << 20) / ::sysconf(_SC_PAGESIZE) / 2);
    }
    EXPECT_GT(CachedPages(last_segment), 0);  // within the window
    auto first = store->LookMessageByOffset(offsets.front());
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    EXPECT_EQ(first->body, std::string(64 * 1024 - 1024, 'a'));
    store->Shutdown();
  }
}

}  // namespace
}  // namespace mq::store
