// Fuzz target: message properties, the key 0x01 value 0x02 list a record carries, in the three
// places outside bytes reach it:
//   mode 0: raw properties of a stored record -> ToStoredMessage / FindProperty / the broker's
//           MessageExt conversion / the tag expression parser (consumers' filters);
//   mode 1: a producer's mq.v1.Message (user properties, tags, keys) -> ToMessageInput ->
//           EncodeMessage; what encodes must decode to exactly the same properties;
//   mode 2: a broker's mq.v1.MessageExt -> the client's FromProto;
//   mode 3: a pull reply's stored records -> the client's TakePulledMessages.
// Mode 1 also decodes its record as a pull reply would carry it: the consumer's decoding must
// give what FromProto gives for the broker's MessageExt of the same record.
// The first input byte picks the mode (modulo 4); the rest is the payload.
#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "broker/processor/message_convert.h"
#include "broker/store/message_format.h"
#include "client/convert.h"
#include "common/tag_expression.h"
#include "fuzz_support.h"

namespace {

using mq::store::kPropertyKeys;
using mq::store::kPropertyTags;
using mq::store::kPropertyUniqKey;

void RawProperties(std::string_view props) {
  mq::store::RecordView view;
  view.topic = "T";
  view.properties = props;
  mq::store::StoredMessage m = mq::store::ToStoredMessage(view, props);
  // FindProperty (the dispatcher's tag/key lookup) and the decoded map (what consumers get)
  // must agree: both take the first occurrence of a key.
  for (std::string_view key : {kPropertyTags, kPropertyKeys, kPropertyUniqKey}) {
    auto it = m.properties.find(std::string(key));
    std::string_view found = mq::store::FindProperty(props, key);
    if (it != m.properties.end()) {
      MQ_FUZZ_CHECK(found == it->second, fmt::format("FindProperty({}) disagrees with the decoded map", key));
    } else {
      MQ_FUZZ_CHECK(found.empty(), fmt::format("FindProperty({}) finds a key the map lacks", key));
    }
  }
  mq::v1::MessageExt ext;
  mq::broker::ToMessageExt(m, "broker-a", &ext);
  auto tags = mq::ParseTagExpression(m.Property(kPropertyTags));
  if (!tags.ok()) mq::fuzz::CheckClearError(tags.status(), "ParseTagExpression");
  (void)mq::store::TagsCode(mq::store::FindProperty(props, kPropertyTags));
}

bool SameMessage(const mq::client::ReceivedMessage& a, const mq::client::ReceivedMessage& b) {
  return a.message.topic == b.message.topic && a.message.body == b.message.body &&
         a.message.tags == b.message.tags && a.message.keys == b.message.keys &&
         a.message.properties == b.message.properties && a.system_properties == b.system_properties &&
         a.msg_id == b.msg_id && a.offset_msg_id == b.offset_msg_id && a.queue == b.queue &&
         a.queue_offset == b.queue_offset && a.born_timestamp_ms == b.born_timestamp_ms &&
         a.store_timestamp_ms == b.store_timestamp_ms && a.reconsume_times == b.reconsume_times;
}

void ProducerMessage(std::string_view payload) {
  mq::v1::Message message;
  if (!message.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) return;
  mq::store::MessageInput in = mq::broker::ToMessageInput(&message, "FuzzTopic", 0, "UNIQ");
  std::string record;
  mq::Status s = mq::store::EncodeMessage(in, {0x7F000001, 10911}, &record);
  if (!s.ok()) {
    mq::fuzz::CheckClearError(s, "EncodeMessage");
    return;
  }
  mq::store::FinalizeRecord(record.data(), static_cast<int32_t>(record.size()), 3, 4096, 1700000000000);
  auto decoded = mq::store::DecodeRecord(record, /*verify_crc=*/true, 4096);
  MQ_FUZZ_CHECK(decoded.ok(), "an encoded record does not decode: " + decoded.status().ToString());
  mq::store::StoredMessage m = mq::store::ToStoredMessage(*decoded, record);
  MQ_FUZZ_CHECK(m.properties == in.properties, "properties changed in an encode/decode round trip");
  MQ_FUZZ_CHECK(m.body == in.body && m.topic == in.topic, "body or topic changed in a round trip");
  mq::v1::MessageExt ext;
  MQ_FUZZ_CHECK(mq::broker::ToMessageExt(record, "broker-a", &ext).ok(),
                "ToMessageExt refused a valid record");
  mq::client::ReceivedMessage converted = mq::client::FromProto(ext);
  mq::v1::PullMessageResponse reply;
  reply.set_records(record + record);
  auto pulled = mq::client::TakePulledMessages(&reply, "broker-a");
  MQ_FUZZ_CHECK(pulled.ok() && pulled->size() == 2, "a pull reply of two valid records does not decode");
  MQ_FUZZ_CHECK(SameMessage((*pulled)[0], converted) && SameMessage((*pulled)[1], converted),
                "a record decoded by the consumer differs from the broker's MessageExt of it");
}

void PulledRecords(std::string_view payload) {
  mq::v1::PullMessageResponse reply;
  reply.set_records(payload.data(), payload.size());
  auto pulled = mq::client::TakePulledMessages(&reply, "broker-a");
  if (!pulled.ok()) mq::fuzz::CheckClearError(pulled.status(), "TakePulledMessages");
}

void BrokerMessageExt(std::string_view payload) {
  mq::v1::MessageExt ext;
  if (!ext.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) return;
  (void)mq::client::FromProto(ext);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view payload(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      RawProperties(payload);
      break;
    case 1:
      ProducerMessage(payload);
      break;
    case 2:
      BrokerMessageExt(payload);
      break;
    default:
      PulledRecords(payload);
      break;
  }
  return 0;
}
