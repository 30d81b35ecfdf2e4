// Dispatcher (RocketMQ ReputMessageService): tails the commit log from dispatched_offset()
// up to a readable limit, appends a unit to each message's consume queue, indexes its keys
// and notifies arrival listeners. A topic deletion marker drops the topic's consume queues
// there, in log order, so a rebuild, a replay after a crash and a slave all end up alike.
//
// The readable limit is the commit log's committed offset in ASYNC_FLUSH mode and its flushed
// offset in SYNC_FLUSH mode, so consumers (who only read through consume queues) never see a
// message that is not durable in SYNC_FLUSH mode.
// A failed consume queue or index write latches the store's ErrorLatch (puts are refused
// from then on, naming the cause): otherwise the log would keep acknowledging messages that
// never become consumable. The thread keeps retrying, so what was acknowledged before the
// failure becomes consumable if the cause goes away (e.g. disk space is freed). A failure for
// a shortage that passes (no space, no descriptor) only stalls the store (stall()): puts are
// refused until a pass gets through, with no restart needed.
// Wake-ups: every append calls Wakeup() or DispatchHereOrWakeup(). Wakeup() signals only when
// the thread sleeps; a pass starts as soon as the previous one ends if an append announced
// itself meanwhile, so an arrival waits for no poll interval and a busy put path pays no
// futex wake per message. DispatchHereOrWakeup() runs the pass of a few records on its caller
// instead of waking the sleeping thread: at low rates the wake-up of another thread, and the
// move of the fresh records to the other CPU, cost more than the pass itself (see
// docs/benchmarks.md); larger ranges still go to the thread. The thread sleeps at most
// kIdleWait, which only bounds a lost wake-up.
// Owns: its thread. Threads: DispatchRange() runs on the caller during recovery, before
// Start(); afterwards passes run on the dispatcher thread or on a DispatchHereOrWakeup()
// caller, one at a time. Listeners run on whichever thread passes and must not block or call
// back into the store's put path.
// Offers: an appender hands over the records it just wrote (OfferWritten), and a pass reads
// them there instead of through the mapping: in async produce mq-dispatch took about 1.0 µs per
// message reading the log and 0.55-0.75 reading offers (docs/benchmarks.md, 27th session).
// Offers are bounded by kMostOfferedBytes (the oldest go) and dropped once a pass is past them;
// a record no offer holds is read from the log, so offers change no outcome, only its cost.
// Locks: pass_mu_ is held for a whole pass (so the dispatch state, consume queue writes and
// listener calls are serial) and guards stopped_; mu_ guards stop_ and pairs with cv_;
// offered_mu_ guards the offers, taken alone or inside pass_mu_; wake_/sleeping_ are atomics.
// Order: pass_mu_ is never taken while holding mu_ or offered_mu_.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "broker/store/commit_log.h"
#include "broker/store/consume_queue.h"
#include "broker/store/index_service.h"
#include "broker/store/message_format.h"
#include "broker/store/store_types.h"

namespace mq::store {

// A consume queue tags code computed from the whole record (runs on the dispatcher thread).
using TagsCodeFn = std::function<int64_t(const RecordView&)>;

class Dispatcher {
 public:
  static constexpr std::chrono::milliseconds kIdleWait{100};

  // idle_wait: the longest sleep of the thread (kIdleWait; tests put it out of reach so that a
  // lost announcement shows as a record that never arrives).
  Dispatcher(CommitLog* commit_log, ConsumeQueueTable* queues, IndexService* index, ErrorLatch* latch,
             std::function<int64_t()> readable_limit, std::chrono::milliseconds idle_wait = kIdleWait);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  void AddListener(ArrivalListener listener);  // before Start()
  // Before Start(): records of `topic` get fn(record) as their consume queue tags code instead
  // of the TAGS hash (a delayed message's delivery time; see broker/schedule/).
  void SetTagsCodeFunction(const std::string& topic, TagsCodeFn fn);

  // Before Start(): a topic deletion marker is acted on only once the log is durable past it
  // (ASYNC_FLUSH dispatches what is merely written; dropping the queues durably while a power
  // cut can still take the marker leaves a half-applied deletion that a later rebuild undoes).
  // A pass stops at such a marker and calls request_flush; the flush's wake-up resumes it.
  void SetDurableLimit(std::function<int64_t()> durable_limit, std::function<void()> request_flush);

  // Dispatches every record in [from, limit) on the calling thread; sets dispatched_offset.
  // Stops (OK) before a topic deletion marker that ends past marker_limit.
  Status DispatchRange(int64_t from, int64_t limit, bool notify, int64_t marker_limit = INT64_MAX);

  void Start(int64_t from);
  void Shutdown();
  // Something new may be readable.
  void Wakeup();
  // Something new is readable: dispatches it on the calling thread when the dispatcher thread
  // sleeps, no other pass runs and at most kMostBytesDispatchedHere wait, otherwise announces
  // it as Wakeup() does. For appenders that hold no lock a listener may take.
  void DispatchHereOrWakeup();
  // About 56 messages of 1 KiB: the range is still in the putter's cache, and its pass costs
  // less there than on the thread, which reads every record from the other CPU (end to end at
  // 130,000 msg/s, 0.3-0.6 us less broker CPU per message than with 32 KiB). A 64-message batch
  // of 1 KiB (72 KiB of records) still goes to the thread: run here it cost batch produce 9 %
  // of its msg/s, its pass moved off the idle CPU (docs/benchmarks.md).
  static constexpr int64_t kMostBytesDispatchedHere = 64 * 1024;
  // A consume queue's units staged before a pass writes them (3,276 units).
  static constexpr size_t kMostStagedBytes = 64 * 1024;
  // Passes one DispatchHereOrWakeup() runs before it hands the records arriving meanwhile to
  // the thread.
  static constexpr int kMostPassesHere = 2;

  // `records`, byte for byte what the caller has just appended to the log at `from` (whole
  // records, no blank between them). Call before announcing them (Wakeup()).
  void OfferWritten(int64_t from, std::string records);
  // At most this many bytes wait in offers (records no pass has reached yet, e.g. while
  // SYNC_FLUSH waits for the disk): about 5 ms of async produce at its fastest. With 8 MiB the
  // broker's anonymous memory peaked at 10-12 MiB there (3 without offers), with 2 MiB at 6,
  // and mq-dispatch's saving was the same.
  static constexpr int64_t kMostOfferedBytes = 2 << 20;
  int64_t offered_bytes() const;

  int64_t dispatched_offset() const { return dispatched_.load(std::memory_order_acquire); }
  // Why the last pass failed, when for a shortage that passes (ResourceExhausted: no space, no
  // descriptor): the store refuses puts while it lasts instead of latching read-only, and the
  // next pass that gets through ends it. OK otherwise.
  Status stall() const;
  // Passes that found records no Wakeup() had announced (started by the kIdleWait timeout):
  // each is a lost wake-up whose arrivals waited up to kIdleWait. 0 while every appender
  // calls Wakeup() after its records become readable (retries after a failed pass, which
  // the timeout paces, are not counted).
  int64_t unannounced_passes() const { return unannounced_passes_.load(std::memory_order_relaxed); }

 private:
  void Loop();
  void SignalIfSleeping();
  // A topic deletion marker (MessageStore::DeleteTopic) and its effect on the consume queues.
  static bool IsTopicDeletion(const RecordView& view);
  Status DropTopic(const std::string& topic, int64_t pos);
  // One pass up to the readable limit; latches and logs a failure (once per distinct error).
  // Caller holds pass_mu_.
  void PassLocked(bool announced);
  // The records offered from exactly `pos` into *bytes, dropping offers that start below it.
  bool TakeOffered(int64_t pos, std::string* bytes);
  // Callers hold offered_mu_.
  std::string PopOldestOfferLocked();  // offered_ is not empty
  void DropOfferedBelowLocked(int64_t pos);

  CommitLog* const commit_log_;
  ConsumeQueueTable* const queues_;
  IndexService* const index_;
  ErrorLatch* const latch_;
  const std::function<int64_t()> readable_limit_;
  std::function<int64_t()> durable_limit_;  // fixed after Start()
  std::function<void()> request_flush_;     // fixed after Start()
  const std::chrono::milliseconds idle_wait_;
  std::vector<ArrivalListener> listeners_;
  std::map<std::string, TagsCodeFn, std::less<>> tags_code_fns_;  // fixed after Start()
  std::atomic<int64_t> dispatched_{0};
  std::atomic<int64_t> unannounced_passes_{0};

  // Wakeup() is on the put path: it only takes mu_ and signals when the thread sleeps.
  std::atomic<bool> wake_{false};
  std::atomic<bool> sleeping_{false};
  std::mutex pass_mu_;
  bool stopped_ = true;               // GUARDED_BY(pass_mu_): no passes before Start() or after Shutdown()
  Status last_error_;                 // GUARDED_BY(pass_mu_): the last pass's outcome
  std::atomic<bool> stalled_{false};  // stall_ is set (read lock-free on the put path)
  mutable std::mutex stall_mu_;
  Status stall_;  // GUARDED_BY(stall_mu_)
  mutable std::mutex offered_mu_;
  std::map<int64_t, std::string> offered_;  // GUARDED_BY(offered_mu_): by log offset
  int64_t offered_bytes_ = 0;               // GUARDED_BY(offered_mu_)
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace mq::store
