// CommitLog: the single sequential log of every message of every topic, stored as
// MappedFileQueue segments of mappedFileSizeCommitLog bytes under <root>/commitlog/.
//
// Owns: the segment queue and the per topic/queue next-queue-offset table.
// Threads: Append/ReplicaAppend from any thread, serialised by append_mu_ (a pwrite into the
// segment, microseconds; the next segment is pre-allocated off-thread). CommitStaged and Flush
// from the flush thread only. Reads from any thread; they never see bytes beyond
// committed_offset(), which is published (release) after a record is completely written, so a
// reader never observes a partial record.
// Staging (SYNC_FLUSH with sync_flush_stage_bytes > 0): Append copies the records into a ring
// and returns; the flush thread's CommitStaged writes everything staged with one pwrite just
// before its sync and only then publishes committed_offset(). A put that does not fit the ring
// (or a roll, or a record larger than the ring) first writes the ring out itself.
// Locks: append_mu_ guards topic_queue_table_, the write position and the ring's staged end.
// commit_mu_ is held while staged bytes are written (taken after append_mu_, which CommitStaged
// releases once it has claimed its range, so puts go on staging during that write). The segment
// list has its own lock inside MappedFileQueue.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/store/mapped_file_queue.h"
#include "broker/store/message_format.h"
#include "broker/store/store_options.h"
#include "common/clock.h"
#include "common/result.h"

namespace mq::store {

// An encoded record waiting to be appended (see EncodeMessage) with its routing key.
struct PendingRecord {
  std::string bytes;
  std::string topic;
  int32_t queue_id = 0;
  // A topic deletion marker's topic (MessageStore::DeleteTopic): that topic's queue offsets
  // start again at 0 after it, in the same critical section as the marker's append.
  std::string deleted_topic;
};

// Encoded records bound for one queue, back to back in one buffer (one allocation for a whole
// batch; AppendRecord's layout). Append writes queue_id into each record's QUEUEID.
struct RecordBatch {
  std::string topic;
  int32_t queue_id = 0;
  std::string bytes;
};

struct AppendResult {
  Status status;             // IoError when a segment could not be created
  int64_t wrote_offset = 0;  // physical offset of the first record
  int32_t wrote_bytes = 0;   // bytes of all records (excluding blanks)
  int64_t queue_offset = 0;  // queue offset of the first record
  int64_t store_timestamp = 0;
  int32_t msg_num = 0;
  int64_t end_offset = 0;  // committed offset after the last record (flush target)
  // Physical offset of every record, in order: a batch may roll into the next segment, so
  // later offsets do not follow from the first one and the sizes.
  std::vector<int64_t> physical_offsets;
};

// A record (or blank) found at an offset, with the segment that keeps its bytes alive.
struct RecordRef {
  RecordKind kind = RecordKind::kEndOfData;
  int32_t size = 0;
  int64_t next_offset = 0;  // where the following record starts
  std::shared_ptr<MappedFile> holder;
  std::string_view bytes;  // the record (kMessage only)
};

class CommitLog {
 public:
  CommitLog(const StoreOptions& options, Clock* clock);
  CommitLog(const CommitLog&) = delete;
  CommitLog& operator=(const CommitLog&) = delete;

  Status Load();

  // Sets the write position after a restart and returns it. A clean shutdown trusts
  // `checkpoint_offset` (the exact end written at shutdown). Otherwise records are CRC-checked
  // from checkpoint_offset (a durable record boundary; the first segment when it is unknown,
  // i.e. < 0) until the first invalid one, and everything after it is truncated.
  Result<int64_t> Recover(bool clean_shutdown, int64_t checkpoint_offset);

  // Appends encoded records contiguously, assigning physical and queue offsets and the store
  // timestamp. Rolls to a new segment with a BLANK record when one does not fit.
  AppendResult Append(std::vector<PendingRecord>* records);
  // The same for a batch in one buffer; every record's TOTALSIZE must frame it exactly.
  AppendResult Append(RecordBatch* batch);

  // Slave replication: appends raw log bytes that must start exactly at committed_offset().
  Status ReplicaAppend(int64_t offset, std::string_view data);
  // Every later append is refused (Unavailable): the store's shutdown then flushes and
  // checkpoints all the log will ever hold, so no acknowledged record lands past its checkpoint.
  void StopAppends();

  // Reads the record or blank at `offset` (must be a record boundary below `limit`).
  // `hint`, when it holds the segment containing offset, saves the segment lookup.
  Result<RecordRef> ReadRecordAt(int64_t offset, int64_t limit,
                                 const std::shared_ptr<MappedFile>* hint = nullptr) const;
  // Reads and CRC-checks one message at `offset`.
  Result<StoredMessage> LookMessage(int64_t offset, int64_t limit) const;
  // Raw bytes [offset, offset+size) inside one segment.
  Result<RecordRef> Read(int64_t offset, int32_t size) const;
  // Appends the committed bytes [offset, offset+size) to `out` with one pread (MappedFile::
  // CopyOut), up to the end of the segment holding `offset`; returns how many it appended.
  Result<int32_t> CopyOut(int64_t offset, int32_t size, std::string* out) const;

  // Flush thread: writes what is staged (see the class comment) and publishes it; false when
  // nothing was staged.
  bool CommitStaged();
  Status Flush();
  // Flush thread, after a flush: drops the flushed bytes more than `keep_bytes` behind the
  // flushed end, or behind `read_to` if that is lower (the dispatcher's progress: bytes it has
  // still to read would only come back from disk), from the page cache
  // (StoreOptions::commit_log_page_cache_bytes), a step of at least kPageCacheDropStepBytes at
  // a time. Returns where the dropped bytes end.
  int64_t DropPageCacheBehind(int64_t keep_bytes, int64_t read_to);
  static constexpr int64_t kPageCacheDropStepBytes = 16 << 20;
  int64_t flushed_offset() const { return queue_.FlushedWhere(); }
  int64_t committed_offset() const { return committed_.load(std::memory_order_acquire); }
  int64_t min_offset() const { return queue_.MinOffset(); }

  // Queue offset table (RocketMQ topicQueueTable); rebuilt from consume queues on start.
  void SetNextQueueOffset(const std::string& topic, int32_t queue_id, int64_t next);

  MappedFileQueue& queue() { return queue_; }
  const MappedFileQueue& queue() const { return queue_; }

 private:
  int64_t ScanValid(int64_t start);
  // The segment holding `offset`; [offset, offset+size) must lie below the committed end.
  Result<std::shared_ptr<MappedFile>> CommittedSegment(int64_t offset, int32_t size) const;
  // append_mu_ held: forgets the next queue offsets of every queue of `topic`.
  void ForgetTopicLocked(std::string_view topic);
  // The append loop of both Append forms: `record(i)` gives the i-th of `count` records.
  template <typename RecordAt>
  AppendResult AppendEach(size_t count, const RecordAt& record);
  // append_mu_ held: copies `n` bytes of `parts` into the ring, writing the ring out first when
  // they do not fit. False when staging is off or the bytes are larger than the ring.
  bool StageLocked(const std::vector<std::string_view>& parts, int32_t n);
  // append_mu_ held: writes everything staged, including a write in flight on the flush thread
  // (waits for it), so write_file_'s wrote position is the append position again.
  void DrainStageLocked();
  // commit_mu_ held: writes ring bytes [from, to) at the end of `file` and publishes them.
  void WriteStaged(MappedFile* file, uint64_t from, uint64_t to);

  Clock* const clock_;
  MappedFileQueue queue_;
  std::atomic<int64_t> committed_{0};
  int64_t page_cache_dropped_to_ = 0;  // flush thread only: DropPageCacheBehind's progress

  std::mutex append_mu_;
  bool appends_stopped_ = false;                                // GUARDED_BY(append_mu_)
  std::unordered_map<std::string, int64_t> topic_queue_table_;  // GUARDED_BY(append_mu_)
  std::shared_ptr<MappedFile> write_file_;                      // GUARDED_BY(append_mu_)
  // Where the next record goes in write_file_, staged bytes included.
  int32_t append_pos_ = 0;  // GUARDED_BY(append_mu_)

  // The staging ring, positions counted in bytes ever staged (ring index = position % capacity).
  // Staged bytes always belong to write_file_: a roll drains the ring first.
  const int32_t stage_capacity_;            // 0 = no staging
  std::unique_ptr<char[]> stage_;           // allocated on the first staged put
  uint64_t stage_end_ = 0;                  // GUARDED_BY(append_mu_): end of the staged bytes
  uint64_t stage_claimed_ = 0;              // GUARDED_BY(append_mu_): below this, written or being written
  std::atomic<uint64_t> stage_written_{0};  // below this, written and free; stored under commit_mu_
  std::mutex commit_mu_;
};

}  // namespace mq::store
