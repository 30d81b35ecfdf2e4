// Helpers shared by the benchmark tools (broker_bench, mqbench). Header-only.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace mq::bench {

// The p-quantile (0..1) of latencies in microseconds, returned in milliseconds. Reorders v.
inline double PercentileMs(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  size_t idx = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(idx), v.end());
  return static_cast<double>(v[idx]) / 1000.0;
}

// Messages per outcome of a run: SEND_OK, or why a send did not count (FLUSH_DISK_TIMEOUT,
// FLUSH_SLAVE_TIMEOUT, SLAVE_NOT_AVAILABLE: stored but not durable as configured; or the RPC /
// client error). Only SEND_OK is a success: a benchmark that counted every reply would report
// a SYNC_MASTER without its slave as healthy. Thread-safe (one mutex; per reply, not per byte).
class StatusCounts {
 public:
  void Add(std::string_view outcome, int64_t messages) {
    std::lock_guard<std::mutex> lock(mu_);
    counts_[std::string(outcome)] += messages;
  }
  // {"SEND_OK":12,"SLAVE_NOT_AVAILABLE":3}, keys sorted.
  std::string Json() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out = "{";
    for (const auto& [name, n] : counts_) {
      if (out.size() > 1) out += ",";
      out += "\"" + name + "\":" + std::to_string(n);
    }
    return out + "}";
  }
  // SEND_OK=12 SLAVE_NOT_AVAILABLE=3
  std::string Text() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out;
    for (const auto& [name, n] : counts_) {
      if (!out.empty()) out += " ";
      out += name + "=" + std::to_string(n);
    }
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, int64_t> counts_;  // guarded by mu_
};

}  // namespace mq::bench
