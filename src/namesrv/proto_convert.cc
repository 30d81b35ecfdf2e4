#include "namesrv/proto_convert.h"

namespace mq::namesrv {

BrokerIdentity FromProto(const mq::v1::BrokerIdentity& p) {
  return {p.cluster_name(),   p.broker_name(),  p.broker_id(),     p.broker_addr(),
          p.ha_server_addr(), p.grpc_v2_addr(), p.fast_send_addr()};
}

DataVersion FromProto(const mq::v1::DataVersion& p) {
  return {p.timestamp(), p.counter(), p.state_version()};
}

TopicConfigEntry FromProto(const mq::v1::TopicConfig& p) {
  auto type = p.attributes().find("message.type");
  return {p.topic_name(),
          p.read_queue_nums(),
          p.write_queue_nums(),
          p.perm(),
          p.topic_sys_flag(),
          p.order(),
          type == p.attributes().end() ? std::string() : type->second};
}

void ToProto(const BrokerIdentity& b, mq::v1::BrokerIdentity* p) {
  p->set_cluster_name(b.cluster_name);
  p->set_broker_name(b.broker_name);
  p->set_broker_id(b.broker_id);
  p->set_broker_addr(b.broker_addr);
  p->set_ha_server_addr(b.ha_server_addr);
  p->set_grpc_v2_addr(b.grpc_v2_addr);
  p->set_fast_send_addr(b.fast_send_addr);
}

void ToProto(const DataVersion& v, mq::v1::DataVersion* p) {
  p->set_timestamp(v.timestamp);
  p->set_counter(v.counter);
  p->set_state_version(v.state_version);
}

void ToProto(const BrokerData& data, mq::v1::BrokerData* p) {
  p->set_cluster(data.cluster);
  p->set_broker_name(data.broker_name);
  for (const auto& [id, addr] : data.broker_addrs) (*p->mutable_broker_addrs())[id] = addr;
  for (const auto& [id, addr] : data.v2_addrs) (*p->mutable_v2_addrs())[id] = addr;
  for (const auto& [id, addr] : data.fast_send_addrs) (*p->mutable_fast_send_addrs())[id] = addr;
}

void ToProto(const TopicRoute& route, mq::v1::TopicRouteData* p) {
  for (const auto& q : route.queue_datas) {
    auto* out = p->add_queue_datas();
    out->set_broker_name(q.broker_name);
    out->set_read_queue_nums(q.read_queue_nums);
    out->set_write_queue_nums(q.write_queue_nums);
    out->set_perm(q.perm);
    out->set_topic_sys_flag(q.topic_sys_flag);
    out->set_message_type(q.message_type);
  }
  for (const auto& b : route.broker_datas) ToProto(b, p->add_broker_datas());
  p->set_order_topic(route.order_topic);
}

void ToProto(const ClusterInfo& info, mq::v1::GetClusterInfoResponse* p) {
  for (const auto& [name, data] : info.broker_addr_table)
    ToProto(data, &(*p->mutable_broker_addr_table())[name]);
  for (const auto& [cluster, names] : info.cluster_addr_table) {
    auto& list = (*p->mutable_cluster_addr_table())[cluster];
    for (const auto& n : names) list.add_broker_names(n);
  }
  for (const auto& live : info.live_brokers) {
    auto* out = p->add_live_brokers();
    out->set_broker_addr(live.broker.broker_addr);
    out->set_cluster_name(live.broker.cluster_name);
    out->set_broker_name(live.broker.broker_name);
    out->set_broker_id(live.broker.broker_id);
    out->set_ha_server_addr(live.broker.ha_server_addr);
    out->set_last_update_timestamp(live.last_update_ms);
    ToProto(live.data_version, out->mutable_data_version());
    out->set_topic_count(live.topic_count);
  }
}

}  // namespace mq::namesrv
