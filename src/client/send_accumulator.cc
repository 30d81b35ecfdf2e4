#include "send_accumulator.h"

#include <algorithm>
#include <utility>

namespace mq::client {

SendAccumulator::SendAccumulator(Limits limits, Dispatch dispatch)
    : limits_(limits), dispatch_(std::move(dispatch)) {}

bool SendAccumulator::Fits(const Batch& batch, int64_t bytes) const {
  return static_cast<int>(batch.sends.size()) < limits_.max_batch_messages &&
         batch.bytes + bytes <= limits_.max_batch_bytes;
}

int SendAccumulator::InFlightLimit(const std::string& topic) const {
  auto it = brokers_.find(topic);
  return limits_.max_in_flight * (it == brokers_.end() ? 1 : it->second);
}

void SendAccumulator::SetBrokers(const std::string& topic, int brokers) {
  std::lock_guard lock(mu_);
  brokers_[topic] = std::max(1, brokers);
}

void SendAccumulator::Add(const std::string& topic, PendingSend send) {
  const int64_t bytes = send.body_bytes;
  std::vector<PendingSend> now;
  {
    std::lock_guard lock(mu_);
    Topic& t = topics_[topic];
    if (t.in_flight < InFlightLimit(topic) && t.waiting.empty()) {
      ++t.in_flight;
      now.push_back(std::move(send));
    } else {
      // An empty open batch takes any message, even one above max_batch_bytes.
      if (t.waiting.empty() || (!t.waiting.back().sends.empty() && !Fits(t.waiting.back(), bytes)))
        t.waiting.emplace_back();
      Batch& open = t.waiting.back();
      open.sends.push_back(std::move(send));
      open.bytes += bytes;
    }
  }
  if (!now.empty()) dispatch_(topic, std::move(now));
}

void SendAccumulator::Completed(const std::string& topic) {
  std::vector<std::vector<PendingSend>> next;
  {
    std::lock_guard lock(mu_);
    auto it = topics_.find(topic);
    if (it == topics_.end()) return;
    Topic& t = it->second;
    --t.in_flight;
    // The freed slot, and any the topic gained since (SetBrokers), take the oldest batches.
    const int limit = InFlightLimit(topic);
    while (!t.waiting.empty() && t.in_flight < limit) {
      next.push_back(std::move(t.waiting.front().sends));
      t.waiting.pop_front();
      ++t.in_flight;
    }
    if (t.in_flight == 0 && t.waiting.empty()) topics_.erase(it);
  }
  for (auto& batch : next) dispatch_(topic, std::move(batch));
}

}  // namespace mq::client
