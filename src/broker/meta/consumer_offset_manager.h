// ConsumerOffsetManager: committed consumer offsets (RocketMQ ConsumerOffsetManager), kept in
// memory and persisted as <storePathRootDir>/config/consumerOffset.json (+ .bak) by Persist(),
// which the broker calls every 5 s (flushConsumerOffsetInterval) and at shutdown. Keys are
// "topic@group" as in RocketMQ; values map queue id -> next offset to consume.
//
// Offset resets (mqadmin resetOffsetByTime without a consumer restart): ResetOffsets() stores
// the new offsets and records a pending reset per queue. Until the pull processor takes it with
// TakePendingReset() (and answers OFFSET_RESET), commits for that queue are ignored, because
// they come from a consumer that has not yet seen the reset. The pull processor must call
// TakePendingReset() before applying a commit piggy-backed on the same pull. Pending resets are
// in memory only.
//
// Owns: the offset table and the pending resets. Locks: mu_ guards both and is never held
// across file I/O; persist_mu_ serialises Load()/Persist() (lock order persist_mu_ -> mu_).
// All methods are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "mq/v1/broker_meta.pb.h"

namespace mq::broker {

class ConsumerOffsetManager {
 public:
  explicit ConsumerOffsetManager(std::string config_dir);
  ConsumerOffsetManager(const ConsumerOffsetManager&) = delete;
  ConsumerOffsetManager& operator=(const ConsumerOffsetManager&) = delete;

  // Reads consumerOffset.json (missing = empty; corrupt = .bak fallback, else Corruption).
  Status Load();

  // Stores offset as given. Returns false (and stores nothing) while a reset of that queue is
  // pending.
  bool Commit(const std::string& group, const std::string& topic, int32_t queue_id, int64_t offset);
  std::optional<int64_t> Query(const std::string& group, const std::string& topic, int32_t queue_id) const;
  std::map<int32_t, int64_t> QueryAll(const std::string& group, const std::string& topic) const;
  std::vector<std::string> TopicsOfGroup(const std::string& group) const;  // sorted
  std::vector<std::string> GroupsOfTopic(const std::string& topic) const;  // sorted
  void RemoveGroup(const std::string& group);
  void RemoveTopic(const std::string& topic);

  // Sets the offsets and records them as pending resets (replacing older pending ones).
  void ResetOffsets(const std::string& group, const std::string& topic,
                    const std::map<int32_t, int64_t>& offsets);
  // Returns and clears the pending reset of one queue.
  std::optional<int64_t> TakePendingReset(const std::string& group, const std::string& topic,
                                          int32_t queue_id);

  // Writes the table when it changed since the last successful write; otherwise does nothing.
  Status Persist();
  bool dirty() const;

  // Full-table export/import for slave metadata sync. MergeFrom takes the incoming value of
  // every queue it names and keeps the others.
  mq::v1::ConsumerOffsetTable Snapshot() const;
  void MergeFrom(const mq::v1::ConsumerOffsetTable& table);
  // Takes each queue offset of `table` that is ahead of (or absent from) this table, in one
  // step under the lock, so a commit landing meanwhile is never rewound; queues with a pending
  // reset are skipped, as their commits are. Returns how many queue offsets moved.
  int MergeForward(const mq::v1::ConsumerOffsetTable& table);
  // Removes each queue offset of `table` that still holds the value given there (and keys left
  // without queues): what a master deleted, unless it was committed again here since.
  void RemoveUnchanged(const mq::v1::ConsumerOffsetTable& table);

  // Takes every offset past its queue's end (`queue_end(topic, queue_id)`) back to that end;
  // returns "topic@group/queue old->new" for each. At a master's start: a commit log that lost
  // its tail (a power cut under ASYNC_FLUSH) gives the lost offsets to new messages, which a
  // consumer still at the old offset would skip.
  std::vector<std::string> ClampToQueueEnds(
      const std::function<int64_t(const std::string&, int32_t)>& queue_end);

  static std::string Key(const std::string& topic, const std::string& group) { return topic + "@" + group; }
  const std::string& file_path() const { return file_path_; }

 private:
  using QueueOffsets = std::map<int32_t, int64_t>;
  // Removes every key whose topic (part 0) or group (part 1) equals name. Requires mu_.
  void RemoveMatchingLocked(int part, const std::string& name);

  const std::string file_path_;

  std::mutex persist_mu_;
  mutable std::mutex mu_;
  std::map<std::string, QueueOffsets> offsets_;         // GUARDED_BY(mu_)
  std::map<std::string, QueueOffsets> pending_resets_;  // GUARDED_BY(mu_)
  uint64_t change_seq_ = 0;                             // GUARDED_BY(mu_)
  uint64_t persisted_seq_ = 0;                          // GUARDED_BY(mu_)
};

}  // namespace mq::broker
