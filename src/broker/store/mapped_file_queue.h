// MappedFileQueue: the ordered, contiguous list of segment files of one log (the commit log,
// or one consume queue, or the index). Segment i starts at byte offset from_i, named by
// OffsetToFileName(from_i), and from_{i+1} == from_i + file_size.
//
// Owns: the shared_ptr<MappedFile> list (guarded by mu_), and optionally an allocator thread
// that creates and fallocates the next segment off the hot path (RocketMQ
// AllocateMappedFileService).
// Threads: one appender (serialised by the owner) calls GetLastOrCreate; one flusher calls
// Flush; readers call FindByOffset/Snapshot from any thread and keep the returned
// shared_ptr for as long as they read, so deletion never unmaps bytes under a reader.
// Locks: mu_ guards files_; alloc_mu_ guards the allocator state. Never held across I/O
// except file creation in GetLastOrCreate (rare: only when the allocator missed).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "broker/store/mapped_file.h"
#include "broker/store/store_options.h"
#include "common/result.h"

namespace mq::store {

class MappedFileQueue {
 public:
  // New segments are always fallocate'd (ENOSPC surfaces as a Status, not SIGBUS) and their
  // directory fsynced (the name survives a crash). With prepare_next, a background thread
  // creates and fallocates the next segment, and with append.zero_ahead it also writes zeros
  // ahead of the appender.
  MappedFileQueue(std::string dir, int32_t file_size, bool prepare_next, FaultHook hook,
                  AppendOptions append = {});
  ~MappedFileQueue();
  MappedFileQueue(const MappedFileQueue&) = delete;
  MappedFileQueue& operator=(const MappedFileQueue&) = delete;

  // What the owner passes to a file's SyncRange for writes it makes in place.
  const FaultHook& hook() const { return hook_; }

  // Opens every segment in dir (creating dir if missing). All positions are set to the
  // full file size; recovery then calls TruncateDirty() with the real end.
  Status Load();
  // Start offset of the first segment Load() found shorter than file_size (it was extended
  // with zeros: its tail is missing, so a checkpoint beyond it cannot be trusted), or -1.
  int64_t first_short_segment() const { return first_short_segment_; }

  const std::string& dir() const { return dir_; }
  int32_t file_size() const { return file_size_; }

  std::vector<std::shared_ptr<MappedFile>> Snapshot() const;
  std::shared_ptr<MappedFile> First() const;
  std::shared_ptr<MappedFile> Last() const;
  bool empty() const;
  // The segment containing byte `offset`, or nullptr.
  std::shared_ptr<MappedFile> FindByOffset(int64_t offset) const;

  // Appender: the last segment if it has room, else a new segment after it. When the queue
  // is empty the new segment starts at the segment boundary at or below `offset_if_empty`.
  Result<std::shared_ptr<MappedFile>> GetLastOrCreate(int64_t offset_if_empty);

  // With prepare_next: makes sure the segment for the next append exists (creating it if the
  // queue is empty or the last one is full) and starts warming it: with zero_ahead the
  // allocator thread keeps the pages up to kWarmAheadBytes past the write position zeroed, so
  // appends do not pay for the kernel's page zeroing (a whole 1 GiB segment up front would
  // waste CPU and memory).
  Status WarmActive(int64_t offset_if_empty);
  static constexpr int32_t kWarmAheadBytes = 64 * 1024 * 1024;
  // Once zeroed kWarmAheadBytes ahead, the allocator sleeps until the appender has used up a
  // step of the lead (MappedFile::WakeWhenWrittenTo), so an idle store's allocator never wakes.
  // Zeros written to disk go in small steps: 8 MiB bursts of writeback doubled the p99 of
  // SYNC_FLUSH sends (docs/benchmarks.md, tenth session).
  static constexpr int32_t kZeroWakeStepBytes = 1024 * 1024;
  static constexpr int32_t kZeroToDiskWakeStepBytes = 256 * 1024;

  // First byte offset still stored (0 if empty) / end of written data.
  int64_t MinOffset() const;
  int64_t MaxWrotOffset() const;
  int64_t FlushedWhere() const;

  // Flusher: msyncs every segment with unflushed bytes.
  Status Flush();
  // Flusher: MappedFile::DropCache of the flushed bytes of [from, to).
  void DropCache(int64_t from, int64_t to) const;

  // Drops everything at or beyond `offset`: later segments are deleted, the containing one
  // gets wrote = flushed = offset - from and, with zero_tail, a zeroed tail (skip it only when
  // the tail is known never written, e.g. after a clean shutdown). Not concurrent with appends.
  Status TruncateDirty(int64_t offset, bool zero_tail = true);

  // Deletes leading segments while pred(file) holds, at most max_files, never the last one.
  // Returns how many were deleted. pred runs without the queue's lock (it may read the file and
  // call back into the queue).
  int DeleteLeading(const std::function<bool(const MappedFile&)>& pred, int max_files);

  // Deletes every segment and the directory contents.
  Status DestroyAll();

 private:
  Result<std::shared_ptr<MappedFile>> CreateFile(int64_t from);
  // Creates, fallocates and maps segment `from`, then fsyncs the directory.
  Result<std::shared_ptr<MappedFile>> OpenNewFile(int64_t from) const;
  void RequestPrealloc(int64_t from);
  void AllocatorLoop();
  // Allocator thread, alloc_mu_ held (released around each write): zeroes warm_file_ up to
  // kWarmAheadBytes past the appender, then asks the appender to wake it a step later.
  void ZeroAheadOfAppender(std::unique_lock<std::mutex>& lock);
  void WantZeroing();

  const std::string dir_;
  const int32_t file_size_;
  const bool prepare_next_;
  const FaultHook hook_;
  const AppendOptions append_;
  int64_t first_short_segment_ = -1;  // set by Load(), before any other thread runs

  mutable std::mutex mu_;
  std::vector<std::shared_ptr<MappedFile>> files_;  // GUARDED_BY(mu_)

  std::mutex alloc_mu_;
  std::condition_variable alloc_cv_;
  std::optional<int64_t> alloc_request_;   // GUARDED_BY(alloc_mu_)
  bool alloc_busy_ = false;                // GUARDED_BY(alloc_mu_)
  std::shared_ptr<MappedFile> prepared_;   // GUARDED_BY(alloc_mu_)
  std::shared_ptr<MappedFile> warm_file_;  // GUARDED_BY(alloc_mu_) segment being written
  int32_t warmed_to_ = 0;                  // GUARDED_BY(alloc_mu_)
  bool alloc_stop_ = false;                // GUARDED_BY(alloc_mu_)
  bool zero_wanted_ = false;               // GUARDED_BY(alloc_mu_) warm_file_ needs zeroing
  bool zero_ahead_failed_ = false;         // allocator thread only
  std::thread alloc_thread_;
};

}  // namespace mq::store
