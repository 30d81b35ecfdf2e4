#include "broker/processor/send_request_wire.h"

#include <algorithm>

#include "broker/processor/message_convert.h"
#include "common/proto_wire.h"

namespace mq::broker {
namespace {

// More user properties than this on one message go the protobuf way (the duplicate check here
// is quadratic).
constexpr uint32_t kMaxWireProperties = 64;

// ASCII (so valid UTF-8, as protobuf requires of a string) without the record's separators.
bool IsPlainText(std::string_view s) {
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x80 || b == static_cast<unsigned char>(store::kNameValueSeparator) ||
        b == static_cast<unsigned char>(store::kPropertySeparator)) {
      return false;
    }
  }
  return true;
}

bool ReadText(wire::Reader* in, uint32_t type, std::string_view* out) {
  return type == wire::kLengthDelimited && in->Bytes(out) && IsPlainText(*out);
}

bool ReadProperty(std::string_view entry, WireSendRequest* req, WireMessage* msg) {
  wire::Reader in(entry);
  std::string_view key;
  std::string_view value;
  while (!in.done()) {
    uint32_t field = 0;
    uint32_t type = 0;
    if (!in.Tag(&field, &type)) return false;
    if (field == 1) {
      if (!ReadText(&in, type, &key)) return false;
    } else if (field == 2) {
      if (!ReadText(&in, type, &value)) return false;
    } else {
      return false;
    }
  }
  if (key.empty() || IsReservedPropertyKey(key) || msg->property_count >= kMaxWireProperties) return false;
  for (uint32_t i = 0; i < msg->property_count; ++i) {
    if (req->properties[msg->first_property + i].first == key) return false;
  }
  req->properties.emplace_back(key, value);
  ++msg->property_count;
  return true;
}

bool ReadMessage(std::string_view bytes, WireSendRequest* req) {
  WireMessage msg;
  msg.first_key = static_cast<uint32_t>(req->keys.size());
  msg.first_property = static_cast<uint32_t>(req->properties.size());
  wire::Reader in(bytes);
  while (!in.done()) {
    uint32_t field = 0;
    uint32_t type = 0;
    if (!in.Tag(&field, &type)) return false;
    bool ok = false;
    switch (field) {
      case wire::kMessageTopic:
        ok = ReadText(&in, type, &msg.topic);
        break;
      case wire::kTags:
        ok = ReadText(&in, type, &msg.tags);
        break;
      case wire::kKeys: {
        std::string_view key;
        ok = ReadText(&in, type, &key);
        if (ok) {
          req->keys.push_back(key);
          ++msg.key_count;
        }
        break;
      }
      case wire::kBody:
        ok = type == wire::kLengthDelimited && in.Bytes(&msg.body);
        break;
      case wire::kUserProperties: {
        std::string_view entry;
        ok = type == wire::kLengthDelimited && in.Bytes(&entry) && ReadProperty(entry, req, &msg);
        break;
      }
      case wire::kDelayLevel:
        ok = in.IntField(type, &msg.delay_level);
        break;
      case wire::kFlag:
        ok = in.IntField(type, &msg.flag);
        break;
      case wire::kUniqueKey:
        ok = ReadText(&in, type, &msg.unique_key);
        break;
      case wire::kBornTimestamp:
        ok = in.IntField(type, &msg.born_timestamp);
        break;
      case wire::kBornHost:
        ok = ReadText(&in, type, &msg.born_host);
        break;
      case wire::kReconsumeTimes:
        ok = in.IntField(type, &msg.reconsume_times);
        break;
      case wire::kDeliverTimeMs:
        ok = in.IntField(type, &msg.deliver_time_ms);
        break;
      default:
        break;
    }
    if (!ok) return false;
  }
  req->messages.push_back(msg);
  return true;
}

// One record property: a user property, or a system one (the KEYS value is joined on writing).
struct Property {
  std::string_view key;
  std::string_view value;
  bool joined_keys = false;
};

}  // namespace

bool ReadSendRequest(std::string_view bytes, WireSendRequest* out) {
  wire::Reader in(bytes);
  while (!in.done()) {
    uint32_t field = 0;
    uint32_t type = 0;
    if (!in.Tag(&field, &type)) return false;
    bool ok = false;
    switch (field) {
      case wire::kProducerGroup:
        ok = ReadText(&in, type, &out->producer_group);
        break;
      case wire::kTopic:
        ok = ReadText(&in, type, &out->topic);
        break;
      case wire::kQueueId:
        ok = in.IntField(type, &out->queue_id);
        break;
      case wire::kMessages: {
        std::string_view message;
        ok = type == wire::kLengthDelimited && in.Bytes(&message) && ReadMessage(message, out);
        break;
      }
      case wire::kDefaultTopicQueueNums:
        ok = in.IntField(type, &out->default_topic_queue_nums);
        break;
      case wire::kTransactionPrepared: {
        uint64_t v = 0;
        ok = in.VarintField(type, &v);
        out->transaction_prepared = v != 0;
        break;
      }
      default:
        break;
    }
    if (!ok) return false;
  }
  return true;
}

bool EncodeRecords(const WireSendRequest& req, store::HostAddress store_host, store::HostAddress sender,
                   int64_t max_record_size, std::string* out) {
  const size_t start = out->size();
  std::vector<Property> props;
  std::string props_text;
  auto refuse = [out, start] {
    out->resize(start);
    return false;
  };
  for (const WireMessage& m : req.messages) {
    if (m.unique_key.empty()) return refuse();
    props.clear();
    for (uint32_t i = 0; i < m.property_count; ++i) {
      const auto& [key, value] = req.properties[m.first_property + i];
      props.push_back({key, value});
    }
    if (!m.tags.empty()) props.push_back({store::kPropertyTags, m.tags});
    if (m.key_count > 0) props.push_back({store::kPropertyKeys, {}, true});
    props.push_back({store::kPropertyUniqKey, m.unique_key});
    // EncodeMessage writes a std::map's order.
    std::sort(props.begin(), props.end(), [](const Property& a, const Property& b) { return a.key < b.key; });
    props_text.clear();
    for (const Property& p : props) {
      props_text.append(p.key).push_back(store::kNameValueSeparator);
      if (p.joined_keys) {
        const auto first = req.keys.begin() + m.first_key;
        record::AppendJoinedKeys(first, first + m.key_count, &props_text);
      } else {
        props_text.append(p.value);
      }
      props_text.push_back(store::kPropertySeparator);
    }
    // The protobuf path names the limit in its error.
    if (props_text.size() + record::kCrcTrailerSize + kSendBackGrowthBytes > record::kMaxPropertiesLength) {
      return refuse();
    }
    const store::RecordFields fields{req.topic,
                                     0,
                                     m.flag,
                                     m.body,
                                     0,
                                     m.born_timestamp,
                                     m.born_host.empty() ? sender : ParseHostAddress(m.born_host),
                                     m.reconsume_times,
                                     0};
    const size_t before = out->size();
    if (!store::AppendRecord(fields, props_text, store_host, out).ok() ||
        static_cast<int64_t>(out->size() - before) > max_record_size) {
      return refuse();
    }
  }
  return true;
}

std::string EncodeSendResponse(mq::v1::SendStatus status, std::string_view broker_name, int32_t queue_id,
                               int64_t queue_offset, const WireSendRequest& req,
                               const std::vector<int64_t>& physical_offsets, store::HostAddress store_host) {
  std::string out;
  out.reserve(32 + req.messages.size() * 96);
  wire::PutInt(wire::kStatus, status, &out);
  wire::PutText(wire::kBrokerName, broker_name, &out);
  wire::PutInt(wire::kResponseQueueId, queue_id, &out);
  wire::PutInt(wire::kQueueOffset, queue_offset, &out);
  std::string entry;
  char offset_msg_id[record::kOffsetMessageIdLength];
  for (size_t i = 0; i < req.messages.size(); ++i) {
    entry.clear();
    wire::PutText(wire::kMsgId, req.messages[i].unique_key, &entry);
    record::WriteOffsetMessageId(store_host, physical_offsets[i], offset_msg_id);
    wire::PutText(wire::kOffsetMsgId, std::string_view(offset_msg_id, sizeof offset_msg_id), &entry);
    wire::PutInt(wire::kEntryQueueOffset, queue_offset + static_cast<int64_t>(i), &entry);
    wire::PutInt(wire::kCommitLogOffset, physical_offsets[i], &entry);
    wire::PutTag(wire::kEntries, wire::kLengthDelimited, &out);
    wire::PutVarint(entry.size(), &out);
    out.append(entry);
  }
  return out;
}

}  // namespace mq::broker
