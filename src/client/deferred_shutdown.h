// DeferredShutdown: a client object's Shutdown() that may be called from one of the client's
// own threads (a listener, a send callback), which that shutdown joins. Called there, the
// shutdown runs on a thread of its own and the caller returns at once; the next Run() from
// elsewhere, or the destructor, waits for it.
// Thread-safe; mu_ guards the deferred thread. Declare it as the owner's last member, so it is
// destroyed (and waited for) before what the shutdown uses.
#pragma once

#include <functional>
#include <mutex>
#include <thread>
#include <utility>

namespace mq::client {

class DeferredShutdown {
 public:
  explicit DeferredShutdown(std::function<void()> shutdown) : shutdown_(std::move(shutdown)) {}
  DeferredShutdown(const DeferredShutdown&) = delete;
  DeferredShutdown& operator=(const DeferredShutdown&) = delete;
  ~DeferredShutdown() {
    if (!deferred_.joinable()) return;
    // Destroyed on that very thread (the owner's last reference went there): nothing to wait for.
    if (deferred_.get_id() == std::this_thread::get_id()) {
      deferred_.detach();
    } else {
      deferred_.join();
    }
  }

  // on_own_thread: the caller is one of the threads the shutdown joins.
  void Run(bool on_own_thread) {
    if (on_own_thread) {
      std::lock_guard lock(mu_);
      if (!deferred_.joinable()) deferred_ = std::thread(shutdown_);
      return;
    }
    shutdown_();
    std::thread deferred;
    {
      std::lock_guard lock(mu_);
      deferred.swap(deferred_);
    }
    if (deferred.joinable()) deferred.join();
  }

 private:
  const std::function<void()> shutdown_;
  std::mutex mu_;
  std::thread deferred_;  // guarded by mu_
};

}  // namespace mq::client
