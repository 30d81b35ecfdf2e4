// CallMeter: the smoothed time per call of application code the client runs for a reply (a
// push consumer's listener, a producer's send callbacks). It says whether the next calls may
// run on the thread that read the broker's reply instead of being handed to a pool thread: on
// this kind of machine a thread's wake-up costs 15-30 µs of CPU, more than such calls
// (docs/benchmarks.md).
//
// Threads: Record() and the queries from any thread. Relaxed atomics: concurrent updates may
// lose one sample, which only delays the mean.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace mq::client {

class CallMeter {
 public:
  // Calls measured before any may run on a reply thread.
  static constexpr int64_t kMeasuredCalls = 16;
  // The longest a reply thread is lent to calls at once: about what waking a pool thread
  // costs in latency on a loaded machine.
  static constexpr int64_t kMostNsOnReplyThread = 200'000;

  // max_call_ns: the mean above which calls stay off reply threads (0: they always do).
  explicit CallMeter(int64_t max_call_ns) : max_call_ns_(max_call_ns) {}

  // `calls` calls took `took_ns` together. Smoothed over about 8 records; the first record sets
  // the mean (starting from 0 would rate slow calls fast for a while).
  void Record(int64_t took_ns, size_t calls = 1) {
    if (calls == 0) return;
    const int64_t per_call = took_ns / static_cast<int64_t>(calls);
    const int64_t mean = mean_ns_.load(std::memory_order_relaxed);
    const bool first = calls_.fetch_add(static_cast<int64_t>(calls), std::memory_order_relaxed) == 0;
    mean_ns_.store(first ? per_call : mean + (per_call - mean) / 8, std::memory_order_relaxed);
  }

  int64_t mean_ns() const { return mean_ns_.load(std::memory_order_relaxed); }

  // Whether `calls` more calls may run on a reply thread: measured over kMeasuredCalls calls, a
  // mean of at most max_call_ns, and all of them within kMostNsOnReplyThread.
  bool ReplyThreadMayRun(size_t calls) const {
    if (max_call_ns_ == 0 || calls_.load(std::memory_order_relaxed) < kMeasuredCalls) return false;
    const int64_t mean = mean_ns();
    return mean <= max_call_ns_ && static_cast<int64_t>(calls) * mean <= kMostNsOnReplyThread;
  }

 private:
  const int64_t max_call_ns_;
  std::atomic<int64_t> mean_ns_{0};
  std::atomic<int64_t> calls_{0};
};

}  // namespace mq::client
