// Plain domain types of the route registry; the NameServer service converts proto messages
// to and from these, so the route table never sees protobuf. Value types, thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/perm.h"

namespace mq::namesrv {

inline constexpr int64_t kMasterId = 0;

struct DataVersion {
  int64_t timestamp = 0;
  int64_t counter = 0;
  std::string state_version;
  bool operator==(const DataVersion&) const = default;
};

struct BrokerIdentity {
  std::string cluster_name;
  std::string broker_name;
  int64_t broker_id = 0;
  std::string broker_addr;
  std::string ha_server_addr;
  std::string grpc_v2_addr;    // empty: the broker serves no apache.rocketmq.v2 port
  std::string fast_send_addr;  // empty: the broker serves no fast send port
};

struct TopicConfigEntry {
  std::string topic_name;
  int32_t read_queue_nums = 0;
  int32_t write_queue_nums = 0;
  int32_t perm = kPermRead | kPermWrite;
  int32_t topic_sys_flag = 0;
  bool order = false;
  std::string message_type;  // attribute message.type ("" = absent)
};

struct BrokerRegistration {
  BrokerIdentity broker;
  DataVersion data_version;
  std::vector<TopicConfigEntry> topics;
};

struct MasterInfo {
  std::string master_addr;  // empty when this broker is the master or none is registered
  std::string ha_server_addr;
};

struct HeartbeatResult {
  bool need_full_registration = false;
  MasterInfo master;
};

struct QueueData {
  std::string broker_name;
  int32_t read_queue_nums = 0;
  int32_t write_queue_nums = 0;
  int32_t perm = 0;
  int32_t topic_sys_flag = 0;
  bool order = false;
  std::string message_type;  // attribute message.type ("" = absent)
};

struct BrokerData {
  std::string cluster;
  std::string broker_name;
  std::map<int64_t, std::string> broker_addrs;     // broker id -> address
  std::map<int64_t, std::string> v2_addrs;         // broker id -> apache.rocketmq.v2 address
  std::map<int64_t, std::string> fast_send_addrs;  // broker id -> fast send port address
};

struct TopicRoute {
  std::vector<QueueData> queue_datas;  // sorted by broker name
  std::vector<BrokerData> broker_datas;
  bool order_topic = false;
};

struct BrokerLiveInfo {
  BrokerIdentity broker;
  DataVersion data_version;
  int64_t last_update_ms = 0;
  int32_t topic_count = 0;
};

struct ClusterInfo {
  std::map<std::string, BrokerData> broker_addr_table;
  std::map<std::string, std::set<std::string>> cluster_addr_table;
  std::vector<BrokerLiveInfo> live_brokers;  // sorted by address
};

}  // namespace mq::namesrv
