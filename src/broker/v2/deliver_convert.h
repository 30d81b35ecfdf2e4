// Converts a popped message into the apache.rocketmq.v2.Message a ReceiveMessage stream
// delivers (the RocketMQ proxy's GrpcConverter.buildMessage): bare topic, message id (UNIQ_KEY,
// else the offset message id), MD5 body digest (uppercase hex; the Node SDK refuses messages
// without a digest), tag, keys, message group, born/store time and host, queue id/offset,
// delivery attempt, receipt handle, invisible duration, delivery time of scheduled messages,
// message type, and the user properties (system property keys removed). Pure functions.
#pragma once

#include <string>
#include <string_view>

#include "apache/rocketmq/v2/definition.pb.h"
#include "broker/pop/pop_service.h"

namespace mq::broker::v2 {

void ToV2Message(const pop::PoppedMessage& popped, apache::rocketmq::v2::Message* out);

// MD5 of `data` as 32 uppercase hex digits.
std::string Md5UpperHex(std::string_view data);

// Whether a stored property is a system property (not shown as a user property).
bool IsSystemPropertyKey(std::string_view key);

}  // namespace mq::broker::v2
