#include "broker/longpolling/wait_registry.h"

#include <fmt/format.h>

#include <tuple>
#include <vector>

namespace mq::broker {

WaitRegistry::WaitRegistry(IoExecutor* executor, size_t max_waiters)
    : executor_(executor), max_waiters_(max_waiters) {}

Status WaitRegistry::Park(const std::string& key, std::chrono::milliseconds timeout, Check check) {
  auto waiter = std::make_shared<Waiter>();
  waiter->check = std::move(check);
  waiter->deadline = Clock::now() + timeout;
  uint64_t id = 0;
  {
    std::lock_guard lock(mu_);
    if (max_waiters_ != 0 && count_ >= max_waiters_ && !closed_) {
      return Status::ResourceExhausted(
          fmt::format("suspend_timeout_millis: the broker already holds {} suspended requests "
                      "(maxSuspendedPullRequests={}); retry later",
                      count_, max_waiters_));
    }
    // Closed, or the executor stopped so no deadline could be kept: answered below, at once.
    if (!closed_ && ArmSweepLocked(waiter->deadline)) {
      id = next_id_++;
      waiters_[key][id] = waiter;
      deadlines_.emplace(DeadlineKey{waiter->deadline, id}, std::make_pair(key, waiter));
      ++count_;
    }
  }
  if (id == 0) {
    waiter->check(true);
    return Status::OK();
  }
  // The first check runs here rather than on the executor: it closes the race with an arrival
  // just before the request was registered, and a hop per parked request would wake an
  // executor thread for every long poll (one per consumed message on a lightly loaded queue).
  Run(key, id, waiter, false);
  return Status::OK();
}

void WaitRegistry::Notify(const std::string& key, NotifyOn where) {
  std::vector<std::pair<uint64_t, WaiterPtr>> batch;
  {
    std::lock_guard lock(mu_);
    auto it = waiters_.find(key);
    if (it == waiters_.end()) return;
    batch.assign(it->second.begin(), it->second.end());
  }
  if (where == NotifyOn::kCaller && batch.size() <= kMaxChecksOnCaller) {
    for (const auto& [id, waiter] : batch) Run(key, id, waiter, false);
    return;
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
  if (finished) Remove(key, id, waiter->deadline);
}

void WaitRegistry::Remove(const std::string& key, uint64_t id, Clock::time_point deadline) {
  std::lock_guard lock(mu_);
  deadlines_.erase(DeadlineKey{deadline, id});
  auto it = waiters_.find(key);
  if (it == waiters_.end()) return;
  count_ -= it->second.erase(id);
  if (it->second.empty()) waiters_.erase(it);
}

bool WaitRegistry::ArmSweepLocked(Clock::time_point deadline) {
  if (sweep_timer_ != 0 && sweep_at_ <= deadline) return true;
  // Rounded up: a sweep that fires before the deadline would only have to re-arm.
  auto delay = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
  const uint64_t generation = ++sweep_generation_;
  auto timer = executor_->ScheduleAfter(std::max(delay, std::chrono::milliseconds(0)),
                                        [this, generation] { Sweep(generation); });
  if (timer == 0) return false;
  if (sweep_timer_ != 0) executor_->Cancel(sweep_timer_);
  sweep_timer_ = timer;
  sweep_at_ = deadline;
  return true;
}

void WaitRegistry::Sweep(uint64_t generation) {
  std::vector<std::tuple<std::string, uint64_t, WaiterPtr>> due;
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    // A sweep replaced by an earlier one (its cancel came too late) answers what is due but
    // leaves the armed timer alone.
    if (generation == sweep_generation_) {
      sweep_timer_ = 0;
      sweep_at_ = Clock::time_point::max();
    }
    const auto now = Clock::now();
    auto it = deadlines_.begin();
    for (; it != deadlines_.end() && it->first.first <= now; ++it) {
      due.emplace_back(it->second.first, it->first.second, it->second.second);
    }
    // A stopped executor answers nothing more here; Shutdown() answers what is left.
    if (it != deadlines_.end()) ArmSweepLocked(it->first.first);
  }
  for (const auto& [key, id, waiter] : due) Run(key, id, waiter, true);
}

void WaitRegistry::Shutdown() {
  std::unordered_map<std::string, std::map<uint64_t, WaiterPtr>> all;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    all.swap(waiters_);
    deadlines_.clear();
    count_ = 0;
    if (sweep_timer_ != 0) executor_->Cancel(sweep_timer_);
    sweep_timer_ = 0;
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
