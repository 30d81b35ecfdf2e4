#include "send_accumulator.h"

#include <algorithm>
#include <utility>

#include "common/check.h"

namespace mq::client {

SendAccumulator::SendAccumulator(Limits limits, Dispatch dispatch, Schedule schedule,
                                 std::function<Clock::time_point()> now)
    : limits_(limits),
      dispatch_(std::move(dispatch)),
      schedule_(std::move(schedule)),
      now_(now ? std::move(now) : std::function<Clock::time_point()>(&Clock::now)) {
  MQ_CHECK(limits_.linger.count() == 0 || schedule_, "a linger needs a schedule");
}

bool SendAccumulator::Fits(const Batch& batch, int64_t bytes) const {
  return static_cast<int>(batch.batch.sends.size()) < limits_.max_batch_messages &&
         batch.bytes + bytes <= limits_.max_batch_bytes;
}

int SendAccumulator::Brokers(const std::string& topic) const {
  auto it = brokers_.find(topic);
  return it == brokers_.end() ? 1 : it->second;
}

void SendAccumulator::SetBrokers(const std::string& topic, int brokers) {
  std::lock_guard lock(mu_);
  brokers_[topic] = std::max(1, brokers);
}

int64_t SendAccumulator::WaitingSends(const Topic& t) {
  int64_t n = 0;
  for (const auto& batch : t.waiting) n += static_cast<int64_t>(batch.batch.sends.size());
  return n;
}

void SendAccumulator::TakeReady(const std::string& topic, Topic* t, std::vector<SendBatch>* out) {
  const int brokers = Brokers(topic);
  const bool lingers = limits_.linger.count() > 0;
  const Clock::time_point now = lingers ? now_() : Clock::time_point{};
  while (!t->waiting.empty()) {
    const Batch& front = t->waiting.front();
    const bool full = t->waiting.size() > 1 ||
                      static_cast<int>(front.batch.sends.size()) >= limits_.max_batch_messages ||
                      front.bytes >= limits_.max_batch_bytes;
    const bool old_enough = !lingers || now - front.opened_at >= limits_.linger;
    const bool may_go = (t->in_flight < brokers && (full || old_enough)) ||
                        (full && t->in_flight < limits_.max_in_flight * brokers);
    if (!may_go) {
      if (t->in_flight < brokers && !t->timer_armed) {  // only the linger holds it back
        t->timer_armed = true;
        const auto left =
            std::chrono::ceil<std::chrono::microseconds>(front.opened_at + limits_.linger - now);
        schedule_(left, [this, topic] { OnLingerTimer(topic); });
      }
      break;
    }
    t->last_wire_bytes = front.batch.wire.size();
    out->push_back(std::move(t->waiting.front().batch));
    t->waiting.pop_front();
    ++t->in_flight;
  }
}

SendAccumulator::Topic& SendAccumulator::OpenLocked(const std::string& topic, int64_t body_bytes) {
  Topic& t = topics_[topic];
  // An empty open batch takes any message, even one above max_batch_bytes.
  if (t.waiting.empty() || (!t.waiting.back().batch.sends.empty() && !Fits(t.waiting.back(), body_bytes))) {
    // Room for as much as the last batch carried: growing the buffer message by message
    // copies what it holds each time it doubles.
    Batch& opened = t.waiting.emplace_back();
    opened.batch.wire.reserve(t.last_wire_bytes);
    if (limits_.linger.count() > 0) opened.opened_at = now_();
  }
  return t;
}

void SendAccumulator::OnLingerTimer(const std::string& topic) {
  std::vector<SendBatch> ready;
  {
    std::lock_guard lock(mu_);
    auto it = topics_.find(topic);
    if (it == topics_.end()) return;
    it->second.timer_armed = false;
    TakeReady(topic, &it->second, &ready);
    EraseIfIdleLocked(it);
  }
  for (auto& batch : ready) dispatch_(topic, std::move(batch));
}

void SendAccumulator::EraseIfIdleLocked(std::map<std::string, Topic, std::less<>>::iterator it) {
  const Topic& t = it->second;
  // A topic with a timer scheduled stays: the timer's task finds it (and erases it then).
  if (t.in_flight == 0 && t.waiting.empty() && !t.timer_armed) topics_.erase(it);
}

void SendAccumulator::AddLocked(const std::string& topic, Topic& t, PendingSend send,
                                std::vector<SendBatch>* ready) {
  Batch& open = t.waiting.back();
  open.bytes += send.body_bytes;
  open.batch.sends.push_back(std::move(send));
  if (t.awaiting > 0 && WaitingSends(t) >= t.release_at) {
    --t.awaiting;
    ++t.released_early;
    --t.in_flight;
  }
  TakeReady(topic, &t, ready);
}

void SendAccumulator::Completed(const std::string& topic) {
  std::vector<SendBatch> ready;
  {
    std::lock_guard lock(mu_);
    auto it = topics_.find(topic);
    if (it == topics_.end()) return;
    Topic& t = it->second;
    if (t.released_early > 0) {
      --t.released_early;  // Add freed this slot already
    } else {
      --t.in_flight;
      if (t.awaiting > 0) --t.awaiting;
    }
    TakeReady(topic, &t, &ready);
    EraseIfIdleLocked(it);
  }
  for (auto& batch : ready) dispatch_(topic, std::move(batch));
}

void SendAccumulator::AwaitRequeues(const std::string& topic, int requeues) {
  std::lock_guard lock(mu_);
  auto it = topics_.find(topic);
  if (it == topics_.end() || requeues <= 0) return;
  Topic& t = it->second;
  ++t.awaiting;
  t.release_at = WaitingSends(t) + requeues;
}

}  // namespace mq::client
