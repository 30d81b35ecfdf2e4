// RouteTable: the NameServer's whole state (RocketMQ RouteInfoManager): which broker sets
// serve which topic queues, the addresses of every broker set, clusters, and broker liveness.
//
// Semantics:
//  * A master's (broker id 0) full registration is authoritative for its broker set's topics:
//    it replaces their queue data and removes topics it no longer lists. A slave's topics only
//    fill in queue data that is missing (so a set whose master is down stays routable through
//    its slave, even after a NameServer restart), and never overwrite the master's.
//  * Heartbeat refreshes liveness when the NameServer already holds the broker's DataVersion;
//    otherwise it asks for a full registration. Perms changed by Wipe/AddWritePerm therefore
//    survive heartbeats until the broker's topic set (and so its version) changes.
//  * Expiry and unregistration remove one address; a broker set disappears (with its queues)
//    only when its last address goes, so a master's expiry leaves its slaves routable.
//  * A topic vanishes from routes when no broker set serves it any more.
//
// Thread safety: all state is guarded by one std::shared_mutex mu_ (readers: route queries;
// writers: registration, expiry, admin). No method calls out while holding it.
#pragma once

#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "namesrv/route_types.h"

namespace mq::namesrv {

// Upper bound on the topics one registration may carry (protects memory from bad input).
inline constexpr int64_t kMaxTopicsPerBroker = 2'000'000;

// Checks names, ids and addresses; errors name the proto field ("broker.broker_name", ...).
Status ValidateIdentity(const BrokerIdentity& broker);
Status ValidateTopicConfig(const TopicConfigEntry& topic, size_t index);

class RouteTable {
 public:
  // `clock`: the wall clock of the last-update times shown (clusterList); `steady`: the one
  // liveness is measured on, so a stepped wall clock neither keeps a dead broker nor expires all.
  explicit RouteTable(const Clock* clock, const Clock* steady = SteadyClock::Default());
  RouteTable(const RouteTable&) = delete;
  RouteTable& operator=(const RouteTable&) = delete;

  // Full registration (idempotent). Validates everything before changing anything.
  Result<MasterInfo> RegisterBroker(const BrokerRegistration& registration);
  Result<HeartbeatResult> Heartbeat(const BrokerIdentity& broker, const DataVersion& version);
  // Graceful removal of one broker address. NotFound when it is not registered.
  Status UnregisterBroker(const BrokerIdentity& broker);

  Result<TopicRoute> PickRoute(const std::string& topic) const;
  ClusterInfo GetClusterInfo() const;
  // All topics, or only those with queues on the given cluster's brokers (NotFound for an
  // unknown cluster). Sorted.
  Result<std::vector<std::string>> GetAllTopics(const std::string& cluster) const;
  // Removes the topic (only the cluster's queues when cluster is non-empty).
  Status DeleteTopic(const std::string& topic, const std::string& cluster);
  // Clears / sets the WRITE bit on every queue of a broker set; returns topics changed.
  Result<int32_t> WipeWritePerm(const std::string& broker_name);
  Result<int32_t> AddWritePerm(const std::string& broker_name);

  // Removes brokers whose last registration or heartbeat is older than timeout_ms.
  std::vector<BrokerLiveInfo> ExpireInactive(int64_t timeout_ms);

  size_t TopicCount() const;

 private:
  struct LiveEntry {
    BrokerIdentity broker;
    DataVersion data_version;
    int64_t last_update_ms = 0;  // wall clock, shown
    int64_t last_seen_ms = 0;    // steady clock, for expiry
    int32_t topic_count = 0;
  };

  MasterInfo MasterOfLocked(const std::string& broker_name, int64_t broker_id) const;
  void RemoveAddressLocked(const std::string& addr);
  void ApplyTopicsLocked(const BrokerRegistration& registration);
  Result<int32_t> ChangeWritePerm(const std::string& broker_name, bool writable);

  const Clock* clock_;
  const Clock* steady_;
  mutable std::shared_mutex mu_;
  // topic -> brokerName -> queues. Guarded by mu_.
  std::unordered_map<std::string, std::map<std::string, QueueData>> topic_queue_table_;
  std::map<std::string, BrokerData> broker_addr_table_;              // guarded by mu_
  std::map<std::string, std::set<std::string>> cluster_addr_table_;  // guarded by mu_
  std::unordered_map<std::string, LiveEntry> broker_live_table_;     // addr -> live; guarded by mu_
};

}  // namespace mq::namesrv
