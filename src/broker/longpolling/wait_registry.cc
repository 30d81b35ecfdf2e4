#include "broker/longpolling/wait_registry.h"

#include <fmt/format.h>

#include <vector>

namespace mq::broker {

WaitRegistry::WaitRegistry(IoExecutor* executor, size_t max_waiters)
    : executor_(executor), max_waiters_(max_waiters) {}

Status WaitRegistry::Park(const std::string& key, std::chrono::milliseconds timeout, Check check) {
  auto waiter = std::make_shared<Waiter>();
  waiter->check = std::move(check);
  uint64_t id;
  {
    std::lock_guard lock(mu_);
    if (closed_) {
      waiter->check(true);
      return Status::OK();
    }
    if (max_waiters_ != 0 && count_ >= max_waiters_) {
      return Status::ResourceExhausted(
          fmt::format("suspend_timeout_millis: the broker already holds {} suspended requests "
                      "(maxSuspendedPullRequests={}); retry later",
                      count_, max_waiters_));
    }
    id = next_id_++;
    waiters_[key][id] = waiter;
    ++count_;
  }
  waiter->timer = executor_->ScheduleAfter(timeout, [this, key, id, waiter] { Run(key, id, waiter, true); });
  if (waiter->timer == 0) {  // executor stopped: answer now
    Run(key, id, waiter, true);
    return Status::OK();
  }
  // The first check runs here rather than on the executor: it closes the race with an arrival
  // just before the request was registered, and a hop per parked request would wake an
  // executor thread for every long poll (one per consumed message on a lightly loaded queue).
  Run(key, id, waiter, false);
  return Status::OK();
}

void WaitRegistry::Notify(const std::string& key) {
  std::vector<std::pair<uint64_t, WaiterPtr>> batch;
  {
    std::lock_guard lock(mu_);
    auto it = waiters_.find(key);
    if (it == waiters_.end()) return;
    batch.assign(it->second.begin(), it->second.end());
  }
  executor_->Post([this, key, batch = std::move(batch)] {
    for (const auto& [id, waiter] : batch) Run(key, id, waiter, false);
  });
}

void WaitRegistry::Run(const std::string& key, uint64_t id, const WaiterPtr& waiter, bool timed_out) {
  bool finished;
  {
    std::lock_guard lock(waiter->mu);
    if (waiter->done) return;
    finished = waiter->check(timed_out) || timed_out;
    waiter->done = finished;
  }
  if (!finished) return;
  if (!timed_out) executor_->Cancel(waiter->timer);
  Remove(key, id);
}

void WaitRegistry::Remove(const std::string& key, uint64_t id) {
  std::lock_guard lock(mu_);
  auto it = waiters_.find(key);
  if (it == waiters_.end()) return;
  count_ -= it->second.erase(id);
  if (it->second.empty()) waiters_.erase(it);
}

void WaitRegistry::Shutdown() {
  std::unordered_map<std::string, std::map<uint64_t, WaiterPtr>> all;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    all.swap(waiters_);
    count_ = 0;
  }
  for (auto& [key, waiters] : all) {
    for (auto& [id, waiter] : waiters) {
      std::lock_guard lock(waiter->mu);
      if (waiter->done) continue;
      waiter->check(true);
      waiter->done = true;
    }
  }
}

size_t WaitRegistry::size() const {
  std::lock_guard lock(mu_);
  return count_;
}

}  // namespace mq::broker
