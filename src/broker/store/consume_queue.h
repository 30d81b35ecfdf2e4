// ConsumeQueue: the per topic/queue index into the commit log, one fixed 20-byte unit per
// message, stored in its own segments under consumequeue/<topic>/<queueId>/ (segment names
// are byte offsets = queue offset * 20).
//
//   unit (big-endian, RocketMQ CQ_STORE_UNIT_SIZE = 20):
//   +---------------------------+--------------+---------------------------+
//   | commit log offset (8)     | size (4)     | tag hash code (8)         |
//   +---------------------------+--------------+---------------------------+
//   A unit of all zeros (size 0) is a hole: a gap filled during a rebuild, skipped by readers.
//
// ConsumeQueueTable: (topic, queueId) -> ConsumeQueue, created on first dispatch.
//
// Threads: the dispatcher thread is the only writer (Stage/Commit/Put) and the maintenance
// thread flushes and deletes leading segments; readers (GetMessages) call Read/Get from any
// thread. max_offset() is published after a unit is written, so readers never see a partial
// unit. Locks: none of its own beyond MappedFileQueue's; the table has a shared_mutex over its
// map.
//
// Units reach the file by pwrite(), never through the mapping (readers still read it): a page
// written through a shared mapping is mapped writable, and each flush write-protects it again
// on every CPU the broker runs on: an inter-processor interrupt per page, about 650 in one burst
// each second at 130,000 msg/s (docs/store.md §3).
// A pwrite per unit would cost a syscall per message, so the dispatcher stages a queue's
// consecutive units and writes them in one call (Stage, Commit).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "broker/store/mapped_file_queue.h"
#include "common/result.h"

namespace mq::store {

inline constexpr int32_t kCqUnitSize = 20;

struct CqUnit {
  int64_t phy_offset = 0;
  int32_t size = 0;
  int64_t tags_code = 0;
  bool operator==(const CqUnit&) const = default;
  // A unit (not a hole) whose record lies in [0, end). Compared without adding: a damaged unit
  // can hold any offset, and phy_offset + size would overflow.
  bool EndsBy(int64_t end) const { return phy_offset >= 0 && size > 0 && phy_offset <= end - size; }
};

class ConsumeQueue {
 public:
  ConsumeQueue(std::string topic, int32_t queue_id, std::string dir, int32_t file_size,
               FaultHook hook = nullptr);
  ConsumeQueue(const ConsumeQueue&) = delete;
  ConsumeQueue& operator=(const ConsumeQueue&) = delete;

  const std::string& topic() const { return topic_; }
  int32_t queue_id() const { return queue_id_; }

  Status Load();
  // Finds the last written unit and drops units that reference bytes at or beyond
  // commit_log_end; min offset skips units below commit_log_min.
  Status Recover(int64_t commit_log_min, int64_t commit_log_end);
  // After Recover(): why this queue cannot be trusted (a short segment, or units out of order or
  // outside the log in its last segments), empty if it looks sound. The store then rebuilds the
  // consume queues from the commit log instead of serving a queue that lost or garbled units.
  const std::string& damage() const { return damage_; }

  // Dispatcher: stores `unit` at queue_offset. Re-dispatching an existing offset is a no-op
  // (or repairs a differing unit); a forward gap is filled with holes. Commits staged units
  // first.
  Status Put(int64_t queue_offset, const CqUnit& unit);
  // Dispatcher: Put, but a unit that continues the queue inside its last segment is only
  // staged, unseen by readers and flushes, until Commit() writes the staged units with one
  // pwrite and publishes them. Any other unit commits the staged ones and is Put.
  Status Stage(int64_t queue_offset, const CqUnit& unit);
  Status Commit();
  size_t staged_bytes() const { return staged_.size(); }

  int64_t min_offset() const { return min_logic_bytes_.load(std::memory_order_acquire) / kCqUnitSize; }
  int64_t max_offset() const { return max_logic_bytes_.load(std::memory_order_acquire) / kCqUnitSize; }
  // Commit log end of the last unit (0 if empty).
  int64_t LastPhysicalEnd() const;

  std::optional<CqUnit> Get(int64_t queue_offset) const;
  // Up to max_units units from queue_offset, stopping at a segment end. Empty when the
  // offset is not stored (deleted or beyond max).
  std::vector<CqUnit> Read(int64_t queue_offset, int32_t max_units) const;

  // Retention: deletes leading segments whose units all reference bytes below min_phy and
  // advances min_offset() to the first unit at or above it.
  int DeleteExpired(int64_t min_phy);
  Status Flush() { return queue_.Flush(); }
  Status Destroy() { return queue_.DestroyAll(); }

 private:
  void CorrectMinOffset(int64_t min_phy);
  std::string FindDamage(int64_t commit_log_min, int64_t commit_log_end) const;
  CqUnit UnitAt(const MappedFile& file, int32_t pos) const;

  const std::string topic_;
  const int32_t queue_id_;
  MappedFileQueue queue_;
  std::atomic<int64_t> min_logic_bytes_{0};
  std::atomic<int64_t> max_logic_bytes_{0};
  std::string damage_;                       // set by Recover(), before any other thread runs
  std::string staged_;                       // dispatcher only: encoded units for max_logic_bytes_ onwards
  std::shared_ptr<MappedFile> staged_file_;  // dispatcher only: the segment they go to
};

// Whether `topic` can name a consumequeue/<topic> directory (not empty, ".", "..", and no '/' or
// NUL): what DropTopic removes must stay inside the consume queue root.
bool IsQueueDirectoryName(std::string_view topic);

class ConsumeQueueTable {
 public:
  ConsumeQueueTable(std::string root_dir, int32_t file_size, FaultHook hook = nullptr);

  // Opens every consumequeue/<topic>/<queueId> directory.
  Status LoadAll();
  std::shared_ptr<ConsumeQueue> Find(const std::string& topic, int32_t queue_id) const;
  Result<std::shared_ptr<ConsumeQueue>> FindOrCreate(const std::string& topic, int32_t queue_id);
  std::vector<std::shared_ptr<ConsumeQueue>> All() const;
  bool HasTopic(const std::string& topic) const;
  const std::string& root_dir() const { return root_dir_; }
  // Dispatcher thread, at a topic deletion marker: the topic's queues leave the table and their
  // files the disk, durably (the next record of the topic creates a queue from offset 0).
  // Readers holding one keep its mappings, which outlive the unlinked files. Idempotent: a
  // retry, or a replay after a crash, removes whatever is left.
  Status DropTopic(const std::string& topic);

 private:
  const std::string root_dir_;
  const int32_t file_size_;
  const FaultHook hook_;
  mutable std::shared_mutex mu_;
  std::map<std::string, std::map<int32_t, std::shared_ptr<ConsumeQueue>>> table_;  // GUARDED_BY(mu_)
};

}  // namespace mq::store
