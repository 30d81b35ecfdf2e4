// MessageStore: the storage engine facade (RocketMQ DefaultMessageStore, minus the god-class).
//
// Owns (and wires) CommitLog, ConsumeQueueTable, IndexService, Dispatcher, FlushService,
// CleanService and a maintenance thread (consume queue flush + checkpoint every
// flushIntervalConsumeQueue ms, index sync every flushIntervalIndex ms, retention every
// cleanResourceInterval ms).
// Lifecycle: construct -> Start() (load, recover, start threads) -> use -> Shutdown()
// (final flush, checkpoint, remove the abort marker). The destructor calls Shutdown().
// Threads: every public method is thread-safe. PutMessage never blocks on disk: in
// ASYNC_FLUSH its callback runs inline once the record is in the page cache; in SYNC_FLUSH it
// runs on the flush service's thread once the record is durable. ArrivalListeners run on the
// dispatcher thread; the append listener on the putting thread. Callbacks and listeners must
// not block.
// Files under storePathRootDir: commitlog/, consumequeue/<topic>/<queueId>/, index/,
// checkpoint, abort (exists while running; a leftover one means the last run crashed), lock
// (flock'ed while started, so two processes never open one store).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "broker/store/clean_service.h"
#include "broker/store/commit_log.h"
#include "broker/store/consume_queue.h"
#include "broker/store/dispatcher.h"
#include "broker/store/flush_service.h"
#include "broker/store/index_service.h"
#include "broker/store/message_format.h"
#include "broker/store/record_anchor.h"
#include "broker/store/store_options.h"
#include "broker/store/store_types.h"
#include "common/clock.h"

namespace mq::store {

// Tag filter over consume queue tag hash codes; an empty function accepts everything.
using MessageFilter = std::function<bool(int64_t tags_code)>;
// Accepts messages whose TAGS is one of `tags` ("*" or an empty list accepts all).
MessageFilter MakeTagFilter(const std::vector<std::string>& tags);
// Record filter over a stored record's raw properties ("key\x01value\x02...", the CRC trailer
// included), applied after the tag filter; an empty function accepts everything. The store
// knows nothing of the language behind it (the broker's SQL92 filters supply one).
using PropertyFilter = std::function<bool(std::string_view properties)>;

class MessageStore {
 public:
  explicit MessageStore(StoreOptions options, Clock* clock = SystemClock::Default());
  ~MessageStore();
  MessageStore(const MessageStore&) = delete;
  MessageStore& operator=(const MessageStore&) = delete;

  Status Start();
  void Shutdown();

  // Appends one message; `done` gets the offsets or why it failed (see PutStatus).
  void PutMessage(MessageInput message, PutCallback done);
  // Appends a batch of messages of ONE topic contiguously; one callback for all.
  void PutMessages(std::vector<MessageInput> messages, PutCallback done);
  // Appends records a protocol adapter encoded itself (AppendRecord), all bound for one queue.
  // Same results as PutMessages; the checks EncodeMessage makes are the encoder's to make.
  void PutRecords(RecordBatch batch, PutCallback done);
  // Deletes `topic`'s messages (RocketMQ deleteTopics): appends a deletion marker, after which
  // the topic's queues start again at offset 0 (a re-created topic is empty). The dispatcher
  // drops its consume queues when it reaches the marker, so a slave, which copies the log,
  // and a rebuild after a crash drop them at the same point. `done` as a put's (the marker is
  // durable like a message); the records stay in the log until it is cleaned. Also deletes the
  // queues of a topic the broker no longer knows (a retry after a crash between the steps).
  void DeleteTopic(const std::string& topic, PutCallback done);
  // Whether any consume queue of `topic` exists.
  bool HasQueues(const std::string& topic) const;

  // Reads up to max_count messages / max_bytes from a queue, skipping tags the filter
  // rejects and records the property filter rejects (both still advance next_begin_offset;
  // kNoMatchedMessage when nothing matched). `group` is informational (logging/stats).
  // Every returned record decodes and passed its CRCs, and is the message its queue unit points
  // at (a damaged one is skipped and logged). Statuses as RocketMQ's getMessage().
  // With `records_out`, the found records are appended to it back to back (sized once for the
  // lot) instead of one string each in `messages`;
  // `queue_offsets` and `buffer_total_size` are filled either way.
  GetMessageResult GetMessages(std::string_view group, const std::string& topic, int32_t queue_id,
                               int64_t offset, int32_t max_count, int32_t max_bytes,
                               const MessageFilter& filter = {}, const PropertyFilter& property_filter = {},
                               std::string* records_out = nullptr) const;

  int64_t MinOffsetInQueue(const std::string& topic, int32_t queue_id) const;
  // Next queue offset to be written, i.e. one past the last readable message.
  int64_t MaxOffsetInQueue(const std::string& topic, int32_t queue_id) const;
  // First queue offset whose store timestamp >= timestamp_ms (MaxOffset if none).
  Result<int64_t> GetOffsetByTimestamp(const std::string& topic, int32_t queue_id,
                                       int64_t timestamp_ms) const;
  // The message stored at a commit log offset (offsetMsgId lookups).
  Result<StoredMessage> LookMessageByOffset(int64_t physical_offset) const;
  // Messages whose KEYS contain `key` (or whose UNIQ_KEY is `key`), newest first.
  std::vector<StoredMessage> QueryMessageByKey(const std::string& topic, const std::string& key, int max_num,
                                               int64_t begin_ms = 0, int64_t end_ms = INT64_MAX) const;
  Result<StoredMessage> QueryMessageByUniqueKey(const std::string& topic, const std::string& uniq_key) const;

  // Before Start(): called as (topic, queue_id, max_queue_offset) when messages arrive.
  void AddArrivalListener(ArrivalListener listener);
  // Any time: `listener` runs once appended commit log bytes are readable (MaxPhyOffset), before
  // they are durable: on the putting thread right after its append, or, for staged SYNC_FLUSH
  // appends, on the flush thread once it wrote them, just before their sync (master replication
  // ships them while the sync runs: a SYNC_MASTER + SYNC_FLUSH send then waits for the slower
  // of the two, not their sum).
  // One listener; nullptr removes it, and once that returns no call is running or will run.
  void SetAppendListener(std::function<void()> listener);
  // Before Start(): the consume queue tags code of `topic`'s records is fn(record) (recovery
  // rebuilds queues with it too). The broker's delay-level service stores delivery times.
  void SetTagsCodeFunction(const std::string& topic, TagsCodeFn fn);

  // Slave replication: raw commit log bytes at `offset` (== MaxPhyOffset()).
  Status ReplicaAppend(int64_t offset, std::string_view data);
  // Master replication: a copy of the raw commit log bytes of the whole records (and blank)
  // from `offset` (a record boundary as reported by a slave, MinPhyOffset() <= offset <=
  // MaxPhyOffset()), at most max_bytes unless the first record alone is larger, never past the
  // committed end nor the end of the segment holding `offset`. Empty when offset ==
  // MaxPhyOffset(); NotFound when offset was cleaned; InvalidArgument beyond the end;
  // Corruption when offset is not a record boundary.
  Result<std::string> ReadReplicaBytes(int64_t offset, int32_t max_bytes) const;
  // Replication handshake (record_anchor.h): the anchor of the local log prefix ending at
  // `end` (slave side; `known` anchors a shorter prefix, see FindRecordAnchor) ...
  Result<RecordAnchor> FindRecordAnchor(int64_t end, const RecordAnchor* known = nullptr) const;
  // ... and the anchor this log has at `end` if its last message starts at `offset` (master).
  Result<RecordAnchor> ReadRecordAnchor(int64_t offset, int64_t end) const;

  int64_t MinPhyOffset() const;
  int64_t MaxPhyOffset() const;      // committed (appended) end
  int64_t FlushedPhyOffset() const;  // durable end
  // Commit log flushes (msync passes with bytes to sync) since Start() (group commit size =
  // puts / flushes; benchmarks report it).
  int64_t CommitLogFlushCount() const { return flush_ ? flush_->flush_count() : 0; }
  int64_t DispatchedPhyOffset() const;

  // One retention pass now (the maintenance thread also runs it periodically).
  CleanStats RunCleanOnce();
  // OK, or the sticky I/O error that made the store read-only, or the shortage (no space, no
  // descriptor) that keeps its consume queues from being written now.
  Status BackgroundError() const;

  const StoreOptions& options() const { return options_; }

 private:
  // GetMessages: replaces `run` with the bytes of units[first] and of the units after it whose
  // records follow it in the log and pass `filter`, up to `max_units` units, `budget` bytes and
  // the segment's end, read in one call. Corruption when a large unit's record is not its size.
  Status ReadRun(const std::vector<CqUnit>& units, size_t first, int32_t budget, int32_t max_units,
                 const MessageFilter& filter, std::string* run) const;
  Status StartLocked();
  Status Recover();
  // Flushes the consume queues (and the index, when flushIntervalIndex has passed or `final`)
  // and writes the checkpoint.
  Status SaveCheckpoint(bool final = false);
  void MaintenanceLoop();
  int64_t ReadableLimit() const;
  // Whether puts are accepted at all (running, not latched read-only, disk not full).
  PutResult CheckWritable() const;
  PutResult Precheck(const std::vector<MessageInput>& messages) const;
  // Why `queue_id` is outside [0, maxQueueNumsPerTopic), or "" when it is inside.
  std::string QueueIdError(int32_t queue_id) const;
  void Complete(AppendResult appended, PutCallback done);
  // Runs the append listener (see SetAppendListener).
  void NotifyAppended();

  const StoreOptions options_;
  Clock* const clock_;
  ErrorLatch latch_;
  std::unique_ptr<CommitLog> commit_log_;
  std::unique_ptr<ConsumeQueueTable> queues_;
  std::unique_ptr<IndexService> index_;  // null when messageIndexEnable=false
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<FlushService> flush_;
  std::unique_ptr<CleanService> clean_;
  std::atomic<bool> running_{false};
  std::vector<ArrivalListener> pending_listeners_;  // added to the dispatcher by Start()
  std::vector<std::pair<std::string, TagsCodeFn>> pending_tags_code_fns_;  // likewise
  // Held while the listener runs, so removing it waits out a running call.
  std::shared_mutex append_listener_mu_;
  std::function<void()> append_listener_;  // GUARDED_BY(append_listener_mu_)

  std::mutex maint_mu_;
  std::condition_variable maint_cv_;
  bool maint_stop_ = false;  // GUARDED_BY(maint_mu_)
  std::thread maint_thread_;
  std::mutex checkpoint_mu_;  // serialises SaveCheckpoint
  // Dispatched offset when the index was last synced, and when (recovery's start at first).
  int64_t index_synced_offset_ = 0;                        // GUARDED_BY(checkpoint_mu_)
  std::chrono::steady_clock::time_point index_synced_at_;  // GUARDED_BY(checkpoint_mu_)
  int lock_fd_ = -1;                                       // flock'ed <root>/lock while started
};

// Puts `message` and waits for the store's answer: for a background task's own thread (the
// delay levels, the transaction scan), never a request thread. The store answers every put;
// `timeout` only guards against one that stopped answering (kUnknownError naming the wait).
PutResult PutAndWait(MessageStore& store, MessageInput message, std::chrono::milliseconds timeout);

}  // namespace mq::store
