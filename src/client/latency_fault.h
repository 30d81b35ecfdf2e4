// LatencyFaultTolerance: remembers brokers that failed or answered slowly and keeps them out
// of queue selection for a while (RocketMQ MQFaultStrategy). A latency of L ms isolates a broker
// for the duration of the largest latency step L reaches: <550 ms -> 0, 550 -> 30 s,
// 1 s -> 60 s, 2 s -> 120 s, 3 s -> 180 s, 15 s -> 600 s; a failure isolates for 30 s.
// Thread-safe (mu_ guards items_).
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"

namespace mq::client {

class LatencyFaultTolerance {
 public:
  explicit LatencyFaultTolerance(const Clock* clock = SystemClock::Default()) : clock_(clock) {}

  // Records one send to broker: latency_ms, or a failure when failed is true.
  void Update(const std::string& broker, int64_t latency_ms, bool failed);
  bool IsAvailable(const std::string& broker) const;
  void Remove(const std::string& broker);
  // Milliseconds a latency isolates a broker for (exposed for tests).
  static int64_t IsolationFor(int64_t latency_ms);

 private:
  const Clock* clock_;
  mutable std::mutex mu_;
  std::map<std::string, int64_t> available_after_ms_;  // guarded by mu_
};

}  // namespace mq::client
