// FlushService: makes commit log bytes durable.
//
// ASYNC_FLUSH: msyncs every flushIntervalCommitLog ms (RocketMQ FlushRealTimeService), and
// as soon as flushCommitLogEveryBytes were appended since the last flush began (NoteAppended),
// so that no pass has a burst of writeback to do; puts complete right after the append.
// SYNC_FLUSH: group commit (RocketMQ GroupCommitService / leveldb writers_). A put registers
// a waiter {end offset, deadline, callback} and returns. Whenever some waiter is not yet
// durable, the flush thread writes what the commit log staged (one pwrite, CommitLog::
// CommitStaged) and issues ONE msync covering everything appended so far; puts
// arriving during an msync are batched into the next one, so fsyncs/s stays bounded while
// throughput scales with the number of concurrent writers. The flush thread then runs the
// callbacks of the waiters that msync made durable itself (no hand-off to another thread per
// group: on a 2-core machine that wake-up cost as much as the callbacks) and loops; puts
// made meanwhile, e.g. by those callbacks, go into the next msync.
// A watchdog thread (SYNC_FLUSH only: ASYNC_FLUSH puts never wait on a flush) enforces deadlines
// (kFlushDiskTimeout) while an msync is stuck: it polls every kWatchdogMs and only completes
// waiters past their deadline.
// After each flush (and its callbacks) the flush thread drops the log's flushed bytes more than
// commitLogPageCacheBytes behind from the page cache (CommitLog::DropPageCacheBehind).
// A failed msync latches the ErrorLatch (the store turns read-only) and fails every waiter
// with kServiceNotAvailable; later waiters fail immediately.
//
// Owns: the flush thread, the watchdog thread (SYNC_FLUSH) and the waiter list. Threads:
// WaitDurable/Wakeup from any thread; callbacks run on the flush thread (or, past their
// deadline, on the watchdog), on_flushed on the flush thread; neither may block.
// Locks: mu_ guards every field below it; never held during msync or callbacks.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "broker/store/commit_log.h"
#include "broker/store/store_options.h"
#include "broker/store/store_types.h"

namespace mq::store {

class FlushService {
 public:
  using DurableCallback = std::function<void(PutStatus, const Status&)>;

  // `on_committed` runs on the flush thread after it wrote staged commit log bytes (see
  // CommitLog), before their sync; `on_flushed` after each flush; `dispatched` says how far
  // the log has been read by the dispatcher (the page cache is dropped only behind it).
  FlushService(CommitLog* commit_log, const StoreOptions& options, ErrorLatch* latch,
               std::function<void()> on_committed, std::function<void()> on_flushed,
               std::function<int64_t()> dispatched);
  ~FlushService();
  FlushService(const FlushService&) = delete;
  FlushService& operator=(const FlushService&) = delete;

  void Start();
  // Stops the thread after a final flush; completes every remaining waiter.
  void Shutdown();

  // SYNC_FLUSH: `done` runs on the flush thread once [0, end_offset) is durable, or with
  // kFlushDiskTimeout at the deadline (or the latched error).
  void WaitDurable(int64_t end_offset, DurableCallback done);
  void Wakeup();
  // ASYNC_FLUSH, after an append that ends at `end_offset`, from any thread: wakes the flush
  // thread once per flushCommitLogEveryBytes appended (a load and a compare otherwise).
  void NoteAppended(int64_t end_offset);
  // Commit log flushes (msync passes that had bytes to sync) since Start(); any thread.
  int64_t flush_count() const { return flush_count_.load(std::memory_order_relaxed); }

 private:
  struct Waiter {
    int64_t end_offset;
    std::chrono::steady_clock::time_point deadline;
    DurableCallback done;
  };
  static constexpr int kWatchdogMs = 10;

  void FlushLoop();
  void WatchdogLoop();
  // Completes every waiter that is durable, expired or failed; with `all`, every waiter.
  void CompleteReady(bool all);

  CommitLog* const commit_log_;
  const StoreOptions& options_;
  ErrorLatch* const latch_;
  const std::function<void()> on_committed_;
  const std::function<void()> on_flushed_;
  const std::function<int64_t()> dispatched_;

  std::mutex mu_;
  std::condition_variable flush_cv_;
  std::condition_variable watchdog_cv_;
  std::vector<Waiter> waiters_;  // GUARDED_BY(mu_)
  int64_t max_waiter_end_ = 0;   // GUARDED_BY(mu_)
  int64_t flushed_seen_ = 0;     // GUARDED_BY(mu_)
  bool wake_ = false;            // GUARDED_BY(mu_)
  bool stop_ = false;            // GUARDED_BY(mu_)
  bool watchdog_stop_ = false;   // GUARDED_BY(mu_)
  std::thread flush_thread_;
  std::thread watchdog_thread_;
  std::atomic<int64_t> flush_count_{0};
  // Where the flush the last NoteAppended wake-up asked for began counting (ASYNC_FLUSH).
  std::atomic<int64_t> flush_asked_at_{0};
};

}  // namespace mq::store
