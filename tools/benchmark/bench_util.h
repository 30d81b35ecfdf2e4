// Helpers shared by the benchmark tools. Header-only.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace mq::bench {

// The p-quantile (0..1) of latencies in microseconds, returned in milliseconds. Reorders v.
inline double PercentileMs(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  size_t idx = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(idx), v.end());
  return static_cast<double>(v[idx]) / 1000.0;
}

}  // namespace mq::bench
