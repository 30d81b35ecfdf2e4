#include "broker/pop/pop_state.h"

#include <algorithm>

namespace mq::broker::pop {

const QueueState* PopStateTable::Find(const QueueKey& key) const {
  auto it = queues_.find(key);
  return it == queues_.end() ? nullptr : &it->second;
}

void PopStateTable::Trim(QueueState* q) {
  while (!q->entries.empty() && q->entries.begin()->second.acked) q->entries.erase(q->entries.begin());
}

bool PopStateTable::ApplyPop(const QueueKey& key, int64_t offset, const InFlight& delivery,
                             int64_t settled_epoch) {
  QueueState& q = queues_[key];
  auto it = q.entries.find(offset);
  if (it == q.entries.end()) {
    // Acked and trimmed, or filtered.
    if (q.next_offset >= 0 && offset < q.next_offset && delivery.epoch <= settled_epoch) return false;
    q.entries.emplace(offset, delivery);
    return true;
  }
  if (it->second.epoch >= delivery.epoch || it->second.acked) return false;
  it->second = delivery;
  return true;
}

void PopStateTable::ApplyAdvance(const QueueKey& key, int64_t offset) {
  QueueState& q = queues_[key];
  q.next_offset = std::max(q.next_offset, offset);
}

void PopStateTable::ApplyReset(const QueueKey& key, int64_t offset) {
  QueueState& q = queues_[key];
  q.next_offset = offset;
  q.entries.clear();
  q.fifo_attempt_id.clear();
}

bool PopStateTable::ApplyAck(const QueueKey& key, int64_t offset, int64_t epoch) {
  auto qit = queues_.find(key);
  if (qit == queues_.end()) return false;
  auto it = qit->second.entries.find(offset);
  if (it == qit->second.entries.end() || it->second.epoch != epoch) return false;
  it->second.acked = true;
  Trim(&qit->second);
  return true;
}

bool PopStateTable::ApplyChange(const QueueKey& key, int64_t offset, int64_t epoch, int64_t new_epoch,
                                int64_t deadline_ms) {
  InFlight* e = FindDelivery(key, offset, epoch);
  if (e == nullptr || new_epoch <= epoch) return false;
  e->epoch = new_epoch;
  e->deadline_ms = deadline_ms;
  return true;
}

bool PopStateTable::ApplyRenew(const QueueKey& key, int64_t offset, int64_t epoch, int64_t deadline_ms) {
  InFlight* e = FindDelivery(key, offset, epoch);
  if (e == nullptr) return false;
  e->deadline_ms = deadline_ms;
  return true;
}

size_t PopStateTable::TruncateTo(const QueueKey& key, int64_t end) {
  auto qit = queues_.find(key);
  if (qit == queues_.end()) return 0;
  QueueState& q = qit->second;
  q.next_offset = std::min(q.next_offset, end);
  size_t dropped = 0;
  for (auto it = q.entries.lower_bound(end); it != q.entries.end(); it = q.entries.erase(it)) {
    dropped += it->second.acked ? 0 : 1;
  }
  Trim(&q);
  return dropped;
}

int64_t PopStateTable::LowWater(const QueueKey& key) const {
  const QueueState* q = Find(key);
  if (q == nullptr) return -1;
  return q->entries.empty() ? q->next_offset : q->entries.begin()->first;
}

InFlight* PopStateTable::FindDelivery(const QueueKey& key, int64_t offset, int64_t epoch) {
  auto qit = queues_.find(key);
  if (qit == queues_.end()) return nullptr;
  auto it = qit->second.entries.find(offset);
  if (it == qit->second.entries.end() || it->second.epoch != epoch || it->second.acked) return nullptr;
  return &it->second;
}

size_t PopStateTable::InFlightCount() const {
  size_t n = 0;
  for (const auto& [key, q] : queues_) {
    for (const auto& [offset, e] : q.entries) n += e.acked ? 0 : 1;
  }
  return n;
}

void PopStateTable::ToProto(mq::v1::PopStateSnapshot* out) const {
  for (const auto& [key, q] : queues_) {
    if (q.next_offset < 0 && q.entries.empty()) continue;
    auto* pq = out->add_queues();
    pq->set_group(key.group);
    pq->set_topic(key.topic);
    pq->set_queue_id(key.queue_id);
    pq->set_next_offset(q.next_offset);
    for (const auto& [offset, e] : q.entries) {
      auto* pe = pq->add_entries();
      pe->set_queue_offset(offset);
      pe->set_epoch(e.epoch);
      pe->set_deadline_ms(e.deadline_ms);
      pe->set_commit_log_offset(e.commit_log_offset);
      pe->set_first_pop_ms(e.first_pop_ms);
      pe->set_attempt(e.attempt);
      pe->set_auto_renew(e.auto_renew);
      pe->set_acked(e.acked);
      pe->set_client_id(e.client_id);
    }
  }
}

void PopStateTable::FromProto(const mq::v1::PopStateSnapshot& in) {
  queues_.clear();
  for (const auto& pq : in.queues()) {
    QueueState& q = queues_[QueueKey{pq.group(), pq.topic(), pq.queue_id()}];
    q.next_offset = pq.next_offset();
    for (const auto& pe : pq.entries()) {
      InFlight e;
      e.epoch = pe.epoch();
      e.deadline_ms = pe.deadline_ms();
      e.commit_log_offset = pe.commit_log_offset();
      e.first_pop_ms = pe.first_pop_ms();
      e.attempt = pe.attempt();
      e.auto_renew = pe.auto_renew();
      e.acked = pe.acked();
      e.client_id = pe.client_id();
      q.entries.emplace(pe.queue_offset(), std::move(e));
    }
    Trim(&q);
  }
}

}  // namespace mq::broker::pop
