#include "broker/ha/replication_waiters.h"

#include <vector>

#include "common/thread_name.h"

namespace mq::ha {

ReplicationWaiters::~ReplicationWaiters() { Shutdown(); }

void ReplicationWaiters::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (running_) return;
  running_ = true;
  stop_ = false;
  thread_ = StartNamedThread("mq-ha-timeouts", [this] { TimeoutLoop(); });
}

void ReplicationWaiters::Shutdown() {
  std::multimap<int64_t, Waiter> rest;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    rest.swap(waiters_);
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_ = false;
  }
  for (auto& [offset, w] : rest) w.done(false);
}

void ReplicationWaiters::Wait(int64_t end_offset, std::chrono::milliseconds timeout, Callback done) {
  bool replicated = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    replicated = replicated_ >= end_offset;
    if (!stop_ && !replicated) {
      waiters_.emplace(end_offset, Waiter{Clock::now() + timeout, std::move(done)});
      cv_.notify_all();
      return;
    }
  }
  done(replicated);
}

void ReplicationWaiters::SetReplicatedOffset(int64_t offset, uint64_t generation) {
  std::vector<Callback> ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (generation < generation_) return;
    generation_ = generation;
    replicated_ = offset;
    auto end = waiters_.upper_bound(offset);
    for (auto it = waiters_.begin(); it != end; ++it) ready.push_back(std::move(it->second.done));
    waiters_.erase(waiters_.begin(), end);
  }
  for (auto& cb : ready) cb(true);
}

int64_t ReplicationWaiters::replicated_offset() const {
  std::lock_guard<std::mutex> lock(mu_);
  return replicated_;
}

size_t ReplicationWaiters::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiters_.size();
}

void ReplicationWaiters::TimeoutLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    auto now = Clock::now();
    auto next = Clock::time_point::max();
    std::vector<Callback> expired;
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->second.deadline <= now) {
        expired.push_back(std::move(it->second.done));
        it = waiters_.erase(it);
      } else {
        next = std::min(next, it->second.deadline);
        ++it;
      }
    }
    if (!expired.empty()) {
      lock.unlock();
      for (auto& cb : expired) cb(false);
      lock.lock();
      continue;
    }
    if (next == Clock::time_point::max()) {
      cv_.wait(lock);
    } else {
      cv_.wait_until(lock, next);
    }
  }
}

}  // namespace mq::ha
