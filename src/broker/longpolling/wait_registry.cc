#include "broker/longpolling/wait_registry.h"

#include <vector>

namespace mq::broker {

WaitRegistry::WaitRegistry(IoExecutor* executor) : executor_(executor) {}

void WaitRegistry::Park(const std::string& key, std::chrono::milliseconds timeout, Check check) {
  auto waiter = std::make_shared<Waiter>();
  waiter->check = std::move(check);
  uint64_t id;
  {
    std::lock_guard lock(mu_);
    if (closed_) {
      waiter->check(true);
      return;
    }
    id = next_id_++;
    waiters_[key][id] = waiter;
  }
  waiter->timer = executor_->ScheduleAfter(timeout, [this, key, id, waiter] { Run(key, id, waiter, true); });
  if (waiter->timer == 0) {  // executor stopped: answer now
    Run(key, id, waiter, true);
    return;
  }
  executor_->Post([this, key, id, waiter] { Run(key, id, waiter, false); });
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
  it->second.erase(id);
  if (it->second.empty()) waiters_.erase(it);
}

void WaitRegistry::Shutdown() {
  std::unordered_map<std::string, std::map<uint64_t, WaiterPtr>> all;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    all.swap(waiters_);
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
  size_t n = 0;
  for (const auto& [key, waiters] : waiters_) n += waiters.size();
  return n;
}

}  // namespace mq::broker
