// ReplicationWaiters: SYNC_MASTER sends parked until the slaves hold their bytes (RocketMQ
// GroupTransferService, turned inside out: the send processor registers a waiter and returns;
// slave acknowledgements or the deadline complete it later).
//
// SetReplicatedOffset(x) completes every waiter whose end offset is <= x with `true`; a
// waiter still pending at its deadline completes with `false`; Shutdown() completes all
// pending waiters with `false`. Each callback runs exactly once, on the thread that calls
// Wait()/SetReplicatedOffset() or on the internal timeout thread, never under mu_. Callbacks
// must not block.
// Threads: one internal timeout thread (Start()..Shutdown()); all methods thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace mq::ha {

class ReplicationWaiters {
 public:
  using Callback = std::function<void(bool replicated)>;
  using Clock = std::chrono::steady_clock;

  ReplicationWaiters() = default;
  ~ReplicationWaiters();
  ReplicationWaiters(const ReplicationWaiters&) = delete;
  ReplicationWaiters& operator=(const ReplicationWaiters&) = delete;

  void Start();
  void Shutdown();

  // Completes `done` once the replicated offset reaches end_offset (inline when it already
  // has), or with false after `timeout`.
  void Wait(int64_t end_offset, std::chrono::milliseconds timeout, Callback done);
  // The offset every required slave holds. It may move backwards (a lagging slave joined the
  // in-sync set); completed waiters stay completed. `generation` numbers the computations of
  // the offset in the order they were made: one published after a newer one is ignored, as
  // computations made in one order can reach here in another.
  void SetReplicatedOffset(int64_t offset, uint64_t generation);
  int64_t replicated_offset() const;
  size_t pending() const;

 private:
  struct Waiter {
    Clock::time_point deadline;
    Callback done;
  };
  void TimeoutLoop();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool running_ = false;                    // GUARDED_BY(mu_)
  bool stop_ = false;                       // GUARDED_BY(mu_)
  int64_t replicated_ = -1;                 // GUARDED_BY(mu_)
  uint64_t generation_ = 0;                 // GUARDED_BY(mu_), of replicated_
  std::multimap<int64_t, Waiter> waiters_;  // GUARDED_BY(mu_), keyed by end offset
  std::thread thread_;
};

}  // namespace mq::ha
