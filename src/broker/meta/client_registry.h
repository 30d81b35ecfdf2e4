// ClientRegistry: live producers and consumers learned from heartbeats (RocketMQ
// ProducerManager + ConsumerManager), the consumer-group membership versions clients use to
// notice a rebalance is needed, and client expiry.
//
// A consumer group's version changes whenever its member set changes (join, leave, expire) or
// a member's subscriptions change. Versions come from one registry-wide counter, so they never
// repeat, even after a group empties (version 0 = unknown or empty group) and refills.
//
// Owns: the client table and the producer/consumer group tables. Locks: one mu_ guarding all
// of it; the group-changed listener is called after mu_ is released, on the thread that made
// the change (Heartbeat/Unregister/ExpireClients). All methods are thread-safe.
// Expiry runs on a steady clock (a wall clock stepped forward would expire every client at once,
// and their orderly queue locks with them); the wall clock only dates the heartbeats shown.
// Lifecycle: construct; the daemon calls ExpireClients() periodically (RocketMQ every 10 s).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "mq/v1/broker.pb.h"
#include "mq/v1/common.pb.h"

namespace mq::broker {

inline constexpr int64_t kDefaultChannelExpiredTimeoutMs = 120'000;

// One client's membership of one group, for admin connection lists.
struct ClientInfo {
  std::string client_id;
  std::string address;
  int64_t last_heartbeat_ms = 0;
  // Consumers only.
  mq::v1::MessageModel message_model = mq::v1::CLUSTERING;
  mq::v1::ConsumeFromWhere consume_from_where = mq::v1::CONSUME_FROM_LAST_OFFSET;
  bool orderly = false;
  std::vector<mq::v1::SubscriptionData> subscriptions;  // sorted by topic
};

struct ConsumerGroupInfo {
  std::string group;
  // As in the most recent heartbeat naming the group.
  mq::v1::MessageModel message_model = mq::v1::CLUSTERING;
  mq::v1::ConsumeFromWhere consume_from_where = mq::v1::CONSUME_FROM_LAST_OFFSET;
  bool orderly = false;
  // Union over members, sorted by topic; for a topic subscribed with different expressions the
  // most recently heartbeating member wins.
  std::vector<mq::v1::SubscriptionData> subscriptions;
  int64_t version = 0;
};

class ClientRegistry {
 public:
  using GroupChangedListener = std::function<void(const std::string& group, int64_t version)>;

  // `clock`: the wall clock of the heartbeat times shown; `steady`: the one expiry runs on.
  // max_clients (maxClientCount) bounds the client table for TryHeartbeat; 0 = no limit.
  explicit ClientRegistry(const Clock* clock,
                          int64_t channel_expired_timeout_ms = kDefaultChannelExpiredTimeoutMs,
                          size_t max_clients = 0, const Clock* steady = SteadyClock::Default());
  ClientRegistry(const ClientRegistry&) = delete;
  ClientRegistry& operator=(const ClientRegistry&) = delete;

  // Records or refreshes client_id in every group the request names and removes it from
  // groups of the same kind it no longer names. Returns the version of every consumer group in
  // the request. Entries with an empty group name are ignored.
  std::map<std::string, int64_t> Heartbeat(const std::string& client_id, const std::string& address,
                                           const mq::v1::HeartbeatRequest& request);
  // Heartbeat for client traffic: a client id not yet tracked is refused with
  // ResourceExhausted ("client_id: ...") while max_clients are tracked, so heartbeats with
  // ever-new ids cannot grow the table until they expire.
  Result<std::map<std::string, int64_t>> TryHeartbeat(const std::string& client_id,
                                                      const std::string& address,
                                                      const mq::v1::HeartbeatRequest& request);
  void Unregister(const std::string& client_id, const std::vector<std::string>& producer_groups,
                  const std::vector<std::string>& consumer_groups);
  // Clients silent for longer than the timeout leave every group. Returns their ids, sorted.
  std::vector<std::string> ExpireClients();

  // Sorted member ids and the group's version (0 for an unknown group).
  std::pair<std::vector<std::string>, int64_t> ConsumerIds(const std::string& group) const;
  std::optional<ConsumerGroupInfo> ConsumerGroup(const std::string& group) const;
  std::vector<mq::v1::SubscriptionData> Subscriptions(const std::string& group) const;
  std::vector<ClientInfo> ConsumerConnections(const std::string& group) const;  // sorted by id
  std::vector<ClientInfo> ProducerConnections(const std::string& group) const;  // sorted by id
  std::vector<std::string> ConsumerGroups() const;                              // sorted
  std::vector<std::string> ProducerGroups() const;                              // sorted
  size_t ClientCount() const;

  void SetGroupChangedListener(GroupChangedListener listener);

 private:
  struct Member {
    mq::v1::ConsumerData data;  // consumers only; subscriptions sorted by topic
    int64_t joined_seq = 0;     // heartbeat sequence of the last refresh, orders "most recent"
  };
  struct Group {
    std::map<std::string, Member> members;  // client id -> member
    int64_t version = 0;
    mq::v1::ConsumerData latest;  // settings of the most recent heartbeat (consumers)
  };
  struct Client {
    std::string address;
    int64_t last_heartbeat_ms = 0;  // wall clock, shown
    int64_t last_seen_ms = 0;       // steady clock, for expiry
    std::set<std::string> producer_groups;
    std::set<std::string> consumer_groups;
  };
  using Events = std::vector<std::pair<std::string, int64_t>>;

  // All require mu_.
  void RemoveConsumerLocked(const std::string& group, const std::string& client_id, Events* events);
  void RemoveProducerLocked(const std::string& group, const std::string& client_id);
  std::vector<ClientInfo> ConnectionsLocked(const std::map<std::string, Group>& groups,
                                            const std::string& group) const;
  void Notify(const Events& events);  // requires no lock
  std::map<std::string, int64_t> HeartbeatLocked(const std::string& client_id, const std::string& address,
                                                 const mq::v1::HeartbeatRequest& request,
                                                 Events* events);  // requires mu_

  const Clock* const clock_;
  const Clock* const steady_;
  const int64_t expired_timeout_ms_;
  const size_t max_clients_;

  mutable std::mutex mu_;
  std::map<std::string, Client> clients_;         // GUARDED_BY(mu_)
  std::map<std::string, Group> consumer_groups_;  // GUARDED_BY(mu_)
  std::map<std::string, Group> producer_groups_;  // GUARDED_BY(mu_)
  int64_t version_counter_ = 0;                   // GUARDED_BY(mu_)
  int64_t heartbeat_seq_ = 0;                     // GUARDED_BY(mu_)
  GroupChangedListener listener_;                 // GUARDED_BY(mu_)
};

}  // namespace mq::broker
