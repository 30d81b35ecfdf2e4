#include "send_wire.h"

#include "common/message_id.h"
#include "common/proto_wire.h"
#include "convert.h"

namespace mq::client {
namespace {

// Wire bytes reserved per message of a request beyond its body and tags: field tags, lengths,
// the 32-character unique key, the born timestamp and a few properties.
constexpr size_t kWireFieldsAllowance = 128;

size_t BytesFieldSize(uint32_t field, size_t len) {
  return wire::VarintSize((field << 3) | wire::kLengthDelimited) + wire::VarintSize(len) + len;
}

size_t IntFieldSize(uint32_t field, int64_t v) {
  return v == 0 ? 0 : wire::VarintSize(field << 3) + wire::VarintSize(static_cast<uint64_t>(v));
}

size_t MapEntrySize(const std::string& key, const std::string& value) {
  return BytesFieldSize(1, key.size()) + BytesFieldSize(2, value.size());
}

// The length of the encoded Message, which its field header needs before the fields.
size_t MessageSize(const Message& msg, std::string_view unique_key, int64_t born_timestamp_ms) {
  size_t n = 0;
  if (!msg.tags.empty()) n += BytesFieldSize(wire::kTags, msg.tags.size());
  for (const auto& k : msg.keys) n += BytesFieldSize(wire::kKeys, k.size());
  if (!msg.body.empty()) n += BytesFieldSize(wire::kBody, msg.body.size());
  for (const auto& [k, v] : msg.properties) n += BytesFieldSize(wire::kUserProperties, MapEntrySize(k, v));
  n += IntFieldSize(wire::kDelayLevel, msg.delay_level);
  if (!unique_key.empty()) n += BytesFieldSize(wire::kUniqueKey, unique_key.size());
  n += IntFieldSize(wire::kBornTimestamp, born_timestamp_ms);
  n += IntFieldSize(wire::kDeliverTimeMs, msg.deliver_time_ms);
  return n;
}

}  // namespace

void AppendMessageField(const Message& msg, std::string_view unique_key, int64_t born_timestamp_ms,
                        std::string* out) {
  const size_t size = MessageSize(msg, unique_key, born_timestamp_ms);
  out->reserve(out->size() + wire::VarintSize(size) + size + 2);
  wire::PutTag(wire::kMessages, wire::kLengthDelimited, out);
  wire::PutVarint(size, out);
  wire::PutText(wire::kTags, msg.tags, out);
  for (const auto& k : msg.keys) wire::PutBytes(wire::kKeys, k, out);
  wire::PutText(wire::kBody, msg.body, out);
  for (const auto& [k, v] : msg.properties) {
    wire::PutTag(wire::kUserProperties, wire::kLengthDelimited, out);
    wire::PutVarint(MapEntrySize(k, v), out);
    wire::PutBytes(1, k, out);
    wire::PutBytes(2, v, out);
  }
  wire::PutInt(wire::kDelayLevel, msg.delay_level, out);
  wire::PutText(wire::kUniqueKey, unique_key, out);
  wire::PutInt(wire::kBornTimestamp, born_timestamp_ms, out);
  wire::PutInt(wire::kDeliverTimeMs, msg.deliver_time_ms, out);
}

Result<std::string> EncodeRequestMessages(const std::vector<Message>& msgs, int64_t max_body_bytes,
                                          int64_t born_timestamp_ms) {
  std::string wire;
  // Room for every message up front: growing the buffer message by message copied a batch's
  // bytes once more.
  size_t room = 0;
  for (const auto& m : msgs) room += m.body.size() + m.tags.size() + kWireFieldsAllowance;
  wire.reserve(room);
  int64_t total = 0;
  for (const auto& m : msgs) {
    MQ_RETURN_IF_ERROR(ValidateMessage(m, max_body_bytes));
    if (m.topic != msgs[0].topic) return Status::InvalidArgument("topic: a batch carries one topic");
    total += static_cast<int64_t>(m.body.size());
    AppendMessageField(m, NewUniqueMessageId(), born_timestamp_ms, &wire);
  }
  if (total > max_body_bytes) {
    return Status::InvalidArgument("body: the batch of " + std::to_string(total) +
                                   " bytes exceeds max_body_bytes");
  }
  return wire;
}

std::string EncodeSendRequestHeader(std::string_view producer_group, std::string_view topic, int32_t queue_id,
                                    int32_t default_topic_queue_nums, bool transaction_prepared) {
  std::string out;
  wire::PutText(wire::kProducerGroup, producer_group, &out);
  wire::PutText(wire::kTopic, topic, &out);
  wire::PutInt(wire::kQueueId, queue_id, &out);
  wire::PutInt(wire::kDefaultTopicQueueNums, default_topic_queue_nums, &out);
  wire::PutInt(wire::kTransactionPrepared, transaction_prepared ? 1 : 0, &out);
  return out;
}

}  // namespace mq::client
