// NameServer route (mq.v1.TopicRouteData) -> apache.rocketmq.v2 route and assignment shapes.
// Only masters (broker id 0) that advertise a v2 address appear: the SDKs send every RPC but
// QueryRoute to MessageQueue.broker.endpoints, which must be exactly one address of a broker
// serving v2. Queue ids run 0..N-1 per broker (the Node SDK needs a queue 0 on each broker;
// the broker picks the real queue on send). Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "apache/rocketmq/v2/definition.pb.h"
#include "common/result.h"
#include "mq/v1/common.pb.h"

namespace mq::broker::v2 {

// RocketMQ 5's topic attribute naming the message types a topic takes.
inline constexpr char kMessageTypeAttribute[] = "message.type";

// "1.2.3.4:80" -> IPv4, "[::1]:80" -> IPv6, "host:80" -> DOMAIN_NAME; always one address.
// InvalidArgument for anything that is not host:port.
Result<apache::rocketmq::v2::Endpoints> ToEndpoints(std::string_view host_port);

// The attribute value -> the types a topic accepts. "" and MIXED (and UNSPECIFIED) accept
// NORMAL, FIFO, DELAY and TRANSACTION; NORMAL/FIFO/DELAY/TRANSACTION accept only that type.
// InvalidArgument for any other value.
Result<std::vector<apache::rocketmq::v2::MessageType>> AcceptMessageTypes(std::string_view attribute);
// Whether a message of `type` may be sent to a topic with this attribute value.
bool TopicAccepts(std::string_view attribute, apache::rocketmq::v2::MessageType type);

apache::rocketmq::v2::Permission ToPermission(bool readable, bool writable);

// One MessageQueue per (master with a v2 address, queue id). `topic` is the resource the
// client asked for (bare name, its namespace), echoed in every queue.
std::vector<apache::rocketmq::v2::MessageQueue> ToMessageQueues(const mq::v1::TopicRouteData& route,
                                                                const apache::rocketmq::v2::Resource& topic);

// QueryAssignment: one queue with id -1 per readable master with a v2 address (pop is
// broker-wide, so the broker spreads the group over all its queues itself).
std::vector<apache::rocketmq::v2::Assignment> ToAssignments(const mq::v1::TopicRouteData& route,
                                                            const apache::rocketmq::v2::Resource& topic);

}  // namespace mq::broker::v2
