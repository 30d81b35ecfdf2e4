// CommitLog: the single sequential log of every message of every topic, stored as
// MappedFileQueue segments of mappedFileSizeCommitLog bytes under <root>/commitlog/.
//
// Owns: the segment queue and the per topic/queue next-queue-offset table.
// Threads: Append/ReplicaAppend from any thread, serialised by append_mu_ (a memcpy into the
// mapping, microseconds; the next segment is pre-allocated off-thread). Flush from the flush
// thread only. Reads from any thread; they never see bytes beyond committed_offset(), which
// is published (release) after a record is completely copied, so a reader never observes a
// partial record.
// Locks: append_mu_ guards topic_queue_table_ and the write position. The segment list has
// its own lock inside MappedFileQueue.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
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

  // Reads the record or blank at `offset` (must be a record boundary below `limit`).
  // `hint`, when it holds the segment containing offset, saves the segment lookup.
  Result<RecordRef> ReadRecordAt(int64_t offset, int64_t limit,
                                 const std::shared_ptr<MappedFile>* hint = nullptr) const;
  // Reads and CRC-checks one message at `offset`.
  Result<StoredMessage> LookMessage(int64_t offset, int64_t limit) const;
  // Raw bytes [offset, offset+size) inside one segment.
  Result<RecordRef> Read(int64_t offset, int32_t size) const;

  Status Flush();
  // Flush thread, after a flush: drops the flushed bytes more than `keep_bytes` behind the
  // flushed end from the page cache (StoreOptions::commit_log_page_cache_bytes), a step of at
  // least kPageCacheDropStepBytes at a time. Returns where the dropped bytes end.
  int64_t DropPageCacheBehind(int64_t keep_bytes);
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
  // The append loop of both Append forms: `record(i)` gives the i-th of `count` records.
  template <typename RecordAt>
  AppendResult AppendEach(size_t count, const RecordAt& record);

  Clock* const clock_;
  MappedFileQueue queue_;
  std::atomic<int64_t> committed_{0};
  int64_t page_cache_dropped_to_ = 0;  // flush thread only: DropPageCacheBehind's progress

  std::mutex append_mu_;
  std::unordered_map<std::string, int64_t> topic_queue_table_;  // GUARDED_BY(append_mu_)
  std::shared_ptr<MappedFile> write_file_;                      // GUARDED_BY(append_mu_)
};

}  // namespace mq::store
