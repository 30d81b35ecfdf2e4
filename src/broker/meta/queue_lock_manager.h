// QueueLockManager: broker-side queue locks for orderly consumption (RocketMQ
// RebalanceLockManager). A consumer locks a batch of queues for its client id; a lock not
// refreshed for the TTL (RocketMQ rocketmq.broker.rebalance.lockMaxLiveTime, 60 s) can be taken
// over by another client of the group. Clients re-lock every 20 s, which refreshes the TTL.
//
// The TTL runs on a steady clock: a wall clock stepped forward would free every lock at once
// (two consumers then take one orderly queue), stepped back would hold a dead client's locks.
//
// Owns: group -> (topic, queue id) -> {owner, last refresh}. Locks: one mu_ guarding the
// table; no callbacks. All methods are thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "mq/v1/broker.pb.h"

namespace mq::broker {

inline constexpr int64_t kDefaultQueueLockTtlMs = 60'000;

class QueueLockManager {
 public:
  explicit QueueLockManager(int64_t lock_ttl_ms = kDefaultQueueLockTtlMs,
                            const Clock* steady = SteadyClock::Default());
  QueueLockManager(const QueueLockManager&) = delete;
  QueueLockManager& operator=(const QueueLockManager&) = delete;

  // Locks (or refreshes) every queue that is free, expired or already owned by client_id.
  // Returns the queues client_id now holds, in request order without duplicates.
  std::vector<mq::v1::QueueRef> TryLockBatch(const std::string& group, const std::string& client_id,
                                             const std::vector<mq::v1::QueueRef>& queues);
  // Releases the queues client_id owns; other clients' locks are left alone.
  void UnlockBatch(const std::string& group, const std::string& client_id,
                   const std::vector<mq::v1::QueueRef>& queues);
  // True when client_id holds an unexpired lock on the queue.
  bool IsLocked(const std::string& group, const std::string& topic, int32_t queue_id,
                const std::string& client_id) const;
  // Drops every lock held by client_id (client expired or unregistered).
  void UnlockAll(const std::string& client_id);

 private:
  using QueueKey = std::pair<std::string, int32_t>;  // topic, queue id
  struct LockEntry {
    std::string client_id;
    int64_t last_update_ms = 0;  // steady clock
  };

  const Clock* const steady_;
  const int64_t ttl_ms_;

  mutable std::mutex mu_;
  std::map<std::string, std::map<QueueKey, LockEntry>> locks_;  // GUARDED_BY(mu_)
};

}  // namespace mq::broker
