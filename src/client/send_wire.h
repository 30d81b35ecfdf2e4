// The protobuf wire form of a SendMessageRequest, written by hand so that a send (an auto-batch
// above all) is encoded once, straight from the user's Message, into one buffer: no mq::v1::Message
// objects are built, serialized and destroyed per message (that was a third of the producer's
// CPU per message). The bytes are exactly what protobuf would write for the same fields, so the
// broker parses them as an ordinary mq.v1.SendMessageRequest. Functions of their arguments
// (EncodeRequestMessages also draws new unique keys), any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "mq/client/message.h"

namespace mq::client {

// `msg` as one element of SendMessageRequest.messages (field 4): the field's tag and length,
// then the mq.v1.Message fields tags, keys, body, user_properties, delay_level, unique_key,
// born_timestamp and deliver_time_ms. The topic is left out: the request names it once (the
// broker takes a message without a topic as the request's). Appends to `out`.
void AppendMessageField(const Message& msg, std::string_view unique_key, int64_t born_timestamp_ms,
                        std::string* out);

// The messages of one request of their own (SendMessageRequest.messages, AppendMessageField),
// each with a new unique key and `born_timestamp_ms`, once they pass the producer's checks:
// each valid (ValidateMessage), all of one topic, their bodies together within
// `max_body_bytes`. InvalidArgument naming the field otherwise.
Result<std::string> EncodeRequestMessages(const std::vector<Message>& msgs, int64_t max_body_bytes,
                                          int64_t born_timestamp_ms);

// The SendMessageRequest fields other than the messages; appended to the messages above,
// they make the whole request (protobuf accepts fields in any order).
std::string EncodeSendRequestHeader(std::string_view producer_group, std::string_view topic, int32_t queue_id,
                                    int32_t default_topic_queue_nums, bool transaction_prepared);

}  // namespace mq::client
