// IoExecutor: one asio::io_context run by N threads, plus a timer scheduler on top of it.
// Daemons own one; every periodic job (route expiry scan, registration, flush ticks, offset
// persistence) is a Schedule*() on it. Callbacks run on the executor's threads and must not
// block on disk or network for long: post blocking work to the owner's own thread.
//
// Lifecycle: construct -> Start() -> Schedule*/Post from any thread -> Shutdown() (cancels
// all timers, stops the context, joins the threads; idempotent, also run by the destructor).
// Locking: mu_ guards timers_; never held while a callback runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace asio {
class io_context;
}

namespace mq {

class IoExecutor {
 public:
  using TaskId = uint64_t;

  explicit IoExecutor(std::string name, int threads = 1);
  ~IoExecutor();
  IoExecutor(const IoExecutor&) = delete;
  IoExecutor& operator=(const IoExecutor&) = delete;

  void Start();
  // Stops the threads; handlers still queued are dropped.
  void Shutdown();
  // Stops once every handler queued (and whatever those post) has run: for an executor whose
  // handlers are promised to run exactly once (send callbacks). Timers are cancelled.
  void Drain();

  void Post(std::function<void()> fn);
  // Runs fn once after delay. Returns an id usable with Cancel().
  TaskId ScheduleAfter(std::chrono::microseconds delay, std::function<void()> fn);
  // Runs fn after initial_delay and then every interval (fixed delay between runs, like
  // ScheduledExecutorService.scheduleWithFixedDelay).
  TaskId ScheduleEvery(std::chrono::microseconds initial_delay, std::chrono::milliseconds interval,
                       std::function<void()> fn);
  // Cancels a pending timer; a run already in progress completes.
  void Cancel(TaskId id);

  asio::io_context& context();
  // Whether the calling thread is one of this executor's.
  bool RunningInThisThread() const;

 private:
  struct Timer;
  void Arm(TaskId id, std::shared_ptr<Timer> timer, std::chrono::microseconds delay);
  void Stop(bool drain);

  const std::string name_;
  const int thread_count_;
  std::unique_ptr<asio::io_context> io_;
  struct WorkGuard;
  std::unique_ptr<WorkGuard> work_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::map<TaskId, std::shared_ptr<Timer>> timers_;  // guarded by mu_
  TaskId next_id_ = 1;                               // guarded by mu_
  bool stopped_ = false;                             // guarded by mu_
};

}  // namespace mq
