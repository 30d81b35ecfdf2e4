#include "namesrv/route_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>
#include <unordered_set>

#include "common/logging.h"
#include "common/naming.h"

namespace mq::namesrv {
namespace {

constexpr int32_t kMaxQueueNums = 1024;

Status ValidateAddr(std::string_view field, const std::string& addr, bool optional) {
  if (optional && addr.empty()) return Status::OK();
  auto parsed = ParseHostPort(field, addr);
  return parsed.ok() ? Status::OK() : parsed.status();
}

}  // namespace

Status ValidateIdentity(const BrokerIdentity& broker) {
  MQ_RETURN_IF_ERROR(ValidateName("broker.cluster_name", broker.cluster_name));
  MQ_RETURN_IF_ERROR(ValidateName("broker.broker_name", broker.broker_name));
  if (broker.broker_id < 0) {
    return Status::InvalidArgument(
        fmt::format("broker.broker_id: {} is negative (0 is the master, > 0 a slave)", broker.broker_id));
  }
  MQ_RETURN_IF_ERROR(ValidateAddr("broker.broker_addr", broker.broker_addr, false));
  MQ_RETURN_IF_ERROR(ValidateAddr("broker.ha_server_addr", broker.ha_server_addr, true));
  MQ_RETURN_IF_ERROR(ValidateAddr("broker.grpc_v2_addr", broker.grpc_v2_addr, true));
  return ValidateAddr("broker.fast_send_addr", broker.fast_send_addr, true);
}

Status ValidateTopicConfig(const TopicConfigEntry& topic, size_t index) {
  std::string prefix = fmt::format("topic_configs[{}]", index);
  MQ_RETURN_IF_ERROR(ValidateName(prefix + ".topic_name", topic.topic_name));
  auto check_nums = [&](const char* field, int32_t v) {
    if (v < 0 || v > kMaxQueueNums) {
      return Status::InvalidArgument(fmt::format("{}.{}: {} is out of range [0, {}] (topic '{}')", prefix,
                                                 field, v, kMaxQueueNums, topic.topic_name));
    }
    return Status::OK();
  };
  MQ_RETURN_IF_ERROR(check_nums("read_queue_nums", topic.read_queue_nums));
  MQ_RETURN_IF_ERROR(check_nums("write_queue_nums", topic.write_queue_nums));
  if (topic.perm < 0 || topic.perm > kPermAll) {
    return Status::InvalidArgument(fmt::format(
        "{}.perm: {} is not a combination of READ(4)/WRITE(2)/INHERIT(1)/PRIORITY(8)", prefix, topic.perm));
  }
  return Status::OK();
}

RouteTable::RouteTable(const Clock* clock, const Clock* steady) : clock_(clock), steady_(steady) {}

Result<MasterInfo> RouteTable::RegisterBroker(const BrokerRegistration& registration) {
  MQ_RETURN_IF_ERROR(ValidateIdentity(registration.broker));
  if (registration.topics.size() > static_cast<size_t>(kMaxTopicsPerBroker)) {
    return Status::InvalidArgument(fmt::format("topic_configs: {} topics exceed the limit of {}",
                                               registration.topics.size(), kMaxTopicsPerBroker));
  }
  std::unordered_set<std::string_view> seen;
  seen.reserve(registration.topics.size());
  for (size_t i = 0; i < registration.topics.size(); ++i) {
    MQ_RETURN_IF_ERROR(ValidateTopicConfig(registration.topics[i], i));
    if (!seen.insert(registration.topics[i].topic_name).second) {
      return Status::InvalidArgument(fmt::format("topic_configs[{}].topic_name: '{}' is listed twice", i,
                                                 registration.topics[i].topic_name));
    }
  }

  const BrokerIdentity& b = registration.broker;
  std::unique_lock lock(mu_);
  // A broker set belongs to one cluster; moving it is allowed (RocketMQ allows it too).
  auto existing = broker_addr_table_.find(b.broker_name);
  if (existing != broker_addr_table_.end() && existing->second.cluster != b.cluster_name) {
    cluster_addr_table_[existing->second.cluster].erase(b.broker_name);
    if (cluster_addr_table_[existing->second.cluster].empty())
      cluster_addr_table_.erase(existing->second.cluster);
  }

  // The same address may come back with another id (slave promoted to master) or another
  // broker set: forget its old identity first. Before the set joins its cluster: forgetting
  // the set's last address takes the set out of its cluster.
  auto live = broker_live_table_.find(b.broker_addr);
  if (live != broker_live_table_.end() &&
      (live->second.broker.broker_name != b.broker_name || live->second.broker.broker_id != b.broker_id)) {
    RemoveAddressLocked(b.broker_addr);
  }
  cluster_addr_table_[b.cluster_name].insert(b.broker_name);
  BrokerData& data = broker_addr_table_[b.broker_name];
  data.cluster = b.cluster_name;
  data.broker_name = b.broker_name;
  auto old_addr = data.broker_addrs.find(b.broker_id);
  if (old_addr != data.broker_addrs.end() && old_addr->second != b.broker_addr) {
    broker_live_table_.erase(old_addr->second);
  }
  data.broker_addrs[b.broker_id] = b.broker_addr;
  if (b.grpc_v2_addr.empty()) {
    data.v2_addrs.erase(b.broker_id);
  } else {
    data.v2_addrs[b.broker_id] = b.grpc_v2_addr;
  }
  if (b.fast_send_addr.empty()) {
    data.fast_send_addrs.erase(b.broker_id);
  } else {
    data.fast_send_addrs[b.broker_id] = b.fast_send_addr;
  }

  const bool first_time = broker_live_table_.count(b.broker_addr) == 0;
  ApplyTopicsLocked(registration);
  LiveEntry& entry = broker_live_table_[b.broker_addr];
  entry.broker = b;
  entry.data_version = registration.data_version;
  entry.last_update_ms = clock_->NowMillis();
  entry.last_seen_ms = steady_->NowMillis();
  entry.topic_count = static_cast<int32_t>(registration.topics.size());
  if (first_time) {
    MQ_LOG_INFO(Logger("namesrv"),
                "new broker registered cluster={} broker_name={} broker_id={} addr={} topics={}",
                b.cluster_name, b.broker_name, b.broker_id, b.broker_addr, registration.topics.size());
  }
  return MasterOfLocked(b.broker_name, b.broker_id);
}

void RouteTable::ApplyTopicsLocked(const BrokerRegistration& registration) {
  const std::string& broker_name = registration.broker.broker_name;
  const bool is_master = registration.broker.broker_id == kMasterId;
  auto to_queue = [&](const TopicConfigEntry& t) {
    return QueueData{broker_name,      t.read_queue_nums, t.write_queue_nums, t.perm,
                     t.topic_sys_flag, t.order,           t.message_type};
  };
  if (!is_master) {
    // A slave's topics only stand in for a master this table does not have (after a
    // NameServer restart, before the master's registration). With the master registered, its
    // list is the set's: a slave's may still hold a topic the master deleted (RocketMQ 5 takes
    // a slave's topics only when the set has no master, too).
    const auto data = broker_addr_table_.find(broker_name);
    if (data != broker_addr_table_.end() && data->second.broker_addrs.count(kMasterId) > 0) return;
    for (const auto& t : registration.topics)
      topic_queue_table_[t.topic_name].try_emplace(broker_name, to_queue(t));
    return;
  }
  std::unordered_set<std::string_view> listed;
  listed.reserve(registration.topics.size());
  for (const auto& t : registration.topics) {
    topic_queue_table_[t.topic_name][broker_name] = to_queue(t);
    listed.insert(t.topic_name);
  }
  // The master's set is authoritative: topics it no longer has lose this broker set's queues.
  for (auto it = topic_queue_table_.begin(); it != topic_queue_table_.end();) {
    if (!listed.count(it->first) && it->second.erase(broker_name) && it->second.empty()) {
      it = topic_queue_table_.erase(it);
    } else {
      ++it;
    }
  }
}

Result<HeartbeatResult> RouteTable::Heartbeat(const BrokerIdentity& broker, const DataVersion& version) {
  MQ_RETURN_IF_ERROR(ValidateIdentity(broker));
  std::unique_lock lock(mu_);
  HeartbeatResult result;
  auto it = broker_live_table_.find(broker.broker_addr);
  if (it == broker_live_table_.end() || it->second.broker.broker_name != broker.broker_name ||
      it->second.broker.broker_id != broker.broker_id ||
      it->second.broker.cluster_name != broker.cluster_name ||
      it->second.broker.ha_server_addr != broker.ha_server_addr ||
      it->second.broker.grpc_v2_addr != broker.grpc_v2_addr ||
      it->second.broker.fast_send_addr != broker.fast_send_addr || !(it->second.data_version == version)) {
    result.need_full_registration = true;
  } else {
    it->second.last_update_ms = clock_->NowMillis();
    it->second.last_seen_ms = steady_->NowMillis();
  }
  result.master = MasterOfLocked(broker.broker_name, broker.broker_id);
  return result;
}

Status RouteTable::UnregisterBroker(const BrokerIdentity& broker) {
  MQ_RETURN_IF_ERROR(ValidateIdentity(broker));
  std::unique_lock lock(mu_);
  auto it = broker_live_table_.find(broker.broker_addr);
  if (it == broker_live_table_.end() || it->second.broker.broker_name != broker.broker_name ||
      it->second.broker.broker_id != broker.broker_id) {
    return Status::NotFound(fmt::format("broker.broker_addr: broker {}/{} at {} is not registered",
                                        broker.broker_name, broker.broker_id, broker.broker_addr));
  }
  RemoveAddressLocked(broker.broker_addr);
  MQ_LOG_INFO(Logger("namesrv"), "broker unregistered broker_name={} broker_id={} addr={}",
              broker.broker_name, broker.broker_id, broker.broker_addr);
  return Status::OK();
}

void RouteTable::RemoveAddressLocked(const std::string& addr) {
  auto live = broker_live_table_.find(addr);
  if (live == broker_live_table_.end()) return;
  const std::string broker_name = live->second.broker.broker_name;
  const int64_t broker_id = live->second.broker.broker_id;
  broker_live_table_.erase(live);

  auto data = broker_addr_table_.find(broker_name);
  if (data == broker_addr_table_.end()) return;
  auto addr_it = data->second.broker_addrs.find(broker_id);
  if (addr_it != data->second.broker_addrs.end() && addr_it->second == addr) {
    data->second.broker_addrs.erase(addr_it);
    data->second.v2_addrs.erase(broker_id);
    data->second.fast_send_addrs.erase(broker_id);
  }
  if (!data->second.broker_addrs.empty()) return;

  // Last address of the set gone: the set, its cluster membership and its queues go too.
  const std::string cluster = data->second.cluster;
  broker_addr_table_.erase(data);
  auto c = cluster_addr_table_.find(cluster);
  if (c != cluster_addr_table_.end()) {
    c->second.erase(broker_name);
    if (c->second.empty()) cluster_addr_table_.erase(c);
  }
  for (auto it = topic_queue_table_.begin(); it != topic_queue_table_.end();) {
    if (it->second.erase(broker_name) && it->second.empty()) {
      it = topic_queue_table_.erase(it);
    } else {
      ++it;
    }
  }
}

MasterInfo RouteTable::MasterOfLocked(const std::string& broker_name, int64_t broker_id) const {
  MasterInfo info;
  if (broker_id == kMasterId) return info;
  auto data = broker_addr_table_.find(broker_name);
  if (data == broker_addr_table_.end()) return info;
  auto master = data->second.broker_addrs.find(kMasterId);
  if (master == data->second.broker_addrs.end()) return info;
  info.master_addr = master->second;
  auto live = broker_live_table_.find(master->second);
  if (live != broker_live_table_.end()) info.ha_server_addr = live->second.broker.ha_server_addr;
  return info;
}

Result<TopicRoute> RouteTable::PickRoute(const std::string& topic) const {
  MQ_RETURN_IF_ERROR(ValidateName("topic", topic));
  std::shared_lock lock(mu_);
  auto it = topic_queue_table_.find(topic);
  if (it == topic_queue_table_.end()) {
    return Status::NotFound(fmt::format("topic: no route info of topic '{}'", topic));
  }
  TopicRoute route;
  route.queue_datas.reserve(it->second.size());
  for (const auto& [broker_name, queue] : it->second) {
    route.queue_datas.push_back(queue);
    route.order_topic = route.order_topic || queue.order;
    auto data = broker_addr_table_.find(broker_name);
    if (data != broker_addr_table_.end()) route.broker_datas.push_back(data->second);
  }
  if (route.broker_datas.empty()) {
    return Status::NotFound(fmt::format("topic: no live broker serves topic '{}'", topic));
  }
  return route;
}

ClusterInfo RouteTable::GetClusterInfo() const {
  std::shared_lock lock(mu_);
  ClusterInfo info;
  info.broker_addr_table = broker_addr_table_;
  info.cluster_addr_table = cluster_addr_table_;
  for (const auto& [addr, entry] : broker_live_table_) {
    info.live_brokers.push_back({entry.broker, entry.data_version, entry.last_update_ms, entry.topic_count});
  }
  std::sort(info.live_brokers.begin(), info.live_brokers.end(),
            [](const auto& a, const auto& b) { return a.broker.broker_addr < b.broker.broker_addr; });
  return info;
}

Result<std::vector<std::string>> RouteTable::GetAllTopics(const std::string& cluster) const {
  if (!cluster.empty()) MQ_RETURN_IF_ERROR(ValidateName("cluster", cluster));
  std::shared_lock lock(mu_);
  std::vector<std::string> topics;
  if (cluster.empty()) {
    topics.reserve(topic_queue_table_.size());
    for (const auto& [topic, queues] : topic_queue_table_) topics.push_back(topic);
  } else {
    auto c = cluster_addr_table_.find(cluster);
    if (c == cluster_addr_table_.end())
      return Status::NotFound(fmt::format("cluster: unknown cluster '{}'", cluster));
    for (const auto& [topic, queues] : topic_queue_table_) {
      if (std::any_of(queues.begin(), queues.end(),
                      [&](const auto& q) { return c->second.count(q.first) > 0; })) {
        topics.push_back(topic);
      }
    }
  }
  std::sort(topics.begin(), topics.end());
  return topics;
}

Status RouteTable::DeleteTopic(const std::string& topic, const std::string& cluster) {
  MQ_RETURN_IF_ERROR(ValidateName("topic", topic));
  if (!cluster.empty()) MQ_RETURN_IF_ERROR(ValidateName("cluster", cluster));
  std::unique_lock lock(mu_);
  auto it = topic_queue_table_.find(topic);
  if (it == topic_queue_table_.end())
    return Status::NotFound(fmt::format("topic: unknown topic '{}'", topic));
  if (cluster.empty()) {
    topic_queue_table_.erase(it);
    return Status::OK();
  }
  auto c = cluster_addr_table_.find(cluster);
  if (c == cluster_addr_table_.end())
    return Status::NotFound(fmt::format("cluster: unknown cluster '{}'", cluster));
  for (const auto& broker_name : c->second) it->second.erase(broker_name);
  if (it->second.empty()) topic_queue_table_.erase(it);
  return Status::OK();
}

Result<int32_t> RouteTable::WipeWritePerm(const std::string& broker_name) {
  return ChangeWritePerm(broker_name, false);
}
Result<int32_t> RouteTable::AddWritePerm(const std::string& broker_name) {
  return ChangeWritePerm(broker_name, true);
}

Result<int32_t> RouteTable::ChangeWritePerm(const std::string& broker_name, bool writable) {
  MQ_RETURN_IF_ERROR(ValidateName("broker_name", broker_name));
  std::unique_lock lock(mu_);
  if (!broker_addr_table_.count(broker_name)) {
    return Status::NotFound(fmt::format("broker_name: unknown broker '{}'", broker_name));
  }
  int32_t changed = 0;
  for (auto& [topic, queues] : topic_queue_table_) {
    auto q = queues.find(broker_name);
    if (q == queues.end()) continue;
    q->second.perm = writable ? (q->second.perm | kPermWrite) : (q->second.perm & ~kPermWrite);
    ++changed;
  }
  MQ_LOG_INFO(Logger("namesrv"), "{} write perm broker_name={} topics={}", writable ? "add" : "wipe",
              broker_name, changed);
  return changed;
}

std::vector<BrokerLiveInfo> RouteTable::ExpireInactive(int64_t timeout_ms) {
  const int64_t now = steady_->NowMillis();
  std::vector<BrokerLiveInfo> expired;
  {
    std::shared_lock lock(mu_);
    for (const auto& [addr, entry] : broker_live_table_) {
      if (entry.last_seen_ms + timeout_ms < now) {
        expired.push_back({entry.broker, entry.data_version, entry.last_update_ms, entry.topic_count});
      }
    }
  }
  if (expired.empty()) return expired;
  std::unique_lock lock(mu_);
  std::vector<BrokerLiveInfo> removed;
  for (const auto& e : expired) {
    auto it = broker_live_table_.find(e.broker.broker_addr);
    // Re-check: it may have re-registered between the two locks.
    if (it == broker_live_table_.end() || it->second.last_seen_ms + timeout_ms >= now) continue;
    const int64_t silent_ms = now - it->second.last_seen_ms;
    RemoveAddressLocked(e.broker.broker_addr);
    removed.push_back(e);
    MQ_LOG_WARN(Logger("namesrv"), "broker expired broker_name={} broker_id={} addr={} silent_for_ms={}",
                e.broker.broker_name, e.broker.broker_id, e.broker.broker_addr, silent_ms);
  }
  return removed;
}

size_t RouteTable::TopicCount() const {
  std::shared_lock lock(mu_);
  return topic_queue_table_.size();
}

}  // namespace mq::namesrv
