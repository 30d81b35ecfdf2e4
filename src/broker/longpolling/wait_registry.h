// WaitRegistry: parked long-poll requests (RocketMQ PullRequestHoldService, generalised),
// keyed by a string such as "topic@queueId" or a consumer group. A parked request is
// re-checked when Notify(key) is called (message arrival, group change) and answered at its
// deadline at the latest.
//
// Contract of Check(timed_out): return true once the request has been answered. It is called
// with timed_out=false on every wake-up (first right after Park(), which closes the race with
// an arrival just before parking) and exactly once with timed_out=true at the deadline unless
// it returned true before; after returning true it is never called again. Calls for one
// waiter never overlap.
// Capacity: at most `max_waiters` requests are parked at once (maxSuspendedPullRequests), so
// clients cannot make the broker hold unbounded requests and their eventual responses; Park()
// past it refuses with RESOURCE_EXHAUSTED and the caller answers the request with that.
// Deadlines: one executor timer, armed for the earliest deadline, answers every request due
// when it fires and re-arms for the next. Parking with a later deadline than the armed one
// (the usual case: equal timeouts) and answering a request before its deadline touch no timer,
// so a parked request costs the executor no wake-up unless it times out.
// Threads: the first check runs on the caller of Park() before it returns (callers hold no
// lock there); Notify(key, kCaller) runs the re-checks on its caller when at most
// kMaxChecksOnCaller requests wait under the key (the store's dispatch thread, so an arriving
// message reaches a waiting consumer without a hop to another thread), otherwise they and the
// deadline answers run on the IoExecutor's threads. Park/Notify never block on a check of
// another thread.
// Locking: mu_ guards waiters_, deadlines_ and the sweep timer; each waiter's own mutex
// serialises its checks. mu_ is never held while a check runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "common/io_executor.h"
#include "common/status.h"

namespace mq::broker {

class WaitRegistry {
 public:
  using Check = std::function<bool(bool timed_out)>;

  // max_waiters 0 = no limit.
  explicit WaitRegistry(IoExecutor* executor, size_t max_waiters = 0);
  WaitRegistry(const WaitRegistry&) = delete;
  WaitRegistry& operator=(const WaitRegistry&) = delete;

  // Parks `check` under `key`. ResourceExhausted (check not called, nothing parked) when
  // max_waiters requests are parked already.
  [[nodiscard]] Status Park(const std::string& key, std::chrono::milliseconds timeout, Check check);
  // Where Notify runs the re-checks (see the class comment).
  enum class NotifyOn { kExecutor, kCaller };
  static constexpr size_t kMaxChecksOnCaller = 2;
  void Notify(const std::string& key, NotifyOn where = NotifyOn::kExecutor);
  // Answers every parked request as timed out (broker shutdown); later Park() calls are
  // answered at once.
  void Shutdown();
  size_t size() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Waiter {
    std::mutex mu;
    bool done = false;  // guarded by mu
    Check check;
    Clock::time_point deadline;  // set before the waiter is shared
  };
  using WaiterPtr = std::shared_ptr<Waiter>;
  using DeadlineKey = std::pair<Clock::time_point, uint64_t>;  // (deadline, id)

  void Run(const std::string& key, uint64_t id, const WaiterPtr& waiter, bool timed_out);
  void Remove(const std::string& key, uint64_t id, Clock::time_point deadline);
  // Arms the sweep timer for `deadline` unless it is armed for that time or earlier. False when
  // the executor has stopped. Caller holds mu_.
  bool ArmSweepLocked(Clock::time_point deadline);
  // Executor: answers every request past its deadline, then arms for the next deadline.
  // `generation` tells a replaced timer's late run from the armed one's.
  void Sweep(uint64_t generation);

  IoExecutor* executor_;
  const size_t max_waiters_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::map<uint64_t, WaiterPtr>> waiters_;  // guarded by mu_
  std::map<DeadlineKey, std::pair<std::string, WaiterPtr>> deadlines_;      // guarded by mu_
  IoExecutor::TaskId sweep_timer_ = 0;                                      // guarded by mu_
  Clock::time_point sweep_at_ = Clock::time_point::max();                   // guarded by mu_
  uint64_t sweep_generation_ = 0;                                           // guarded by mu_
  uint64_t next_id_ = 1;                                                    // guarded by mu_
  size_t count_ = 0;                                                        // guarded by mu_
  bool closed_ = false;                                                     // guarded by mu_
};

}  // namespace mq::broker
