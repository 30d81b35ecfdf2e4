// LatencyHistogram: HDR-style log-linear histogram of microsecond latencies. Values below 64
// are exact; above, each power-of-two range is split into 64 sub-buckets (error < 1.6 %).
// Percentiles come from the full distribution, never from averages of averages.
// Thread-safe: Record() is lock-free (relaxed atomics); readers see a consistent-enough view.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstdint>

namespace mq::bench {

class LatencyHistogram {
 public:
  static constexpr int kSubBits = 6;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kBuckets = (64 - kSubBits + 1) * kSub;

  void Record(int64_t us) {
    uint64_t v = us < 0 ? 0 : static_cast<uint64_t>(us);
    buckets_[Index(v)].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    uint64_t prev = max_.load(std::memory_order_relaxed);
    while (v > prev && !max_.compare_exchange_weak(prev, v, std::memory_order_relaxed)) {
    }
  }

  // Adds every sample of `other` (other keeps its samples).
  void Merge(const LatencyHistogram& other) {
    for (int i = 0; i < kBuckets; ++i) {
      uint64_t n = other.buckets_[static_cast<size_t>(i)].load(std::memory_order_relaxed);
      if (n) buckets_[static_cast<size_t>(i)].fetch_add(n, std::memory_order_relaxed);
    }
    count_.fetch_add(other.count(), std::memory_order_relaxed);
    uint64_t m = other.max_.load();
    uint64_t prev = max_.load();
    while (m > prev && !max_.compare_exchange_weak(prev, m)) {
    }
  }

  void Reset() {
    for (auto& b : buckets_) b.store(0, std::memory_order_relaxed);
    count_ = 0;
    max_ = 0;
  }

  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  uint64_t max() const { return max_.load(std::memory_order_relaxed); }

  // Upper bound of the bucket holding the p-quantile (0 <= p <= 1).
  uint64_t Percentile(double p) const {
    uint64_t total = count();
    if (total == 0) return 0;
    auto rank = static_cast<uint64_t>(p * static_cast<double>(total));
    if (rank >= total) rank = total - 1;
    uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += buckets_[static_cast<size_t>(i)].load(std::memory_order_relaxed);
      if (seen > rank) return std::min(UpperBound(i), max());
    }
    return max();
  }

 private:
  static int Index(uint64_t v) {
    if (v < kSub) return static_cast<int>(v);
    int msb = 63 - std::countl_zero(v);  // >= kSubBits
    int shift = msb - kSubBits;
    return (shift + 1) * kSub + static_cast<int>((v >> shift) & (kSub - 1));
  }
  static uint64_t UpperBound(int index) {
    if (index < kSub) return static_cast<uint64_t>(index);
    int shift = index / kSub - 1;
    uint64_t sub = static_cast<uint64_t>(index % kSub) | kSub;
    return ((sub + 1) << shift) - 1;
  }

  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> max_{0};
};

}  // namespace mq::bench
