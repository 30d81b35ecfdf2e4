// Store errors are never silent: a failed consume queue, index or segment write latches the
// store read-only, every later put is refused naming the cause, and new files are durable
// (directory fsynced) and backed by disk blocks (no SIGBUS on a full disk).
// Faults come from the store's FaultHook seam and, where a real ENOSPC matters, from a small
// tmpfs mounted for the test (skipped with a reason when mounting is impossible).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <utility>

#include "broker/store/mapped_file.h"
#include "broker/store/message_store.h"
#include "store_test_util.h"
#include "testutil/temp_dir.h"
#include "testutil/tmpfs_mount.h"
#include "testutil/wait.h"

namespace mq::store {
namespace {

using mq::testing::TempDir;
using mq::testing::TmpfsMount;
using mq::testing::WaitUntil;
using testing::Msg;
using testing::PutSync;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class StoreErrorTest : public ::testing::Test {
 protected:
  TempDir dir_;
  StoreOptions options_ = testing::SmallOptions(dir_.Sub("store"));
  ManualClock clock_;

  std::unique_ptr<MessageStore> Open() { return testing::OpenStore(options_, &clock_); }
};

// Fails "create" of files whose path contains `part` while armed.
FaultHook FailCreateUnder(const std::string& part, std::shared_ptr<std::atomic<bool>> armed) {
  return [part, armed](std::string_view op, const std::string& path) {
    if (op == "create" && armed->load() && Contains(path, part)) {
      return Status::IoError("injected ENOSPC creating " + path);
    }
    return Status::OK();
  };
}

TEST_F(StoreErrorTest, ConsumeQueueWriteFailureLatchesAndRefusesPuts) {
  auto armed = std::make_shared<std::atomic<bool>>(false);
  options_.fault_hook = FailCreateUnder("/consumequeue/U/", armed);
  auto store = Open();
  ASSERT_TRUE(PutSync(*store, Msg("T", 0, "before")).ok());
  ASSERT_TRUE(WaitUntil([&] { return store->MaxOffsetInQueue("T", 0) == 1; }));

  armed->store(true);
  // Accepted: the record is in the commit log; only its consume queue cannot be written.
  ASSERT_TRUE(PutSync(*store, Msg("U", 0, "lost-queue")).ok());
  ASSERT_TRUE(WaitUntil([&] { return !store->BackgroundError().ok(); }))
      << "a failed consume queue write must latch the store";
  const std::string cause = store->BackgroundError().ToString();
  EXPECT_TRUE(Contains(cause, "consume queue U-0")) << cause;
  EXPECT_TRUE(Contains(cause, "injected ENOSPC")) << cause;

  auto r = PutSync(*store, Msg("T", 0, "after"));
  EXPECT_EQ(r.status, PutStatus::kServiceNotAvailable);
  EXPECT_TRUE(Contains(r.error, "read-only")) << r.error;
  EXPECT_TRUE(Contains(r.error, "consume queue U-0")) << r.error;
  EXPECT_EQ(store->MaxOffsetInQueue("T", 0), 1);

  // The dispatcher keeps retrying: once the cause is gone, what was acknowledged becomes
  // consumable; writes stay refused until a restart.
  armed->store(false);
  ASSERT_TRUE(WaitUntil([&] { return store->MaxOffsetInQueue("U", 0) == 1; }));
  EXPECT_EQ(PutSync(*store, Msg("T", 0, "still")).status, PutStatus::kServiceNotAvailable);
}

// Why a test cannot run at the descriptor limit here, or null: the sanitizer runtimes need
// descriptors of their own (UBSan's vptr check probes memory through a pipe, and reports a
// false "invalid vptr" when the limit denies it).
#if defined(__SANITIZE_ADDRESS__)
constexpr const char* kNoDescriptorLimit = "the sanitizer runtime needs descriptors of its own at the limit";
#else
constexpr const char* kNoDescriptorLimit = nullptr;
#endif

// Lowers this process's descriptor limit to the descriptors open now, so the next open fails
// with EMFILE, until Lift() or the end of the scope.
class DescriptorLimit {
 public:
  DescriptorLimit() {
    const int lowest_free = ::dup(0);
    if (lowest_free < 0 || ::getrlimit(RLIMIT_NOFILE, &saved_) != 0) return;
    ::close(lowest_free);
    rlimit exhausted = saved_;
    exhausted.rlim_cur = static_cast<rlim_t>(lowest_free);
    reached_ = ::setrlimit(RLIMIT_NOFILE, &exhausted) == 0;
  }
  ~DescriptorLimit() { Lift(); }
  bool reached() const { return reached_; }
  void Lift() {
    if (reached_) ::setrlimit(RLIMIT_NOFILE, &saved_);
    reached_ = false;
  }

 private:
  rlimit saved_{};
  bool reached_ = false;
};

// Before: at the process's descriptor limit the checkpoint's open failed with EMFILE and the
// store latched read-only for good, though the file holds no message and descriptors come back.
TEST_F(StoreErrorTest, OutOfDescriptorsTheCheckpointWaitsInsteadOfLatching) {
  if (kNoDescriptorLimit != nullptr) GTEST_SKIP() << kNoDescriptorLimit;
  auto cleans = std::make_shared<std::atomic<int>>(0);
  options_.clean_resource_interval_ms = 1;  // every maintenance tick: checkpoint, then a clean pass
  options_.disk_usage_probe = [cleans] {
    cleans->fetch_add(1);
    return 0.1;
  };
  auto store = Open();
  ASSERT_TRUE(PutSync(*store, Msg("T", 0, "before")).ok());
  ASSERT_TRUE(WaitUntil([&] { return testing::Dispatched(*store); }));  // its queue is open
  DescriptorLimit limit;
  ASSERT_TRUE(limit.reached());
  const int seen = cleans->load();
  // Two clean passes: at least one whole tick, checkpoint included, ran at the limit.
  const bool ticked = WaitUntil([&] { return cleans->load() >= seen + 2; });
  limit.Lift();
  ASSERT_TRUE(ticked);
  EXPECT_TRUE(store->BackgroundError().ok()) << store->BackgroundError().ToString();
  EXPECT_TRUE(PutSync(*store, Msg("T", 0, "after")).ok());
}

// The same for the commit log's next segment: the put that needs it is refused, and the store
// takes puts again once descriptors are back (it latched read-only before).
TEST_F(StoreErrorTest, OutOfDescriptorsARollIsRefusedUntilTheyAreBack) {
  if (kNoDescriptorLimit != nullptr) GTEST_SKIP() << kNoDescriptorLimit;
  auto store = Open();
  ASSERT_TRUE(PutSync(*store, Msg("T", 0, "before")).ok());
  ASSERT_TRUE(WaitUntil([&] { return testing::Dispatched(*store); }));  // its queue is open
  DescriptorLimit limit;
  ASSERT_TRUE(limit.reached());
  PutResult refused;
  refused.status = PutStatus::kOk;
  for (int i = 0; i < 64 && refused.ok(); ++i)
    refused = PutSync(*store, Msg("T", 0, std::string(10000, 'x')));
  limit.Lift();
  EXPECT_EQ(refused.status, PutStatus::kCreateMappedFileFailed);  // 64 puts span several segments
  EXPECT_TRUE(Contains(refused.error, std::strerror(EMFILE))) << refused.error;
  EXPECT_TRUE(store->BackgroundError().ok()) << store->BackgroundError().ToString();
  auto after = PutSync(*store, Msg("T", 0, "after"));
  EXPECT_TRUE(after.ok()) << after.error;
}

// And for a new consume queue: its message is stored, its queue cannot be opened; puts are
// refused naming the cause until it is, then taken again (the store latched read-only before).
TEST_F(StoreErrorTest, OutOfDescriptorsANewQueueStallsPutsUntilTheyAreBack) {
  if (kNoDescriptorLimit != nullptr) GTEST_SKIP() << kNoDescriptorLimit;
  auto store = Open();
  ASSERT_TRUE(PutSync(*store, Msg("T", 0, "before")).ok());
  ASSERT_TRUE(WaitUntil([&] { return testing::Dispatched(*store); }));
  DescriptorLimit limit;
  ASSERT_TRUE(limit.reached());
  const PutResult acked = PutSync(*store, Msg("New", 0, "acked"));
  const bool stalled = WaitUntil([&] { return !store->BackgroundError().ok(); });
  const PutResult refused = PutSync(*store, Msg("T", 0, "refused"));
  limit.Lift();
  ASSERT_TRUE(acked.ok()) << acked.error;
  ASSERT_TRUE(stalled);
  EXPECT_EQ(refused.status, PutStatus::kServiceNotAvailable);
  EXPECT_TRUE(Contains(refused.error, "consume queue New-0")) << refused.error;
  EXPECT_TRUE(Contains(refused.error, std::strerror(EMFILE))) << refused.error;
  ASSERT_TRUE(WaitUntil([&] {
    return store->BackgroundError().ok() && store->MaxOffsetInQueue("New", 0) == 1;
  })) << store->BackgroundError().ToString();
  auto after = PutSync(*store, Msg("T", 0, "after"));
  EXPECT_TRUE(after.ok()) << after.error;
}

TEST_F(StoreErrorTest, IndexWriteFailureLatchesAndRefusesPuts) {
  auto armed = std::make_shared<std::atomic<bool>>(false);
  options_.fault_hook = FailCreateUnder("/index/", armed);
  options_.max_index_num = 4;  // a new index file every 3 keys
  auto store = Open();
  ASSERT_TRUE(PutSync(*store, Msg("K", 0, "a", "", "k1")).ok());
  ASSERT_TRUE(WaitUntil([&] { return store->MaxOffsetInQueue("K", 0) == 1; }));
  armed->store(true);
  // Into the next index file. A put's records are dispatched on the putting thread when the
  // dispatcher sleeps, so the failure may latch the store before the next put.
  for (int i = 0; i < 4 && store->BackgroundError().ok(); ++i)
    ASSERT_TRUE(PutSync(*store, Msg("K", 0, "b", "", "k" + std::to_string(i))).ok());
  ASSERT_TRUE(WaitUntil([&] { return !store->BackgroundError().ok(); }))
      << "a failed index write must latch the store";
  auto r = PutSync(*store, Msg("K", 0, "after", "", "k9"));
  EXPECT_EQ(r.status, PutStatus::kServiceNotAvailable);
  EXPECT_TRUE(Contains(r.error, "index write")) << r.error;
  EXPECT_TRUE(Contains(r.error, "injected ENOSPC")) << r.error;
}

TEST_F(StoreErrorTest, NewSegmentDirectoriesAreFsynced) {
  std::mutex mu;
  std::set<std::pair<std::string, std::string>> ops;
  options_.preallocate_next_segment = false;
  options_.fault_hook = [&](std::string_view op, const std::string& path) {
    std::lock_guard lock(mu);
    ops.emplace(std::string(op), path);
    return Status::OK();
  };
  auto store = Open();
  for (int i = 0; i < 40; ++i)
    ASSERT_TRUE(PutSync(*store, Msg("D", 1, std::string(2000, 'd'), "", "k")).ok());
  ASSERT_TRUE(WaitUntil([&] { return store->MaxOffsetInQueue("D", 1) == 40; }));
  store->Shutdown();
  std::lock_guard lock(mu);
  for (const std::string dir : {"/commitlog", "/consumequeue/D/1", "/index"}) {
    EXPECT_TRUE(ops.count({"fsync_dir", options_.store_path_root_dir + dir})) << dir;
  }
}

TEST_F(StoreErrorTest, FailedDirectoryFsyncFailsTheRoll) {
  auto armed = std::make_shared<std::atomic<bool>>(false);
  options_.preallocate_next_segment = false;
  options_.fault_hook = [armed](std::string_view op, const std::string& path) {
    if (op == "fsync_dir" && armed->load()) return Status::IoError("injected EIO on fsync of " + path);
    return Status::OK();
  };
  auto store = Open();
  ASSERT_TRUE(PutSync(*store, Msg("F", 0, "first")).ok());
  ASSERT_TRUE(WaitUntil([&] { return store->MaxOffsetInQueue("F", 0) == 1; }));  // its queue exists
  armed->store(true);
  PutResult r;
  for (int i = 0; i < 100 && (r = PutSync(*store, Msg("F", 0, std::string(2000, 'x')))).ok(); ++i) {
  }
  EXPECT_EQ(r.status, PutStatus::kCreateMappedFileFailed);
  EXPECT_TRUE(Contains(r.error, "injected EIO on fsync")) << r.error;
  r = PutSync(*store, Msg("F", 0, "x"));
  EXPECT_EQ(r.status, PutStatus::kServiceNotAvailable);
  EXPECT_TRUE(Contains(r.error, "injected EIO on fsync")) << r.error;
}

TEST_F(StoreErrorTest, ZeroFromFailsWhenTheTailCannotBeReservedAgain) {
  auto file = MappedFile::Open(dir_.Sub("seg"), 0, 64 * 1024, true, nullptr);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  FaultHook no_space = [](std::string_view op, const std::string& path) {
    if (op == "fallocate") return Status::IoError("injected ENOSPC on fallocate " + path);
    return Status::OK();
  };
  Status s = (*file)->ZeroFrom(4096, no_space);
  EXPECT_EQ(s.code(), StatusCode::kIoError) << s.ToString();
  EXPECT_TRUE(Contains(s.ToString(), "injected ENOSPC")) << s.ToString();
  EXPECT_TRUE((*file)->ZeroFrom(4096, nullptr).ok());
}

// --- real ENOSPC on a small tmpfs ---------------------------------------------------------

// Writes `path` until the filesystem is full (bounded: at most `max_bytes`).
bool FillUp(const std::string& path, int64_t max_bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  std::string chunk(4096, 'f');
  bool full = false;
  for (int64_t written = 0; written < max_bytes; written += 4096) {
    if (std::fwrite(chunk.data(), 1, chunk.size(), f) != chunk.size() || std::fflush(f) != 0) {
      full = errno == ENOSPC;
      break;
    }
  }
  std::fclose(f);
  return full;
}

TEST_F(StoreErrorTest, ZeroFromOfASparseTailOnAFullDiskReportsEnospc) {
  TmpfsMount tmpfs(dir_.Sub("tmpfs"), 256 * 1024);
  if (!tmpfs.mounted()) GTEST_SKIP() << tmpfs.skip_reason();
  // A segment cut short (copy/restore): Load() extends it with a sparse tail.
  const std::string seg = tmpfs.dir() + "/seg";
  {
    std::ofstream out(seg, std::ios::binary);
    out << std::string(4096, 'r');
  }
  ASSERT_TRUE(FillUp(tmpfs.dir() + "/filler", 1 << 20));
  auto file = MappedFile::Open(seg, 0, 64 * 1024, false, nullptr);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  // Recovery zeroes the tail before appending into it; on a full disk that must fail here, not
  // as a SIGBUS on the first append through the mapping.
  Status s = (*file)->ZeroFrom(4096, nullptr);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
  EXPECT_TRUE(Contains(s.ToString(), std::strerror(ENOSPC))) << s.ToString();
}

TEST_F(StoreErrorTest, ConsumeQueueEnospcOnTmpfsRefusesPutsNamingTheCause) {
  TmpfsMount tmpfs(dir_.Sub("tmpfs"), 2 * 1024 * 1024);
  if (!tmpfs.mounted()) GTEST_SKIP() << tmpfs.skip_reason();
  options_.store_path_root_dir = tmpfs.dir() + "/store";
  // Commit log segments (64 KiB) fit; a consume queue segment (4 MB) cannot: the disk is far
  // from the diskSpaceWarningLevelRatio guard, yet the consume queue write fails for real.
  options_.mapped_file_size_consume_queue = 200000 * 20;
  auto store = Open();
  ASSERT_TRUE(PutSync(*store, Msg("Q", 2, "acked")).ok());
  ASSERT_TRUE(WaitUntil([&] { return !store->BackgroundError().ok(); }))
      << "ENOSPC on a consume queue must stop the store taking puts";
  auto r = PutSync(*store, Msg("Q", 2, "refused"));
  EXPECT_EQ(r.status, PutStatus::kServiceNotAvailable);
  EXPECT_TRUE(Contains(r.error, "consume queue Q-2")) << r.error;
  EXPECT_TRUE(Contains(r.error, std::strerror(ENOSPC))) << r.error;
  store->Shutdown();
}

}  // namespace
}  // namespace mq::store
