#include "send_accumulator.h"

#include <utility>

namespace mq::client {

SendAccumulator::SendAccumulator(Limits limits, Dispatch dispatch)
    : limits_(limits), dispatch_(std::move(dispatch)) {}

bool SendAccumulator::Fits(const Batch& batch, int64_t bytes) const {
  return static_cast<int>(batch.sends.size()) < limits_.max_batch_messages &&
         batch.bytes + bytes <= limits_.max_batch_bytes;
}

void SendAccumulator::Add(const std::string& topic, PendingSend send) {
  const int64_t bytes = send.body_bytes;
  std::vector<PendingSend> now;
  {
    std::lock_guard lock(mu_);
    Topic& t = topics_[topic];
    if (t.in_flight < limits_.max_in_flight && t.waiting.empty()) {
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
  std::vector<PendingSend> next;
  {
    std::lock_guard lock(mu_);
    auto it = topics_.find(topic);
    if (it == topics_.end()) return;
    Topic& t = it->second;
    if (!t.waiting.empty()) {
      next = std::move(t.waiting.front().sends);
      t.waiting.pop_front();
    } else if (--t.in_flight == 0) {
      topics_.erase(it);
    }
  }
  if (!next.empty()) dispatch_(topic, std::move(next));
}

}  // namespace mq::client
