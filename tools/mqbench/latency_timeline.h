// LatencyTimeline: for each window of send time in an e2e run, how many messages arrived, how many
// took longer than a bound, and the longest. A p99 says how late the tail is; the timeline says
// where in the run it came from: a start-up transient, bursts every so often, or a steady shift
// (docs/benchmarks.md, thirty-sixth session).
// Thread-safe: Record() from any thread (relaxed atomics); Write() and Late() once the run is over.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace mq::bench {

class LatencyTimeline {
 public:
  // Windows of `window_us` from `start_us` (wall-clock µs), enough for `seconds`; messages sent
  // later fall into the last window.
  LatencyTimeline(int64_t start_us, int64_t window_us, double seconds, int64_t late_us)
      : start_us_(start_us),
        window_us_(window_us),
        late_us_(late_us),
        count_(static_cast<int64_t>(seconds * 1e6) / window_us + 2),
        windows_(std::make_unique<Window[]>(static_cast<size_t>(count_))) {}

  void Record(int64_t sent_us, int64_t latency_us) {
    int64_t i = (sent_us - start_us_) / window_us_;
    if (i < 0) i = 0;
    if (i >= count_) i = count_ - 1;
    Window& w = windows_[static_cast<size_t>(i)];
    w.messages.fetch_add(1, std::memory_order_relaxed);
    if (latency_us > late_us_) w.late.fetch_add(1, std::memory_order_relaxed);
    int64_t prev = w.max_us.load(std::memory_order_relaxed);
    while (latency_us > prev &&
           !w.max_us.compare_exchange_weak(prev, latency_us, std::memory_order_relaxed)) {
    }
  }

  // Messages over the bound, in every window from `from_us` (wall-clock) on.
  int64_t Late(int64_t from_us) const {
    int64_t n = 0;
    for (int64_t i = 0; i < count_; ++i) {
      if (start_us_ + (i + 1) * window_us_ > from_us) n += windows_[static_cast<size_t>(i)].late.load();
    }
    return n;
  }

  // CSV: window start (ms since the first send), messages, over the bound, longest (µs). False
  // when the file cannot be written.
  bool Write(const std::string& path) const {
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "w"), &std::fclose);
    if (!f) return false;
    std::fprintf(f.get(), "window_ms,messages,over_%lld_us,max_us\n", static_cast<long long>(late_us_));
    for (int64_t i = 0; i < count_; ++i) {
      const Window& w = windows_[static_cast<size_t>(i)];
      if (w.messages.load() == 0) continue;
      std::fprintf(f.get(), "%lld,%lld,%lld,%lld\n", static_cast<long long>(i * window_us_ / 1000),
                   static_cast<long long>(w.messages.load()), static_cast<long long>(w.late.load()),
                   static_cast<long long>(w.max_us.load()));
    }
    return std::ferror(f.get()) == 0;
  }

 private:
  struct Window {
    std::atomic<int64_t> messages{0};
    std::atomic<int64_t> late{0};
    std::atomic<int64_t> max_us{0};
  };
  const int64_t start_us_;
  const int64_t window_us_;
  const int64_t late_us_;
  const int64_t count_;
  std::unique_ptr<Window[]> windows_;
};

}  // namespace mq::bench
