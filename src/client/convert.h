// Conversions between the public client types and the wire protocol. Pure functions.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/status.h"
#include "mq/client/message.h"
#include "mq/client/send_result.h"
#include "mq/v1/broker.pb.h"
#include "mq/v1/common.pb.h"
#include "pull_reply.h"

namespace mq::client {

// Checks what the broker would refuse anyway, so bad input fails fast and without a network.
Status ValidateMessage(const Message& msg, int64_t max_body_bytes);
// The typed form of a message. The producer sends send_wire.h's bytes instead; SendWireTest
// checks that they parse to what this builds.
void ToProto(const Message& msg, const std::string& unique_key, mq::v1::Message* out);
// The same, moving the message's strings (the body above all) instead of copying them.
void ToProto(Message&& msg, std::string unique_key, mq::v1::Message* out);
ReceivedMessage FromProto(const mq::v1::MessageExt& ext);
// The same, moving the body and strings out of `ext`.
ReceivedMessage FromProto(mq::v1::MessageExt&& ext);
// The messages of a FOUND pull reply from broker `broker_name`: decoded from its stored
// records, or taken from its MessageExt list (a broker that sends no records). Corruption,
// naming the record, when a record does not decode; nothing is returned then.
Result<std::vector<ReceivedMessage>> TakePulledMessages(const PullReplyView& reply,
                                                        const std::string& broker_name);
Result<std::vector<ReceivedMessage>> TakePulledMessages(mq::v1::PullMessageResponse* reply,
                                                        const std::string& broker_name);
// The same, each message decoded into the place `slot(queue_offset)` gives (nullptr skips the
// message), so a caller that keeps them in a table moves none. The place may hold an earlier
// message: every field is overwritten, its buffers and property map nodes reused. On
// Corruption the slots already handed out hold what was decoded so far.
Status DecodePulledMessages(const PullReplyView& reply, const std::string& broker_name,
                            const std::function<ReceivedMessage*(int64_t queue_offset)>& slot);
// Whether the broker will schedule `msg` (deliver_time_ms or a RocketMQ timer property).
bool IsScheduled(const Message& msg);
// The broker a recall handle (base64url "v1 topic broker deliverMs msgId") was issued by.
Result<std::string> RecallHandleBroker(const std::string& handle);
mq::v1::QueueRef ToQueueRef(const MessageQueue& q);

}  // namespace mq::client
