// BrokerContext: the pointers every processor needs, owned by BrokerController, which
// outlives all processors and services. RuntimeSettings holds the few keys mqadmin
// updateBrokerConfig may change while running (atomics, read lock-free on every request).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "broker/broker_config.h"

namespace mq::store {
class MessageStore;
}

namespace mq::broker {

class TopicConfigManager;
class SubscriptionGroupManager;
class ConsumerOffsetManager;
class ClientRegistry;
class QueueLockManager;
class WaitRegistry;

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
  // Re-register with the NameServers now (topic perms or broker permission changed).
  std::function<void()> trigger_registration;
  const BrokerConfig* config = nullptr;
  RuntimeSettings* runtime = nullptr;
  BrokerStats* stats = nullptr;
  store::MessageStore* store = nullptr;
  TopicConfigManager* topics = nullptr;
  SubscriptionGroupManager* groups = nullptr;
  ConsumerOffsetManager* offsets = nullptr;
  ClientRegistry* clients = nullptr;
  QueueLockManager* locks = nullptr;
  WaitRegistry* waits = nullptr;
};

}  // namespace mq::broker
