#include "common/io_executor.h"

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include "common/logging.h"
#include "common/thread_name.h"

namespace mq {

struct IoExecutor::Timer {
  explicit Timer(asio::io_context& io) : timer(io) {}
  asio::steady_timer timer;
  std::function<void()> fn;
  std::chrono::milliseconds interval{0};  // zero for one-shot
};

struct IoExecutor::WorkGuard {
  explicit WorkGuard(asio::io_context& io) : guard(asio::make_work_guard(io)) {}
  asio::executor_work_guard<asio::io_context::executor_type> guard;
};

IoExecutor::IoExecutor(std::string name, int threads)
    : name_(std::move(name)),
      thread_count_(threads < 1 ? 1 : threads),
      io_(std::make_unique<asio::io_context>()) {}

IoExecutor::~IoExecutor() { Shutdown(); }

void IoExecutor::Start() {
  work_ = std::make_unique<WorkGuard>(*io_);
  for (int i = 0; i < thread_count_; ++i) {
    threads_.emplace_back([this] {
      SetCurrentThreadName(name_);
      try {
        io_->run();
      } catch (const std::exception& e) {
        Logger("common")->critical("executor {} thread died: {}", name_, e.what());
        throw;
      }
    });
  }
}

void IoExecutor::Shutdown() { Stop(/*drain=*/false); }

void IoExecutor::Drain() { Stop(/*drain=*/true); }

void IoExecutor::Stop(bool drain) {
  std::map<TaskId, std::shared_ptr<Timer>> timers;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    timers.swap(timers_);
  }
  for (auto& entry : timers) {  // not a structured binding: clang 14 cannot capture one
    asio::post(*io_, [timer = entry.second] { timer->timer.cancel(); });
  }
  work_.reset();
  // Without the work guard run() returns once nothing is queued (the cancelled timers' handlers
  // included); stop() makes it return after the handler running now.
  if (!drain) io_->stop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void IoExecutor::Post(std::function<void()> fn) { asio::post(*io_, std::move(fn)); }

IoExecutor::TaskId IoExecutor::ScheduleAfter(std::chrono::microseconds delay, std::function<void()> fn) {
  return ScheduleEvery(delay, std::chrono::milliseconds(0), std::move(fn));
}

IoExecutor::TaskId IoExecutor::ScheduleEvery(std::chrono::microseconds initial_delay,
                                             std::chrono::milliseconds interval, std::function<void()> fn) {
  auto timer = std::make_shared<Timer>(*io_);
  timer->fn = std::move(fn);
  timer->interval = interval;
  TaskId id;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return 0;
    id = next_id_++;
    timers_[id] = timer;
  }
  Arm(id, timer, initial_delay);
  return id;
}

void IoExecutor::Arm(TaskId id, std::shared_ptr<Timer> timer, std::chrono::microseconds delay) {
  timer->timer.expires_after(delay);
  timer->timer.async_wait([this, id, timer](const std::error_code& ec) {
    if (ec) return;  // cancelled
    {
      std::lock_guard lock(mu_);
      if (stopped_ || timers_.count(id) == 0) return;
    }
    try {
      timer->fn();
    } catch (const std::exception& e) {
      Logger("common")->error("executor {} task {} threw: {}", name_, id, e.what());
    }
    if (timer->interval.count() > 0) {
      std::lock_guard lock(mu_);
      if (!stopped_ && timers_.count(id)) Arm(id, timer, timer->interval);
    } else {
      std::lock_guard lock(mu_);
      timers_.erase(id);
    }
  });
}

void IoExecutor::Cancel(TaskId id) {
  std::shared_ptr<Timer> timer;
  {
    std::lock_guard lock(mu_);
    auto it = timers_.find(id);
    if (it == timers_.end()) return;
    timer = it->second;
    timers_.erase(it);
  }
  asio::post(*io_, [timer] { timer->timer.cancel(); });
}

asio::io_context& IoExecutor::context() { return *io_; }

bool IoExecutor::RunningInThisThread() const { return io_->get_executor().running_in_this_thread(); }

}  // namespace mq
