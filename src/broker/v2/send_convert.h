// Conversions of the v2 publishing path: a v2 Message -> an mq.v1 send the SendProcessor
// executes (with every check of the RocketMQ proxy's validator, answered with its v2 Code and
// a message naming the field), processor outcomes -> v2 Status, and a stored message -> a v2
// Message (orphaned-transaction checks; pop deliveries may use it too).
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "apache/rocketmq/v2/definition.pb.h"
#include "common/status.h"
#include "mq/v1/broker.pb.h"

namespace mq::broker::v2 {

// The RocketMQ proxy's limits (ProxyConfig defaults) plus the broker's own.
struct SendLimits {
  int64_t max_body_size = 4 * 1024 * 1024;       // maxMessageSize
  int64_t max_delay_ms = 24LL * 3600 * 1000;     // min(maxDelayTimeMills, timerMaxDelaySec)
  size_t max_user_properties = 128;              // userPropertyMaxNum
  size_t max_user_properties_bytes = 16 * 1024;  // maxUserPropertySize
  size_t max_message_group_bytes = 64;           // maxMessageGroupSize
};

// One v2 message as a v1 send to `stored_topic` (namespace applied). queue_id is left -1
// (round robin); for FIFO the caller sets it from `message_group`.
struct V1Send {
  mq::v1::SendMessageRequest request;
  apache::rocketmq::v2::MessageType type = apache::rocketmq::v2::MessageType::NORMAL;
  std::string message_id;
  std::string message_group;
};

// `field` prefixes error messages (e.g. "messages[0]"); `born_host` is "ip:port" of the peer.
apache::rocketmq::v2::Status ToV1Send(const apache::rocketmq::v2::Message& message, std::string_view field,
                                      const std::string& stored_topic, const SendLimits& limits,
                                      int64_t now_ms, const std::string& born_host, V1Send* out);

// FIFO queue choice: a stable hash of the message group (the same group always lands on the
// same queue while the queue count stays).
int32_t FifoQueue(std::string_view message_group, int32_t write_queue_nums);

// A processor's refusal of a send -> the v2 code the SDKs expect.
apache::rocketmq::v2::Status SendFailure(const Status& status);
// A stored-but-not-durable outcome (FLUSH_DISK_TIMEOUT, ...) -> its v2 code (OK for SEND_OK).
apache::rocketmq::v2::Code SendOutcome(mq::v1::SendStatus status);

// A stored message as the SDKs receive it: bare topic in `ns`, message_id = UNIQ_KEY,
// body_digest = MD5 (uppercase hex; the SDKs refuse a message without a digest), the type
// derived from its properties, delivery_attempt = reconsume times + 1.
void ToV2Message(const mq::v1::MessageExt& stored, std::string_view ns, apache::rocketmq::v2::Message* out);

}  // namespace mq::broker::v2
