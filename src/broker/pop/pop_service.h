// PopService: pop consumption (RocketMQ 5 POP / ACK / CHANGE_INVISIBLE_TIME), protocol-free.
// A consumer group receives messages of a topic across all readable queues of this broker
// (or one queue), each invisible to the group for a while; an ack ends the delivery, a missed
// deadline makes the message visible again and it is delivered with delivery attempt + 1.
//
// Design (docs/protocol.md "Pop consumption" has the long version):
//   - Redelivery is in place: an expired message is re-read from its original queue by its
//     commit log offset. RocketMQ copies it into %RETRY%<group>_<topic> instead; in place needs
//     no copy, keeps FIFO order without extra machinery and leaves one source of truth.
//   - State: PopStateTable (per in-flight message), journaled as records in
//     rmq_sys_REVIVE_LOG_<cluster> before a pop / ack / change is answered (pop_journal.h), and
//     snapshotted to config/popState.json every snapshot interval and at shutdown. Start() loads
//     the snapshot and replays the journal from its offset, so clean restarts and kill -9 keep
//     every ack and every unacked message.
//   - The committed consumer offset of each queue is the low-water mark (first unacked
//     offset), stored in ConsumerOffsetManager: mqadmin consumerProgress sees pop groups, and
//     pull consumers of other groups share the topic.
//   - After the group's max attempts (retryMaxTimes + 1) a message due for redelivery goes to
//     %DLQ%<group> through SendBackProcessor and is acked.
//   - FIFO groups (consumeMessageOrderly): a queue with an unacked, still invisible message
//     delivers nothing else; expired ones come back first, in order. A retry with the last
//     batch's attempt id gets that batch again (RocketMQ #6690).
//   - Long polling parks in WaitRegistry under PopWaitKey(topic); the broker notifies it on
//     arrivals, and the maintenance tick when deliveries expire.
//   - Auto-renew: deliveries with auto_renew get defaultInvisibleTimeMills and are extended
//     while their client is alive (OnClientAlive, or a pop, within grpcClientIdleTimeMills),
//     for at most renewMaxTimeMillis; OnClientGone makes them visible within ~1 s.
// Threads: Pop/Ack/... from any thread (gRPC); parked pops are re-checked on the IoExecutor;
// completions run on the store's put-completion thread or inline. Callbacks must not block.
// Locking: mu_ guards the table, the clients map and the epoch; it is held while reading the
// store for one pop (memory-mapped reads), never across a put, a callback or file I/O.
// snapshot_mu_ serialises snapshot writes (lock order snapshot_mu_ -> mu_ -> the
// ConsumerOffsetManager's lock, taken to commit low-water marks and pending resets).
// Lifecycle: construct, Start() (after the store started), use, Shutdown() (before the store).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "broker/broker_context.h"
#include "broker/filter/subscription_filter.h"
#include "broker/pop/pop_journal.h"
#include "broker/pop/pop_state.h"
#include "broker/pop/receipt_handle.h"
#include "broker/store/message_format.h"
#include "common/clock.h"
#include "common/io_executor.h"
#include "common/status.h"

namespace mq::broker {
class SendBackProcessor;
}

namespace mq::broker::pop {

struct PopOptions {
  std::string broker_name;
  // rmq_sys_REVIVE_LOG_<brokerClusterName>.
  std::string journal_topic;
  // <storePathRootDir>/config/popState.json.
  std::string state_path;
  // reviveInterval: the maintenance tick (expiry wake-ups, auto-renew). Default: 1000 ms.
  int64_t revive_interval_ms = 1000;
  // Snapshot of the state (flushConsumerOffsetInterval). Default: 5000 ms.
  int64_t snapshot_interval_ms = 5000;
  // defaultInvisibleTimeMills: invisibility of auto-renewed deliveries. Default: 60 s.
  int64_t default_invisible_ms = 60000;
  // renewAheadTimeMillis: auto-renewed deliveries are extended this long before expiry.
  int64_t renew_ahead_ms = 10000;
  // renewMaxTimeMillis: no auto-renewal after this long since the first delivery. Default: 3 h.
  int64_t renew_max_ms = 3 * 3600 * 1000;
  // grpcClientIdleTimeMills: a client silent this long is not renewed for. Default: 120 s.
  int64_t client_idle_ms = 120000;
  // popPollingSize / maxPopPollingSize: parked pops per topic / in total.
  size_t pop_polling_size = 1024;
  size_t max_pop_polling_size = 100000;
  // Whether Start() schedules the maintenance and snapshot timers (tests drive them).
  bool run_timers = true;
};

struct PopRequest {
  std::string group;
  std::string topic;
  int32_t queue_id = -1;  // -1: every readable queue, from a random one
  int32_t max_messages = 16;
  int64_t invisible_ms = 0;  // ignored with auto_renew (defaultInvisibleTimeMills)
  bool auto_renew = false;
  std::string filter_type;  // "TAG" (or empty) or "SQL92"
  std::string filter_expression = "*";
  std::string attempt_id;
  std::string client_id;
  int64_t poll_ms = 0;  // long polling: wait this long for a message (0: answer at once)
  // Set by the caller when nobody waits for the answer any more (the client cancelled): a
  // parked pop then answers empty instead of taking messages a live consumer should get.
  std::shared_ptr<std::atomic<bool>> cancelled;
};

struct PoppedMessage {
  store::StoredMessage message;
  int32_t queue_id = 0;
  int64_t queue_offset = 0;
  int64_t commit_log_offset = 0;
  std::string receipt_handle;
  int32_t delivery_attempt = 1;
  int64_t invisible_ms = 0;
};

inline constexpr int32_t kMaxPopMessages = 32;

// The WaitRegistry key parked pops of `topic` wait under.
std::string PopWaitKey(const std::string& topic);

class PopService {
 public:
  using PopCallback = std::function<void(const Status&, std::vector<PoppedMessage>)>;
  using StatusCallback = std::function<void(const Status&)>;
  using HandleCallback = std::function<void(const Status&, const std::string& new_handle)>;

  // `ctx` needs config, runtime, store, topics, groups, offsets, waits and sql_filters.
  PopService(PopOptions options, BrokerContext ctx, SendBackProcessor* send_back, IoExecutor* executor,
             Clock* clock);
  ~PopService();
  PopService(const PopService&) = delete;
  PopService& operator=(const PopService&) = delete;

  Status Start();
  void Shutdown();

  // Errors start with the field: "topic:" (NotFound / PermissionDenied), "consumer_group:",
  // "filter_expression:" / "expression_type:", "max_messages:"; ResourceExhausted when too
  // many pops are parked. An empty vector when nothing arrived within poll_ms.
  void Pop(PopRequest request, PopCallback done);
  // InvalidArgument "receipt_handle:" for a garbled handle or one of another broker/topic;
  // NotFound "receipt_handle:" for a stale one (redelivered, changed, acked, unknown).
  void Ack(const std::string& group, const std::string& topic, const std::string& handle,
           StatusCallback done);
  // The delivery stays invisible for invisible_ms (>= 0) from now; answers the new handle.
  void ChangeInvisible(const std::string& group, const std::string& topic, const std::string& handle,
                       int64_t invisible_ms, HandleCallback done);
  void ForwardToDeadLetterQueue(const std::string& group, const std::string& topic, const std::string& handle,
                                StatusCallback done);

  // mqadmin deleteTopic, after the store dropped the topic's queues: every group pops the
  // topic from offset 0 again (a re-created topic starts there) and its deliveries are over.
  // `done` once the resets are journaled (Unavailable if that put failed).
  void ForgetTopic(const std::string& topic, StatusCallback done);

  void OnClientAlive(const std::string& client_id, const std::string& group);
  void OnClientGone(const std::string& client_id, const std::string& group);

  // One maintenance pass: auto-renewals, deliveries out of attempts to the DLQ, wake-ups for
  // expired deliveries.
  void RunMaintenanceOnce();
  // Writes config/popState.json when no journal put is outstanding (else: skipped, OK).
  Status Snapshot();

  size_t InFlightCount() const;
  // Pops parked now (all topics).
  size_t ParkedCount() const;
  // Re-checks the pops parked on `topic` now (one whose receive was cancelled ends and frees its
  // place).
  void WakeParked(const std::string& topic);
  // Low-water mark of a queue (-1 unknown); tests and stats.
  int64_t LowWater(const std::string& group, const std::string& topic, int32_t queue_id) const;

 private:
  // PermissionDenied on a slave, which serves no pop consumption and writes nothing.
  Status RefusedOnASlave() const;
  struct PopCall;
  struct DlqJob {
    QueueKey key;
    int64_t offset;
    int64_t epoch;
    int64_t commit_log_offset;
  };
  struct Batch {
    std::vector<JournalEntry> journal;
    std::vector<PoppedMessage> messages;
    std::vector<DlqJob> dlq;
    std::vector<QueueKey> touched;  // queues whose low-water mark may have moved
  };

  bool TryPop(PopCall& call);  // true once answered
  void PopQueueLocked(PopCall& call, int32_t queue_id, int64_t now, Batch* batch);
  bool RedeliverLocked(PopCall& call, const QueueKey& key, int64_t offset, InFlight& entry, int64_t now,
                       Batch* batch);
  void DeliverLocked(PopCall& call, const QueueKey& key, int64_t offset, store::StoredMessage message,
                     int32_t attempt, int64_t first_pop_ms, int64_t now, Batch* batch);
  void AckAwayLocked(const QueueKey& key, int64_t offset, int64_t epoch, Batch* batch);
  bool Matches(const PopCall& call, const store::StoredMessage& message) const;
  int64_t NextEpochLocked(int64_t now);
  // Stores the entries (one record) then runs done(ok). Increment pending_puts_ under mu_
  // in the same critical section as the state change; this decrements it.
  void Journal(std::vector<JournalEntry> entries, std::function<void(bool)> done);
  // Deliveries out of attempts: forwarded, or ended without a copy when the message is gone.
  void RunDlqJobs(std::vector<DlqJob> jobs);
  // Forwards the delivery's message to %DLQ%<group> and ends the delivery.
  void ForwardOne(const DlqJob& job, StatusCallback done);
  // Acks the delivery (journaled), commits the low-water mark and wakes the topic's pops.
  void EndDelivery(const DlqJob& job, StatusCallback done);
  // Commits each queue's low-water mark as its consumer offset. Under mu_, so that a mark
  // computed before another thread's change is never committed after that thread's higher one.
  void CommitLowWatersLocked(const std::vector<QueueKey>& keys);
  Status Replay(int64_t from, int64_t settled_epoch);
  // At start: every queue's position past the store's end back to that end, deliveries of
  // lost messages dropped.
  void TruncateToStore();
  // The message of the delivery at (key, offset), read at its commit log offset and checked to
  // be that very message: NotFound when the record there is gone or is another one.
  Result<store::StoredMessage> LookDelivery(const QueueKey& key, int64_t offset,
                                            int64_t commit_log_offset) const;
  Result<ReceiptHandle> CheckHandle(const std::string& topic, const std::string& handle) const;
  void ReleaseParked(const std::string& topic);

  const PopOptions options_;
  const BrokerContext ctx_;
  SendBackProcessor* const send_back_;
  IoExecutor* const executor_;
  Clock* const clock_;

  mutable std::mutex mu_;
  PopStateTable table_;                       // GUARDED_BY(mu_)
  std::map<std::string, int64_t> clients_;    // GUARDED_BY(mu_): client id -> last seen ms
  int64_t epoch_ = 0;                         // GUARDED_BY(mu_)
  int64_t pending_puts_ = 0;                  // GUARDED_BY(mu_)
  int64_t journal_next_ = 0;                  // GUARDED_BY(mu_): 1 + highest stored record offset
  std::map<std::string, size_t> parked_;      // GUARDED_BY(mu_): topic -> parked pops
  size_t parked_total_ = 0;                   // GUARDED_BY(mu_)
  std::mt19937 rng_{std::random_device{}()};  // GUARDED_BY(mu_)
  std::condition_variable idle_cv_;           // pending_puts_ reached 0
  std::mutex snapshot_mu_;
  int64_t snapshot_journal_next_ = -1;  // GUARDED_BY(snapshot_mu_): journal_next_ last written
  std::vector<IoExecutor::TaskId> timers_;
  std::atomic<bool> started_{false};
};

}  // namespace mq::broker::pop
