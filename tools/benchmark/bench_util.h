// Helpers shared by the benchmark tools (broker_bench, mqbench). Header-only.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
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
// a SYNC_MASTER without its slave as healthy.
// Thread-safe. Counting a known outcome takes no lock and allocates nothing: dozens of sender
// threads count every reply, and a mutex here queued them behind each other (one preempted
// holder stalled the rest), which the benchmark then reported as the client's cost. mu_ only
// serialises adding a name; a name is published (size_) after its slot is written.
class StatusCounts {
 public:
  void Add(std::string_view outcome, int64_t messages) {
    Slot* slot = Find(outcome, size_.load(std::memory_order_acquire));
    if (slot == nullptr) {
      std::lock_guard<std::mutex> lock(mu_);
      const int size = size_.load(std::memory_order_relaxed);
      slot = Find(outcome, size);
      if (slot == nullptr) {
        // Past the capacity (more distinct outcomes than any run has), the last slot takes all.
        if (size == kCapacity) {
          slot = &slots_[kCapacity - 1];
        } else {
          slot = &slots_[size];
          slot->name = std::string(size == kCapacity - 1 ? "OTHER" : outcome);
          size_.store(size + 1, std::memory_order_release);
        }
      }
    }
    slot->count.fetch_add(messages, std::memory_order_relaxed);
  }
  // {"SEND_OK":12,"SLAVE_NOT_AVAILABLE":3}, keys sorted.
  std::string Json() const {
    std::string out = "{";
    for (const auto& [name, n] : Sorted()) {
      if (out.size() > 1) out += ",";
      out += "\"" + name + "\":" + std::to_string(n);
    }
    return out + "}";
  }
  // SEND_OK=12 SLAVE_NOT_AVAILABLE=3
  std::string Text() const {
    std::string out;
    for (const auto& [name, n] : Sorted()) {
      if (!out.empty()) out += " ";
      out += name + "=" + std::to_string(n);
    }
    return out;
  }

 private:
  static constexpr int kCapacity = 32;
  struct Slot {
    std::string name;  // written once, before size_ covers the slot
    std::atomic<int64_t> count{0};
  };
  Slot* Find(std::string_view outcome, int size) {
    for (int i = 0; i < size; ++i) {
      if (slots_[i].name == outcome) return &slots_[i];
    }
    return nullptr;
  }
  std::map<std::string, int64_t> Sorted() const {
    std::map<std::string, int64_t> sorted;
    const int size = size_.load(std::memory_order_acquire);
    for (int i = 0; i < size; ++i) sorted[slots_[i].name] += slots_[i].count.load(std::memory_order_relaxed);
    return sorted;
  }

  std::mutex mu_;
  std::array<Slot, kCapacity> slots_;
  std::atomic<int> size_{0};
};

}  // namespace mq::bench
