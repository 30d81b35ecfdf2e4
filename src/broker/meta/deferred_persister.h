// DeferredPersister: takes metadata writes off the request path. MarkDirty() is cheap and
// never blocks on I/O; the owner's `persist` function then runs on this class's own thread
// within `max_delay`, once for every burst of marks (coalesced: 20,000 auto-created topics
// cost a few table writes, not 20,000). A failed write is retried after another max_delay.
//
// The bound matters for crashes: after kill -9, at most the marks of the last max_delay
// (plus one write's duration) are missing from disk. Stop() (graceful shutdown) writes any
// pending change on the calling thread before returning.
//
// Owns: one std::jthread. Locks: mu_ guards dirty_/due_/stopped_; `persist` is always called
// without mu_, and never concurrently with itself from this class. Thread-safe.
// Lifecycle: the thread starts in the constructor; Stop() or the destructor ends it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"

namespace mq::broker {

class DeferredPersister {
 public:
  using PersistFn = std::function<Status()>;

  // `name` appears in log lines; `persist` must stay callable until Stop() returns.
  DeferredPersister(std::string name, std::chrono::milliseconds max_delay, PersistFn persist);
  ~DeferredPersister();
  DeferredPersister(const DeferredPersister&) = delete;
  DeferredPersister& operator=(const DeferredPersister&) = delete;

  // Schedules a write within max_delay unless one is already scheduled.
  void MarkDirty();
  // Schedules a write now (someone waits for it), coalesced with marks already pending.
  void FlushSoon();
  // Ends the thread; runs `persist` once more on the caller when a mark is pending and
  // returns its result (OK when nothing was pending). Later marks are written at once, on
  // the marking thread. Idempotent.
  Status Stop();
  // Whether a write is scheduled and not yet started.
  bool pending() const;

 private:
  void Run(std::stop_token stop);
  void Schedule(std::chrono::milliseconds delay);

  const std::string name_;
  const std::chrono::milliseconds max_delay_;
  const PersistFn persist_;

  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  bool dirty_ = false;                         // guarded by mu_
  std::chrono::steady_clock::time_point due_;  // guarded by mu_
  bool stopped_ = false;                       // guarded by mu_
  std::jthread thread_;
};

}  // namespace mq::broker
