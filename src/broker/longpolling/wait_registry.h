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
// Threads: the first check runs on the caller of Park() before it returns (callers hold no
// lock there), later ones on the IoExecutor's threads; Park/Notify are thread-safe and never
// block.
// Locking: mu_ guards waiters_; each waiter's own mutex serialises its checks. mu_ is never
// held while a check runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

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
  void Notify(const std::string& key);
  // Answers every parked request as timed out (broker shutdown); later Park() calls are
  // answered at once.
  void Shutdown();
  size_t size() const;

 private:
  struct Waiter {
    std::mutex mu;
    bool done = false;  // guarded by mu
    Check check;
    IoExecutor::TaskId timer = 0;
  };
  using WaiterPtr = std::shared_ptr<Waiter>;

  void Run(const std::string& key, uint64_t id, const WaiterPtr& waiter, bool timed_out);
  void Remove(const std::string& key, uint64_t id);

  IoExecutor* executor_;
  const size_t max_waiters_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::map<uint64_t, WaiterPtr>> waiters_;  // guarded by mu_
  uint64_t next_id_ = 1;                                                    // guarded by mu_
  size_t count_ = 0;                                                        // guarded by mu_
  bool closed_ = false;                                                     // guarded by mu_
};

}  // namespace mq::broker
