#include "broker/v2/route_convert.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>

#include "common/naming.h"
#include "common/perm.h"

namespace mq::broker::v2 {
namespace pb = apache::rocketmq::v2;
namespace {

const std::vector<pb::MessageType>& AllTypes() {
  static const std::vector<pb::MessageType> kAll = {pb::MessageType::NORMAL, pb::MessageType::FIFO,
                                                    pb::MessageType::DELAY, pb::MessageType::TRANSACTION};
  return kAll;
}

struct BrokerQueues {
  const mq::v1::QueueData* queue = nullptr;
  std::string v2_addr;
};

// Masters serving v2, in the route's (broker name) order.
std::vector<BrokerQueues> V2Masters(const mq::v1::TopicRouteData& route) {
  std::vector<BrokerQueues> out;
  for (const auto& q : route.queue_datas()) {
    for (const auto& b : route.broker_datas()) {
      if (b.broker_name() != q.broker_name()) continue;
      auto v2 = b.v2_addrs().find(0);
      if (v2 != b.v2_addrs().end() && !v2->second.empty()) out.push_back({&q, v2->second});
    }
  }
  return out;
}

pb::Broker ToBroker(const BrokerQueues& b, const pb::Endpoints& endpoints) {
  pb::Broker broker;
  broker.set_name(b.queue->broker_name());
  broker.set_id(0);
  *broker.mutable_endpoints() = endpoints;
  return broker;
}

}  // namespace

Result<pb::Endpoints> ToEndpoints(std::string_view host_port) {
  MQ_ASSIGN_OR_RETURN(HostPort hp, ParseHostPort("endpoint", host_port));
  pb::Endpoints endpoints;
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, hp.host.c_str(), &v4) == 1) {
    endpoints.set_scheme(pb::AddressScheme::IPv4);
  } else if (inet_pton(AF_INET6, hp.host.c_str(), &v6) == 1) {
    endpoints.set_scheme(pb::AddressScheme::IPv6);
  } else {
    endpoints.set_scheme(pb::AddressScheme::DOMAIN_NAME);
  }
  auto* address = endpoints.add_addresses();
  address->set_host(hp.host);
  address->set_port(hp.port);
  return endpoints;
}

Result<std::vector<pb::MessageType>> AcceptMessageTypes(std::string_view attribute) {
  if (attribute.empty() || attribute == "MIXED" || attribute == "UNSPECIFIED") return AllTypes();
  if (attribute == "NORMAL") return std::vector<pb::MessageType>{pb::MessageType::NORMAL};
  if (attribute == "FIFO") return std::vector<pb::MessageType>{pb::MessageType::FIFO};
  if (attribute == "DELAY") return std::vector<pb::MessageType>{pb::MessageType::DELAY};
  if (attribute == "TRANSACTION") return std::vector<pb::MessageType>{pb::MessageType::TRANSACTION};
  return Status::InvalidArgument(fmt::format("{}: '{}' is not one of NORMAL, FIFO, DELAY, TRANSACTION, MIXED",
                                             kMessageTypeAttribute, attribute));
}

bool TopicAccepts(std::string_view attribute, pb::MessageType type) {
  auto types = AcceptMessageTypes(attribute);
  // A value this broker does not know restricts nothing it could enforce.
  if (!types.ok()) return true;
  return std::find(types->begin(), types->end(), type) != types->end();
}

pb::Permission ToPermission(bool readable, bool writable) {
  if (readable && writable) return pb::Permission::READ_WRITE;
  if (readable) return pb::Permission::READ;
  if (writable) return pb::Permission::WRITE;
  return pb::Permission::NONE;
}

std::vector<pb::MessageQueue> ToMessageQueues(const mq::v1::TopicRouteData& route,
                                              const pb::Resource& topic) {
  std::vector<pb::MessageQueue> out;
  for (const auto& b : V2Masters(route)) {
    auto endpoints = ToEndpoints(b.v2_addr);
    if (!endpoints.ok()) continue;  // the NameServer validated it; never expected
    const pb::Broker broker = ToBroker(b, *endpoints);
    auto types = AcceptMessageTypes(b.queue->message_type());
    const auto& accept = types.ok() ? *types : AllTypes();
    const int32_t reads = b.queue->read_queue_nums();
    const int32_t writes = b.queue->write_queue_nums();
    const int32_t perm = b.queue->perm();
    for (int32_t id = 0; id < std::max(reads, writes); ++id) {
      pb::MessageQueue mq;
      *mq.mutable_topic() = topic;
      mq.set_id(id);
      mq.set_permission(ToPermission(id < reads && IsReadable(perm), id < writes && IsWritable(perm)));
      *mq.mutable_broker() = broker;
      for (auto t : accept) mq.add_accept_message_types(t);
      out.push_back(std::move(mq));
    }
  }
  return out;
}

std::vector<pb::Assignment> ToAssignments(const mq::v1::TopicRouteData& route, const pb::Resource& topic) {
  std::vector<pb::Assignment> out;
  for (const auto& b : V2Masters(route)) {
    if (b.queue->read_queue_nums() <= 0 || !IsReadable(b.queue->perm())) continue;
    auto endpoints = ToEndpoints(b.v2_addr);
    if (!endpoints.ok()) continue;
    pb::Assignment a;
    auto* mq = a.mutable_message_queue();
    *mq->mutable_topic() = topic;
    mq->set_id(-1);
    mq->set_permission(ToPermission(true, b.queue->write_queue_nums() > 0 && IsWritable(b.queue->perm())));
    *mq->mutable_broker() = ToBroker(b, *endpoints);
    auto types = AcceptMessageTypes(b.queue->message_type());
    for (auto t : types.ok() ? *types : AllTypes()) mq->add_accept_message_types(t);
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace mq::broker::v2
