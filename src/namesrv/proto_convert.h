// Conversions between mq.v1 NameServer messages and the route table's plain types.
// Pure functions, thread-safe. Used by NamesrvService and by tests/tools that build requests.
#pragma once

#include "mq/v1/namesrv.pb.h"
#include "namesrv/route_types.h"

namespace mq::namesrv {

BrokerIdentity FromProto(const mq::v1::BrokerIdentity& p);
DataVersion FromProto(const mq::v1::DataVersion& p);
TopicConfigEntry FromProto(const mq::v1::TopicConfig& p);

void ToProto(const BrokerIdentity& b, mq::v1::BrokerIdentity* p);
void ToProto(const DataVersion& v, mq::v1::DataVersion* p);
void ToProto(const TopicRoute& route, mq::v1::TopicRouteData* p);
void ToProto(const BrokerData& data, mq::v1::BrokerData* p);
void ToProto(const ClusterInfo& info, mq::v1::GetClusterInfoResponse* p);

}  // namespace mq::namesrv
