// BenchReport: counters and latency histograms of one mqbench run, the per-second progress
// line and the final summary (human text or the one-line JSON scripts parse). For sends, ok
// means SEND_OK only; the summary also breaks messages down per outcome ("status").
// Thread-safe: workers call Ok()/Failed() concurrently; Tick()/Finish() run on one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench_util.h"
#include "latency_histogram.h"

namespace mq::bench {

class BenchReport {
 public:
  BenchReport(std::string count_name, int64_t bytes_per_message)
      : count_name_(std::move(count_name)), bytes_per_message_(bytes_per_message) {}

  void Ok(int64_t messages, int64_t latency_us) {
    ok_.fetch_add(messages, std::memory_order_relaxed);
    interval_.Record(latency_us);
    total_.Record(latency_us);
  }
  void Failed(int64_t messages) { failed_.fetch_add(messages, std::memory_order_relaxed); }
  // Per-outcome message counts of sends (SEND_OK, FLUSH_DISK_TIMEOUT, ...), in the summary.
  void CountOutcome(std::string_view outcome, int64_t messages) { outcomes_.Add(outcome, messages); }
  // Requests the producer sent (auto-batching puts several messages in one), in the summary.
  void SetRequests(int64_t requests) { requests_ = requests; }
  // A named share of the latency (e2e: send -> store, store -> listener), in the summary as
  // "stages": {name: {p50_us, p99_us, p999_us, max_us}}. Before Finish(), from one thread.
  void AddStage(std::string name, const LatencyHistogram* histogram) {
    stages_.emplace_back(std::move(name), histogram);
  }
  // A named count, in the JSON summary as "name":value. Before Finish(), from one thread.
  void AddCount(std::string name, int64_t value) { counts_.emplace_back(std::move(name), value); }
  int64_t ok() const { return ok_.load(); }
  int64_t failed() const { return failed_.load(); }

  void Start() { start_ = last_tick_ = std::chrono::steady_clock::now(); }
  // Prints one progress line for the interval since the last tick and starts a new interval.
  void Tick();
  // Prints the summary (text) or the one JSON line the interface defines.
  void Finish(bool json) const;

 private:
  const std::string count_name_;
  const int64_t bytes_per_message_;
  std::atomic<int64_t> ok_{0};
  std::atomic<int64_t> failed_{0};
  StatusCounts outcomes_;
  int64_t requests_ = 0;
  std::vector<std::pair<std::string, const LatencyHistogram*>> stages_;
  std::vector<std::pair<std::string, int64_t>> counts_;
  int64_t ok_at_last_tick_ = 0;
  int64_t failed_at_last_tick_ = 0;
  LatencyHistogram interval_;
  LatencyHistogram total_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_tick_;
};

}  // namespace mq::bench
