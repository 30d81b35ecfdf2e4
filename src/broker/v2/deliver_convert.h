// Converts a popped message into the apache.rocketmq.v2.Message a ReceiveMessage stream
// delivers (the RocketMQ proxy's GrpcConverter.buildMessage): bare topic, message id (UNIQ_KEY,
// else the offset message id), MD5 body digest (uppercase hex; the Node SDK refuses messages
// without a digest), tag, keys, message group, born/store time and host, queue id/offset,
// delivery attempt, receipt handle, invisible duration, delivery time of scheduled messages,
// message type, and the user properties (system property keys removed). Pure functions: the
// stored record goes through the v1 MessageExt conversion and ToV2Message (send_convert.h), the
// one place that builds a delivered v2 message, then gains the pop delivery's fields.
#pragma once

#include <string>
#include <string_view>

#include "apache/rocketmq/v2/definition.pb.h"
#include "broker/pop/pop_service.h"

namespace mq::broker::v2 {

// `name_space`: the caller's namespace; the topic is stored as "<ns>%<name>" and delivered bare.
void ToV2Message(const pop::PoppedMessage& popped, std::string_view name_space,
                 apache::rocketmq::v2::Message* out);

}  // namespace mq::broker::v2
