// BrokerContext: what the processors borrow from BrokerController. It owns nothing: every
// pointer is a non-owning view of an object BrokerController holds in a unique_ptr (or as a
// member), created before the processors in Start() and destroyed only after the gRPC server
// and the processors are gone in Shutdown(), so the views never dangle while a request runs.
// Copied by value into each processor; the pointers never change after Start(). Every pointee
// is thread-safe (its own lock or atomics), so processors call them from any gRPC, store or
// executor thread. RuntimeSettings holds the few keys mqadmin updateBrokerConfig may change
// while running (atomics, read lock-free on every request).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "broker/broker_config.h"

namespace mq::store {
class MessageStore;
}
namespace mq::schedule {
class DelayLevels;
}
namespace mq::broker::timer {
class TimerService;
}

namespace mq::broker {

class TopicConfigManager;
class SubscriptionGroupManager;
class ConsumerOffsetManager;
class ClientRegistry;
class QueueLockManager;
class WaitRegistry;
class SqlFilterCache;

struct RuntimeSettings {
  explicit RuntimeSettings(const BrokerConfig& c)
      : broker_permission(c.brokerPermission),
        slave_read_enable(c.slaveReadEnable),
        long_polling_enable(c.longPollingEnable),
        short_polling_time_ms(c.shortPollingTimeMills) {}
  std::atomic<int32_t> broker_permission;
  std::atomic<bool> slave_read_enable;
  std::atomic<bool> long_polling_enable;
  std::atomic<int64_t> short_polling_time_ms;
};

// Message counters sampled once a second for put/get TPS (broker runtime info).
struct BrokerStats {
  std::atomic<int64_t> put_messages{0};
  std::atomic<int64_t> put_bytes{0};
  std::atomic<int64_t> got_messages{0};
  std::atomic<int64_t> put_tps{0};  // last second
  std::atomic<int64_t> got_tps{0};  // last second
};

struct BrokerContext {
  // Re-register with the NameServers now (topic perms or broker permission changed). Only
  // posts a wake-up to the registrar's threads; never blocks the caller.
  std::function<void()> trigger_registration;
  const BrokerConfig* config = nullptr;        // immutable after Start()
  RuntimeSettings* runtime = nullptr;          // the runtime-changeable keys (atomics)
  BrokerStats* stats = nullptr;                // counters (atomics)
  store::MessageStore* store = nullptr;        // commit log, queues, index
  TopicConfigManager* topics = nullptr;        // topics.json
  SubscriptionGroupManager* groups = nullptr;  // subscriptionGroup.json
  ConsumerOffsetManager* offsets = nullptr;    // consumerOffset.json
  ClientRegistry* clients = nullptr;           // heartbeating producers and consumers
  QueueLockManager* locks = nullptr;           // orderly consumers' queue locks
  WaitRegistry* waits = nullptr;               // parked long-polling requests
  // messageDelayLevel, parsed (immutable).
  const schedule::DelayLevels* delay_levels = nullptr;
  SqlFilterCache* sql_filters = nullptr;  // compiled SQL92 subscriptions
  timer::TimerService* timer = nullptr;   // scheduled delivery and recall
};

}  // namespace mq::broker
