// MappedFile: one pre-sized segment file mapped read/write with mmap(MAP_SHARED).
//
// Owns the file descriptor and the mapping; both are released when the last shared_ptr
// goes away, so a reader holding a snapshot keeps the bytes valid even after Destroy()
// unlinked the file (this replaces RocketMQ's ReferenceResource hold/release).
//
// Positions (redpanda offset_tracker analogue), invariant flushed <= wrote <= size:
//   wrote_position_   bytes appended (visible to readers after the release store)
//   flushed_position_ bytes known durable (msync'd)
// Threads: exactly one appender thread at a time calls Append/SetWrotePosition (the owner
// serialises, e.g. CommitLog's append mutex or the dispatcher thread); one flusher calls
// Flush; one allocator thread calls ZeroAhead; any thread may Read below wrote_position().
//
// Appends go through the mapping (memcpy) or, with AppendOptions::by_write, through pwrite()
// on the fd. Both land in the same page cache, so readers of the mapping see either. With zero_ahead the
// allocator thread writes zeros ahead of the appender (zero_mu_ keeps them off every byte the appender
// writes), so the appender writes into page cache pages that exist already; with zeros_to_disk it also starts
// their writeback, turning fallocate's unwritten extents into written ones before the appender reaches them,
// so a sync of appended data no longer has to convert extents (metadata) each time. The commit log's choice
// (commit_log.cc) and its figures: docs/store.md §6, docs/benchmarks.md.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "broker/store/store_options.h"
#include "common/result.h"

namespace mq::store {

// Makes the name of a file just created in `dir` durable (fsyncs the directory; `hook` sees op
// "fsync_dir" first): until then a crash may lose the file and every byte flushed into it.
Status FsyncDirOfNewFile(const std::string& dir, const FaultHook& hook);

// How a segment's appends reach the file; see the class comment.
struct AppendOptions {
  bool by_write = false;
  bool zero_ahead = false;     // only with by_write
  bool zeros_to_disk = false;  // only with zero_ahead
};

class MappedFile {
 public:
  // Opens or creates `path`, extends it to `size` bytes (fallocate'd when `preallocate`, so a
  // full disk fails here rather than as SIGBUS later) and maps it. Positions start at 0.
  static Result<std::shared_ptr<MappedFile>> Open(const std::string& path, int64_t from_offset, int32_t size,
                                                  bool preallocate, const FaultHook& hook,
                                                  AppendOptions append = {});
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  int64_t from_offset() const { return from_offset_; }
  int32_t size() const { return size_; }
  int32_t wrote_position() const { return wrote_.load(std::memory_order_acquire); }
  int32_t flushed_position() const { return flushed_.load(std::memory_order_acquire); }
  int32_t remaining() const { return size_ - wrote_position(); }
  bool IsFull() const { return wrote_position() >= size_; }

  // Appender: copies n bytes at wrote_position() and publishes them. Returns false (and
  // writes nothing) if they do not fit. A failed pwrite falls back to the mapping and is
  // reported by the next Flush/SyncRange, as a failed writeback of mapped bytes would be.
  bool Append(const char* data, int32_t n);
  // Appender: Append of the parts back to back, with one pwritev() when appending by write.
  bool AppendGathered(const std::vector<std::string_view>& parts);
  // Appender: writes at an absolute position without publishing (used for in-place updates
  // of already published fixed-size units, e.g. a re-dispatched consume queue entry).
  void WriteAt(int32_t pos, const char* data, int32_t n);
  // Recovery / truncation only.
  void SetWrotePosition(int32_t pos);
  void SetFlushedPosition(int32_t pos);

  // Any thread: bytes [pos, pos+len) of the mapping. Caller keeps this object alive.
  std::string_view View(int32_t pos, int32_t len) const;
  // Copies [pos, pos + len) to `out` with pread: the page cache through the kernel's own mapping,
  // not this process's 4 KiB one (whose first touch of each page costs a page walk).
  void CopyOut(int32_t pos, int32_t len, char* out) const;
  const char* data() const { return data_; }

  // Flusher: msync(MS_SYNC) of [flushed, wrote) then advances flushed_position.
  Status Flush(const FaultHook& hook);
  // msync(MS_SYNC) of [pos, pos+len) (widened to whole pages); positions untouched. For files
  // written in place at scattered positions (the index), whose owner tracks what is dirty.
  // `hook` sees op "flush" first.
  Status SyncRange(int32_t pos, int32_t len, const FaultHook& hook) const;

  // Flusher: drops the whole pages inside [pos, pos+len) from this process's mapping and from
  // the page cache (madvise + posix_fadvise DONTNEED). Only for bytes already flushed: clean
  // pages go, and a later read of them faults them back in from the file.
  void DropCache(int32_t pos, int32_t len) const;

  // Zeroes [pos, size) on disk and in the mapping (punch hole + re-fallocate, or explicit
  // zero writes when the filesystem cannot punch holes). Fails (e.g. ENOSPC) when the range
  // cannot be backed by disk blocks again; the caller must then not write into it.
  // `hook` sees op "fallocate" before the blocks are reserved.
  Status ZeroFrom(int32_t pos, const FaultHook& hook);

  // Allocator (zero_ahead only): writes zeros over [max(zeroed, appender's end), to) and, with
  // zeros_to_disk, starts their writeback. Returns how far the file is zeroed ahead.
  Result<int32_t> ZeroAhead(int32_t to);
  // Allocator: `wake` runs once, on the appender's thread, after the first append that ends at
  // or past `at` (replacing an earlier request; nullptr cancels). The allocator sleeps until
  // then instead of polling the write position; it must check wrote_position() after asking,
  // as an append may have passed `at` already.
  void WakeWhenWrittenTo(int32_t at, std::function<void()> wake);
  bool zero_ahead() const { return zero_ahead_; }
  bool zeros_to_disk() const { return zeros_to_disk_; }
  bool by_write() const { return by_write_; }

  // Unlinks the file; the mapping lives until the last reference drops.
  Status Destroy();

  // Newest STORETIMESTAMP seen in this segment (0 = unknown); used by retention.
  int64_t max_store_timestamp() const { return max_store_ts_.load(std::memory_order_relaxed); }
  void UpdateMaxStoreTimestamp(int64_t ts);

 private:
  MappedFile(std::string path, int64_t from_offset, int32_t size, int fd, char* data, AppendOptions append);
  // Appender: keeps ZeroAhead off [pos, pos+n) before the appender writes there.
  void ClaimForWrite(int32_t pos, int32_t n);
  void WriteBytes(int32_t pos, const char* data, int32_t n);
  // The first failed pwrite is kept for the next sync; the bytes go through the mapping.
  void RecordWriteError(int err);
  // Appender: publishes `end` as the write position and runs a due WakeWhenWrittenTo request.
  void Publish(int32_t end);
  // ZeroAhead: maps [from, to) into the page tables for reading (MADV_POPULATE_READ); best effort.
  void PopulateForReaders(int32_t from, int32_t to);

  const std::string path_;
  const int64_t from_offset_;
  const int32_t size_;
  const int fd_;
  char* const data_;
  std::atomic<int32_t> wrote_{0};
  std::atomic<int32_t> flushed_{0};
  std::atomic<int64_t> max_store_ts_{0};
  // WakeWhenWrittenTo: the appender reads wake_at_ after every append (one load); wake_mu_
  // guards wake_ and the hand-over of a due request.
  std::atomic<int32_t> wake_at_{std::numeric_limits<int32_t>::max()};
  std::mutex wake_mu_;
  std::function<void()> wake_;  // GUARDED_BY(wake_mu_)

  const bool by_write_;
  const bool zero_ahead_;
  const bool zeros_to_disk_;
  std::atomic<int> write_errno_{0};  // first failed pwrite, reported by the next sync
  // Zeros stop at zeroed_to_; the appender writes below it freely and takes zero_mu_ to write
  // beyond it (which waits for a zeroing in progress and keeps later ones above its bytes).
  std::atomic<int32_t> zeroed_to_;
  std::mutex zero_mu_;
  int32_t claimed_to_ = 0;  // GUARDED_BY(zero_mu_) end of the appender's writes beyond zeroed_to_
};

}  // namespace mq::store
