#include "broker/meta/client_registry.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/logging.h"

namespace mq::broker {
namespace {

bool SameSubscriptions(const mq::v1::ConsumerData& a, const mq::v1::ConsumerData& b) {
  if (a.subscriptions_size() != b.subscriptions_size()) return false;
  for (int i = 0; i < a.subscriptions_size(); ++i) {
    if (a.subscriptions(i).topic() != b.subscriptions(i).topic() ||
        a.subscriptions(i).expression() != b.subscriptions(i).expression() ||
        a.subscriptions(i).expression_type() != b.subscriptions(i).expression_type()) {
      return false;
    }
  }
  return true;
}

void SortSubscriptions(mq::v1::ConsumerData* data) {
  auto* subs = data->mutable_subscriptions();
  std::stable_sort(subs->begin(), subs->end(),
                   [](const auto& x, const auto& y) { return x.topic() < y.topic(); });
  // One entry per topic: the last one in the request wins.
  auto last = std::unique(subs->rbegin(), subs->rend(),
                          [](const auto& x, const auto& y) { return x.topic() == y.topic(); });
  subs->DeleteSubrange(0, static_cast<int>(std::distance(last, subs->rend())));
}

}  // namespace

ClientRegistry::ClientRegistry(const Clock* clock, int64_t channel_expired_timeout_ms, size_t max_clients,
                               const Clock* steady)
    : clock_(clock),
      steady_(steady),
      expired_timeout_ms_(channel_expired_timeout_ms),
      max_clients_(max_clients) {}

std::map<std::string, int64_t> ClientRegistry::Heartbeat(const std::string& client_id,
                                                         const std::string& address,
                                                         const mq::v1::HeartbeatRequest& request) {
  std::map<std::string, int64_t> versions;
  Events events;
  {
    std::lock_guard lock(mu_);
    versions = HeartbeatLocked(client_id, address, request, &events);
  }
  Notify(events);
  return versions;
}

Result<std::map<std::string, int64_t>> ClientRegistry::TryHeartbeat(const std::string& client_id,
                                                                    const std::string& address,
                                                                    const mq::v1::HeartbeatRequest& request) {
  std::map<std::string, int64_t> versions;
  Events events;
  {
    std::lock_guard lock(mu_);
    if (max_clients_ != 0 && clients_.size() >= max_clients_ && clients_.count(client_id) == 0) {
      return Status::ResourceExhausted(fmt::format(
          "client_id: cannot register '{}': the broker already tracks {} clients (maxClientCount={}); "
          "clients leave after channelExpiredTimeout without heartbeats",
          client_id, clients_.size(), max_clients_));
    }
    versions = HeartbeatLocked(client_id, address, request, &events);
  }
  Notify(events);
  return versions;
}

std::map<std::string, int64_t> ClientRegistry::HeartbeatLocked(const std::string& client_id,
                                                               const std::string& address,
                                                               const mq::v1::HeartbeatRequest& request,
                                                               Events* events) {
  std::map<std::string, int64_t> versions;
  const int64_t seq = ++heartbeat_seq_;
  Client& client = clients_[client_id];
  client.address = address;
  client.last_heartbeat_ms = clock_->NowMillis();
  client.last_seen_ms = steady_->NowMillis();

  std::set<std::string> producers;
  for (const auto& p : request.producers()) {
    if (!p.group().empty()) producers.insert(p.group());
  }
  for (const auto& g : client.producer_groups) {
    if (producers.count(g) == 0) RemoveProducerLocked(g, client_id);
  }
  for (const auto& g : producers) producer_groups_[g].members[client_id].joined_seq = seq;
  client.producer_groups = std::move(producers);

  std::map<std::string, mq::v1::ConsumerData> consumers;
  for (const auto& c : request.consumers()) {
    if (c.group().empty()) continue;
    mq::v1::ConsumerData data = c;
    SortSubscriptions(&data);
    consumers[c.group()] = std::move(data);
  }
  for (const auto& g : client.consumer_groups) {
    if (consumers.count(g) == 0) RemoveConsumerLocked(g, client_id, events);
  }
  client.consumer_groups.clear();
  for (auto& [name, data] : consumers) {
    client.consumer_groups.insert(name);
    Group& group = consumer_groups_[name];
    auto [it, joined] = group.members.try_emplace(client_id);
    bool changed = joined || !SameSubscriptions(it->second.data, data);
    group.latest = data;
    group.latest.clear_subscriptions();
    it->second.data = std::move(data);
    it->second.joined_seq = seq;
    if (changed) {
      group.version = ++version_counter_;
      events->emplace_back(name, group.version);
      MQ_LOG_INFO(Logger("broker"), "consumer group={} {} client={} addr={} version={}", name,
                  joined ? "joined by" : "subscriptions changed for", client_id, address, group.version);
    }
    versions[name] = group.version;
  }
  if (client.producer_groups.empty() && client.consumer_groups.empty()) clients_.erase(client_id);
  return versions;
}

void ClientRegistry::Unregister(const std::string& client_id, const std::vector<std::string>& producer_groups,
                                const std::vector<std::string>& consumer_groups) {
  Events events;
  {
    std::lock_guard lock(mu_);
    auto it = clients_.find(client_id);
    if (it == clients_.end()) return;
    Client& client = it->second;
    for (const auto& g : producer_groups) {
      if (client.producer_groups.erase(g) != 0) RemoveProducerLocked(g, client_id);
    }
    for (const auto& g : consumer_groups) {
      if (client.consumer_groups.erase(g) != 0) RemoveConsumerLocked(g, client_id, &events);
    }
    MQ_LOG_INFO(Logger("broker"), "unregistered client={} producer_groups={} consumer_groups={}", client_id,
                producer_groups.size(), consumer_groups.size());
    if (client.producer_groups.empty() && client.consumer_groups.empty()) clients_.erase(it);
  }
  Notify(events);
}

std::vector<std::string> ClientRegistry::ExpireClients() {
  std::vector<std::string> expired;
  Events events;
  {
    std::lock_guard lock(mu_);
    const int64_t now = steady_->NowMillis();
    for (auto it = clients_.begin(); it != clients_.end();) {
      if (now - it->second.last_seen_ms <= expired_timeout_ms_) {
        ++it;
        continue;
      }
      MQ_LOG_INFO(Logger("broker"), "expired client={} addr={} silent_ms={}", it->first, it->second.address,
                  now - it->second.last_seen_ms);
      for (const auto& g : it->second.producer_groups) RemoveProducerLocked(g, it->first);
      for (const auto& g : it->second.consumer_groups) RemoveConsumerLocked(g, it->first, &events);
      expired.push_back(it->first);
      it = clients_.erase(it);
    }
  }
  Notify(events);
  return expired;
}

void ClientRegistry::RemoveConsumerLocked(const std::string& group, const std::string& client_id,
                                          Events* events) {
  auto it = consumer_groups_.find(group);
  if (it == consumer_groups_.end() || it->second.members.erase(client_id) == 0) return;
  int64_t version = 0;
  if (it->second.members.empty()) {
    consumer_groups_.erase(it);
  } else {
    version = it->second.version = ++version_counter_;
  }
  MQ_LOG_INFO(Logger("broker"), "consumer group={} left by client={} version={}", group, client_id, version);
  events->emplace_back(group, version);
}

void ClientRegistry::RemoveProducerLocked(const std::string& group, const std::string& client_id) {
  auto it = producer_groups_.find(group);
  if (it == producer_groups_.end()) return;
  it->second.members.erase(client_id);
  if (it->second.members.empty()) producer_groups_.erase(it);
}

std::pair<std::vector<std::string>, int64_t> ClientRegistry::ConsumerIds(const std::string& group) const {
  std::lock_guard lock(mu_);
  auto it = consumer_groups_.find(group);
  if (it == consumer_groups_.end()) return {{}, 0};
  std::vector<std::string> ids;
  ids.reserve(it->second.members.size());
  for (const auto& [id, member] : it->second.members) ids.push_back(id);
  return {std::move(ids), it->second.version};
}

std::optional<ConsumerGroupInfo> ClientRegistry::ConsumerGroup(const std::string& group) const {
  std::lock_guard lock(mu_);
  auto it = consumer_groups_.find(group);
  if (it == consumer_groups_.end()) return std::nullopt;
  const Group& g = it->second;
  ConsumerGroupInfo info;
  info.group = group;
  info.message_model = g.latest.message_model();
  info.consume_from_where = g.latest.consume_from_where();
  info.orderly = g.latest.orderly();
  info.version = g.version;
  // Apply members oldest refresh first so the most recent one wins per topic.
  std::vector<const Member*> members;
  for (const auto& [id, member] : g.members) members.push_back(&member);
  std::stable_sort(members.begin(), members.end(),
                   [](const Member* a, const Member* b) { return a->joined_seq < b->joined_seq; });
  std::map<std::string, mq::v1::SubscriptionData> by_topic;
  for (const Member* m : members) {
    for (const auto& sub : m->data.subscriptions()) by_topic[sub.topic()] = sub;
  }
  for (auto& [topic, sub] : by_topic) info.subscriptions.push_back(std::move(sub));
  return info;
}

std::vector<mq::v1::SubscriptionData> ClientRegistry::Subscriptions(const std::string& group) const {
  auto info = ConsumerGroup(group);
  if (!info) return {};
  return std::move(info->subscriptions);
}

std::vector<ClientInfo> ClientRegistry::ConnectionsLocked(const std::map<std::string, Group>& groups,
                                                          const std::string& group) const {
  std::vector<ClientInfo> out;
  auto it = groups.find(group);
  if (it == groups.end()) return out;
  for (const auto& [id, member] : it->second.members) {
    ClientInfo info;
    info.client_id = id;
    if (auto c = clients_.find(id); c != clients_.end()) {
      info.address = c->second.address;
      info.last_heartbeat_ms = c->second.last_heartbeat_ms;
    }
    info.message_model = member.data.message_model();
    info.consume_from_where = member.data.consume_from_where();
    info.orderly = member.data.orderly();
    info.subscriptions.assign(member.data.subscriptions().begin(), member.data.subscriptions().end());
    out.push_back(std::move(info));
  }
  return out;
}

std::vector<ClientInfo> ClientRegistry::ConsumerConnections(const std::string& group) const {
  std::lock_guard lock(mu_);
  return ConnectionsLocked(consumer_groups_, group);
}

std::vector<ClientInfo> ClientRegistry::ProducerConnections(const std::string& group) const {
  std::lock_guard lock(mu_);
  return ConnectionsLocked(producer_groups_, group);
}

std::vector<std::string> ClientRegistry::ConsumerGroups() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, group] : consumer_groups_) out.push_back(name);
  return out;
}

std::vector<std::string> ClientRegistry::ProducerGroups() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, group] : producer_groups_) out.push_back(name);
  return out;
}

size_t ClientRegistry::ClientCount() const {
  std::lock_guard lock(mu_);
  return clients_.size();
}

void ClientRegistry::SetGroupChangedListener(GroupChangedListener listener) {
  std::lock_guard lock(mu_);
  listener_ = std::move(listener);
}

void ClientRegistry::Notify(const Events& events) {
  if (events.empty()) return;
  GroupChangedListener listener;
  {
    std::lock_guard lock(mu_);
    listener = listener_;
  }
  if (!listener) return;
  for (const auto& [group, version] : events) listener(group, version);
}

}  // namespace mq::broker
