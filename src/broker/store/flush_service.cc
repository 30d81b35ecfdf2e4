#include "broker/store/flush_service.h"

#include "common/logging.h"
#include "common/thread_name.h"

namespace mq::store {

FlushService::FlushService(CommitLog* commit_log, const StoreOptions& options, ErrorLatch* latch,
                           std::function<void()> on_committed, std::function<void()> on_flushed,
                           std::function<int64_t()> dispatched)
    : commit_log_(commit_log),
      options_(options),
      latch_(latch),
      on_committed_(std::move(on_committed)),
      on_flushed_(std::move(on_flushed)),
      dispatched_(std::move(dispatched)) {}

FlushService::~FlushService() { Shutdown(); }

void FlushService::Start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = false;
    watchdog_stop_ = false;
    flushed_seen_ = commit_log_->flushed_offset();
  }
  flush_asked_at_.store(commit_log_->flushed_offset(), std::memory_order_relaxed);
  flush_thread_ = StartNamedThread("mq-flush", [this] { FlushLoop(); });
  // Only SYNC_FLUSH puts wait on the flush; an ASYNC_FLUSH store's watchdog would only wake
  // kWatchdogMs after kWatchdogMs (100 times a second on an idle broker).
  if (options_.flush_disk_type == FlushDiskType::kSyncFlush)
    watchdog_thread_ = StartNamedThread("mq-flush-watch", [this] { WatchdogLoop(); });
}

void FlushService::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  flush_cv_.notify_all();
  if (flush_thread_.joinable()) flush_thread_.join();  // ends after a final flush
  {
    std::lock_guard<std::mutex> lock(mu_);
    watchdog_stop_ = true;
  }
  watchdog_cv_.notify_all();
  if (watchdog_thread_.joinable()) watchdog_thread_.join();
  CompleteReady(/*all=*/true);  // waiters registered after the flush thread's last pass
}

void FlushService::WaitDurable(int64_t end_offset, DurableCallback done) {
  if (!latch_->ok()) {
    done(PutStatus::kServiceNotAvailable, latch_->status());
    return;
  }
  bool stopped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped = stop_;
    if (!stopped) {
      waiters_.push_back(
          {end_offset,
           std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.sync_flush_timeout_ms),
           std::move(done)});
      max_waiter_end_ = std::max(max_waiter_end_, end_offset);
    }
  }
  if (stopped) {
    done(PutStatus::kServiceNotAvailable, Status::Unavailable("store is shutting down"));
    return;
  }
  flush_cv_.notify_one();
}

void FlushService::Wakeup() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = true;
  }
  flush_cv_.notify_one();
}

void FlushService::NoteAppended(int64_t end_offset) {
  const int64_t every = options_.flush_commit_log_every_bytes;
  if (every <= 0) return;
  int64_t asked_at = flush_asked_at_.load(std::memory_order_relaxed);
  if (end_offset - asked_at < every) return;
  // One of the appenders that cross the mark wakes the flush thread; its pass covers them all.
  if (flush_asked_at_.compare_exchange_strong(asked_at, end_offset, std::memory_order_relaxed)) Wakeup();
}

void FlushService::FlushLoop() {
  const bool sync = options_.flush_disk_type == FlushDiskType::kSyncFlush;
  const auto interval = std::chrono::milliseconds(options_.flush_interval_commit_log_ms);
  while (true) {
    bool stopping;
    {
      std::unique_lock<std::mutex> lock(mu_);
      flush_cv_.wait_for(lock, interval,
                         [&] { return stop_ || wake_ || (sync && max_waiter_end_ > flushed_seen_); });
      stopping = stop_;
      wake_ = false;
    }
    Status s;
    if (latch_->ok()) {
      // Staged bytes stay in the ring after a failure: nothing may become readable or durable.
      if (commit_log_->CommitStaged() && on_committed_) on_committed_();
      if (commit_log_->flushed_offset() < commit_log_->committed_offset()) {
        flush_count_.fetch_add(1, std::memory_order_relaxed);
      }
      s = commit_log_->Flush();
      if (!s.ok()) {
        MQ_LOG_ERROR(Logger("store"), "commit log flush failed, store is now read-only: {}", s.ToString());
        latch_->Set(s);
      } else if (on_flushed_) {
        on_flushed_();
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      // After a failure, nothing becomes durable again; stop retrying for the waiters.
      flushed_seen_ = latch_->ok() ? commit_log_->flushed_offset() : INT64_MAX;
    }
    CompleteReady(/*all=*/stopping);
    if (stopping) break;
    // After the replies, off their way: dropping a step of pages takes a millisecond or two.
    if (s.ok() && latch_->ok() && options_.commit_log_page_cache_bytes > 0) {
      commit_log_->DropPageCacheBehind(options_.commit_log_page_cache_bytes, dispatched_());
    }
  }
}

void FlushService::CompleteReady(bool all) {
  std::vector<Waiter> ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (waiters_.empty()) return;
    auto now = std::chrono::steady_clock::now();
    std::vector<Waiter> keep;
    for (auto& w : waiters_) {
      bool done = all || !latch_->ok() || w.end_offset <= flushed_seen_ || now > w.deadline;
      (done ? ready : keep).push_back(std::move(w));
    }
    waiters_.swap(keep);
  }
  int64_t flushed = commit_log_->flushed_offset();
  auto now = std::chrono::steady_clock::now();
  for (auto& w : ready) {
    if (!latch_->ok()) {
      w.done(PutStatus::kServiceNotAvailable, latch_->status());
    } else if (w.end_offset > flushed) {
      w.done(all ? PutStatus::kServiceNotAvailable : PutStatus::kFlushDiskTimeout,
             all ? Status::Unavailable("store shut down before the message was durable")
                 : Status::Timeout("not durable within syncFlushTimeout"));
    } else if (now > w.deadline) {
      w.done(PutStatus::kFlushDiskTimeout, Status::Timeout("durable only after syncFlushTimeout"));
    } else {
      w.done(PutStatus::kOk, Status::OK());
    }
  }
}

void FlushService::WatchdogLoop() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (watchdog_cv_.wait_for(lock, std::chrono::milliseconds(kWatchdogMs), [&] { return watchdog_stop_; }))
        return;
      // Deadlines grow in registration order: nothing is due unless the oldest waiter is.
      if (waiters_.empty() || std::chrono::steady_clock::now() <= waiters_.front().deadline) continue;
    }
    CompleteReady(/*all=*/false);
  }
}

}  // namespace mq::store
