#include "latency_fault.h"

#include <array>

namespace mq::client {
namespace {
constexpr std::array<int64_t, 7> kLatencyMax = {50, 100, 550, 1000, 2000, 3000, 15000};
constexpr std::array<int64_t, 7> kNotAvailable = {0, 0, 30000, 60000, 120000, 180000, 600000};
}  // namespace

int64_t LatencyFaultTolerance::IsolationFor(int64_t latency_ms) {
  for (size_t i = kLatencyMax.size(); i-- > 0;) {
    if (latency_ms >= kLatencyMax[i]) return kNotAvailable[i];
  }
  return 0;
}

void LatencyFaultTolerance::Update(const std::string& broker, int64_t latency_ms, bool failed) {
  int64_t isolation = failed ? 30'000 : IsolationFor(latency_ms);
  std::lock_guard lock(mu_);
  if (isolation == 0) {
    available_after_ms_.erase(broker);
  } else {
    available_after_ms_[broker] = clock_->NowMillis() + isolation;
  }
}

bool LatencyFaultTolerance::IsAvailable(const std::string& broker) const {
  std::lock_guard lock(mu_);
  auto it = available_after_ms_.find(broker);
  return it == available_after_ms_.end() || clock_->NowMillis() >= it->second;
}

void LatencyFaultTolerance::Remove(const std::string& broker) {
  std::lock_guard lock(mu_);
  available_after_ms_.erase(broker);
}

}  // namespace mq::client
