#include "send_wire.h"

namespace mq::client {
namespace {

// Field numbers of proto/mq/v1 (common.proto Message, broker.proto SendMessageRequest).
enum MessageField : uint32_t {
  kTags = 2,
  kKeys = 3,
  kBody = 4,
  kUserProperties = 5,
  kDelayLevel = 6,
  kUniqueKey = 8,
  kBornTimestamp = 9,
  kDeliverTimeMs = 30,
};
enum RequestField : uint32_t {
  kProducerGroup = 1,
  kTopic = 2,
  kQueueId = 3,
  kMessages = 4,
  kDefaultTopicQueueNums = 5,
  kTransactionPrepared = 40,
};
constexpr uint32_t kVarint = 0;
constexpr uint32_t kLengthDelimited = 2;

void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

void PutTag(uint32_t field, uint32_t wire_type, std::string* out) {
  PutVarint((field << 3) | wire_type, out);
}

// int32 and int64 fields: protobuf writes a negative value as its 64-bit two's complement.
void PutInt(uint32_t field, int64_t v, std::string* out) {
  if (v == 0) return;
  PutTag(field, kVarint, out);
  PutVarint(static_cast<uint64_t>(v), out);
}

void PutBytes(uint32_t field, std::string_view v, std::string* out) {
  PutTag(field, kLengthDelimited, out);
  PutVarint(v.size(), out);
  out->append(v);
}

void PutNonEmpty(uint32_t field, std::string_view v, std::string* out) {
  if (!v.empty()) PutBytes(field, v, out);
}

size_t BytesFieldSize(uint32_t field, size_t len) {
  return VarintSize((field << 3) | kLengthDelimited) + VarintSize(len) + len;
}

size_t IntFieldSize(uint32_t field, int64_t v) {
  return v == 0 ? 0 : VarintSize(field << 3) + VarintSize(static_cast<uint64_t>(v));
}

size_t MapEntrySize(const std::string& key, const std::string& value) {
  return BytesFieldSize(1, key.size()) + BytesFieldSize(2, value.size());
}

// The length of the encoded Message, which its field header needs before the fields.
size_t MessageSize(const Message& msg, std::string_view unique_key, int64_t born_timestamp_ms) {
  size_t n = 0;
  if (!msg.tags.empty()) n += BytesFieldSize(kTags, msg.tags.size());
  for (const auto& k : msg.keys) n += BytesFieldSize(kKeys, k.size());
  if (!msg.body.empty()) n += BytesFieldSize(kBody, msg.body.size());
  for (const auto& [k, v] : msg.properties) n += BytesFieldSize(kUserProperties, MapEntrySize(k, v));
  n += IntFieldSize(kDelayLevel, msg.delay_level);
  if (!unique_key.empty()) n += BytesFieldSize(kUniqueKey, unique_key.size());
  n += IntFieldSize(kBornTimestamp, born_timestamp_ms);
  n += IntFieldSize(kDeliverTimeMs, msg.deliver_time_ms);
  return n;
}

}  // namespace

void AppendMessageField(const Message& msg, std::string_view unique_key, int64_t born_timestamp_ms,
                        std::string* out) {
  const size_t size = MessageSize(msg, unique_key, born_timestamp_ms);
  out->reserve(out->size() + VarintSize(size) + size + 2);
  PutTag(kMessages, kLengthDelimited, out);
  PutVarint(size, out);
  PutNonEmpty(kTags, msg.tags, out);
  for (const auto& k : msg.keys) PutBytes(kKeys, k, out);
  PutNonEmpty(kBody, msg.body, out);
  for (const auto& [k, v] : msg.properties) {
    PutTag(kUserProperties, kLengthDelimited, out);
    PutVarint(MapEntrySize(k, v), out);
    PutBytes(1, k, out);
    PutBytes(2, v, out);
  }
  PutInt(kDelayLevel, msg.delay_level, out);
  PutNonEmpty(kUniqueKey, unique_key, out);
  PutInt(kBornTimestamp, born_timestamp_ms, out);
  PutInt(kDeliverTimeMs, msg.deliver_time_ms, out);
}

std::string EncodeSendRequestHeader(std::string_view producer_group, std::string_view topic, int32_t queue_id,
                                    int32_t default_topic_queue_nums, bool transaction_prepared) {
  std::string out;
  PutNonEmpty(kProducerGroup, producer_group, &out);
  PutNonEmpty(kTopic, topic, &out);
  PutInt(kQueueId, queue_id, &out);
  PutInt(kDefaultTopicQueueNums, default_topic_queue_nums, &out);
  PutInt(kTransactionPrepared, transaction_prepared ? 1 : 0, &out);
  return out;
}

}  // namespace mq::client
