#include "broker/meta/queue_lock_manager.h"

#include <iterator>
#include <set>

#include "common/logging.h"

namespace mq::broker {

QueueLockManager::QueueLockManager(int64_t lock_ttl_ms, const Clock* steady)
    : steady_(steady), ttl_ms_(lock_ttl_ms) {}

std::vector<mq::v1::QueueRef> QueueLockManager::TryLockBatch(const std::string& group,
                                                             const std::string& client_id,
                                                             const std::vector<mq::v1::QueueRef>& queues) {
  std::vector<mq::v1::QueueRef> locked;
  std::set<QueueKey> seen;
  std::lock_guard lock(mu_);
  const int64_t now = steady_->NowMillis();
  auto& table = locks_[group];
  for (const auto& queue : queues) {
    QueueKey key{queue.topic(), queue.queue_id()};
    if (!seen.insert(key).second) continue;
    auto [it, inserted] = table.try_emplace(key);
    LockEntry& entry = it->second;
    if (!inserted && entry.client_id != client_id) {
      if (now - entry.last_update_ms <= ttl_ms_) continue;  // held by another live client
      MQ_LOG_WARN(Logger("broker"), "queue lock group={} topic={} queue={} taken over from={} by={}", group,
                  queue.topic(), queue.queue_id(), entry.client_id, client_id);
    }
    entry.client_id = client_id;
    entry.last_update_ms = now;
    locked.push_back(queue);
  }
  if (table.empty()) locks_.erase(group);
  return locked;
}

void QueueLockManager::UnlockBatch(const std::string& group, const std::string& client_id,
                                   const std::vector<mq::v1::QueueRef>& queues) {
  std::lock_guard lock(mu_);
  auto group_it = locks_.find(group);
  if (group_it == locks_.end()) return;
  for (const auto& queue : queues) {
    auto it = group_it->second.find({queue.topic(), queue.queue_id()});
    if (it != group_it->second.end() && it->second.client_id == client_id) group_it->second.erase(it);
  }
  if (group_it->second.empty()) locks_.erase(group_it);
}

bool QueueLockManager::IsLocked(const std::string& group, const std::string& topic, int32_t queue_id,
                                const std::string& client_id) const {
  std::lock_guard lock(mu_);
  auto group_it = locks_.find(group);
  if (group_it == locks_.end()) return false;
  auto it = group_it->second.find({topic, queue_id});
  if (it == group_it->second.end()) return false;
  return it->second.client_id == client_id && steady_->NowMillis() - it->second.last_update_ms <= ttl_ms_;
}

void QueueLockManager::UnlockAll(const std::string& client_id) {
  std::lock_guard lock(mu_);
  for (auto group_it = locks_.begin(); group_it != locks_.end();) {
    auto& table = group_it->second;
    for (auto it = table.begin(); it != table.end();) {
      it = it->second.client_id == client_id ? table.erase(it) : std::next(it);
    }
    group_it = table.empty() ? locks_.erase(group_it) : std::next(group_it);
  }
}

}  // namespace mq::broker
