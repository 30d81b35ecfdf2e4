#include "convert.h"

#include <algorithm>

#include "common/clock.h"
#include "common/message_record.h"
#include "common/naming.h"

namespace mq::client {

Status ValidateMessage(const Message& msg, int64_t max_body_bytes) {
  MQ_RETURN_IF_ERROR(ValidateName("topic", msg.topic));
  if (msg.topic == "TBW102") return Status::InvalidArgument("topic: TBW102 is a system topic");
  if (msg.body.empty()) return Status::InvalidArgument("body: must not be empty");
  if (static_cast<int64_t>(msg.body.size()) > max_body_bytes) {
    return Status::InvalidArgument("body: " + std::to_string(msg.body.size()) +
                                   " bytes exceed max_body_bytes " + std::to_string(max_body_bytes));
  }
  if (msg.delay_level < 0 || msg.delay_level > 18) {
    return Status::InvalidArgument("delay_level: " + std::to_string(msg.delay_level) + " is not in 0..18");
  }
  if (msg.deliver_time_ms < 0) {
    return Status::InvalidArgument("deliver_time_ms: " + std::to_string(msg.deliver_time_ms) +
                                   " is negative (epoch ms, 0 = none)");
  }
  return Status::OK();
}

void ToProto(Message&& msg, std::string unique_key, mq::v1::Message* out) {
  out->set_topic(std::move(msg.topic));
  out->set_tags(std::move(msg.tags));
  for (auto& k : msg.keys) out->add_keys(std::move(k));
  out->set_body(std::move(msg.body));
  for (auto& [k, v] : msg.properties) (*out->mutable_user_properties())[k] = std::move(v);
  out->set_delay_level(msg.delay_level);
  out->set_deliver_time_ms(msg.deliver_time_ms);
  out->set_unique_key(std::move(unique_key));
  out->set_born_timestamp(WallMillis());
}

void ToProto(const Message& msg, const std::string& unique_key, mq::v1::Message* out) {
  ToProto(Message(msg), unique_key, out);
}

ReceivedMessage FromProto(const mq::v1::MessageExt& ext) { return FromProto(mq::v1::MessageExt(ext)); }

ReceivedMessage FromProto(mq::v1::MessageExt&& ext) {
  ReceivedMessage r;
  auto& m = *ext.mutable_message();
  r.message.topic = m.topic();
  r.message.tags = std::move(*m.mutable_tags());
  r.message.keys.reserve(static_cast<size_t>(m.keys_size()));
  for (auto& k : *m.mutable_keys()) r.message.keys.push_back(std::move(k));
  r.message.body = std::move(*m.mutable_body());
  for (auto& [k, v] : *m.mutable_user_properties()) r.message.properties.emplace(k, std::move(v));
  r.message.delay_level = m.delay_level();
  r.msg_id = ext.msg_id().empty() ? m.unique_key() : ext.msg_id();
  r.offset_msg_id = ext.offset_msg_id();
  r.queue = MessageQueue{m.topic(), ext.broker_name(), ext.queue_id()};
  r.queue_offset = ext.queue_offset();
  r.born_timestamp_ms = m.born_timestamp();
  r.store_timestamp_ms = ext.store_timestamp();
  r.reconsume_times = m.reconsume_times();
  r.system_properties.insert(ext.system_properties().begin(), ext.system_properties().end());
  return r;
}

namespace {

// Refills a property map with the pairs Insert() is given, reusing up to kReused of the nodes
// (and the key and value buffers in them) the map held before; the rest are freed.
class PropertyRefill {
 public:
  using Map = std::map<std::string, std::string>;
  explicit PropertyRefill(Map* map) : map_(map) {
    while (!map_->empty() && spare_count_ < kReused) spare_[spare_count_++] = map_->extract(map_->begin());
    map_->clear();
  }
  // Adds key = value unless key is there already (the first value stays); whether it was added.
  bool Insert(std::string_view key, std::string_view value) {
    if (spare_count_ == 0) return map_->emplace(key, value).second;
    Map::node_type& node = spare_[--spare_count_];
    node.key().assign(key);
    node.mapped().assign(value);
    auto inserted = map_->insert(std::move(node));
    if (!inserted.inserted) spare_[spare_count_++] = std::move(inserted.node);
    return inserted.inserted;
  }

 private:
  static constexpr int kReused = 8;
  Map* map_;
  Map::node_type spare_[kReused];
  int spare_count_ = 0;
};

// `s` = `value`, in its own buffer unless that is much larger than needed (a consumed message's
// buffers are reused for the next one, and one huge body must not pin its memory for good).
void AssignReusing(std::string_view value, std::string* s) {
  if (s->capacity() > std::max<size_t>(2 * value.size(), 4096)) {
    std::string(value).swap(*s);
  } else {
    s->assign(value);
  }
}

// The ReceivedMessage of a stored record, into *r: the same fields the broker's MessageExt
// carries (TAGS, KEYS and UNIQ_KEY read from the system properties, every other key a user
// property; a repeated key keeps its first value). *r may hold an earlier message (a consumed one
// handed back for reuse): every field is overwritten, and its buffers and property nodes reused.
void FromRecord(const record::RecordView& v, const std::string& broker_name, ReceivedMessage* r) {
  Message& m = r->message;
  AssignReusing(v.topic, &m.topic);
  AssignReusing(v.body, &m.body);
  m.tags.clear();
  m.keys.clear();
  m.delay_level = 0;
  m.deliver_time_ms = 0;
  r->msg_id.clear();
  PropertyRefill user(&m.properties);
  PropertyRefill system(&r->system_properties);
  record::ForEachProperty(v.properties, [&](std::string_view key, std::string_view value) {
    if (!record::IsSystemPropertyKey(key)) {
      user.Insert(key, value);
      return;
    }
    if (!system.Insert(key, value)) return;
    if (key == record::kPropertyTags) {
      m.tags.assign(value);
    } else if (key == record::kPropertyUniqKey) {
      r->msg_id.assign(value);
    } else if (key == record::kPropertyKeys) {
      record::ForEachKey(value, [&m](std::string_view k) { m.keys.emplace_back(k); });
    }
  });
  r->offset_msg_id.resize(record::kOffsetMessageIdLength);
  record::WriteOffsetMessageId(v.store_host, v.physical_offset, r->offset_msg_id.data());
  r->queue.topic.assign(m.topic);
  r->queue.broker_name.assign(broker_name);
  r->queue.queue_id = v.queue_id;
  r->queue_offset = v.queue_offset;
  r->born_timestamp_ms = v.born_timestamp;
  r->store_timestamp_ms = v.store_timestamp;
  r->reconsume_times = v.reconsume_times;
}

}  // namespace

Status DecodePulledMessages(const PullReplyView& reply, const std::string& broker_name,
                            const std::function<ReceivedMessage*(int64_t queue_offset)>& slot) {
  if (!reply.records.empty()) {
    // The broker checked each record's structure; the CRCs are not verified here, as the
    // broker does not when it converts records for older clients.
    Status s = record::ForEachRecord(reply.records, /*verify_crc=*/false, [&](const record::RecordView& v) {
      if (ReceivedMessage* r = slot(v.queue_offset)) FromRecord(v, broker_name, r);
    });
    return s.ok() ? s : s.WithContext("pull reply from broker " + broker_name);
  }
  if (reply.messages_from == nullptr) return Status::OK();
  for (auto& ext : *reply.messages_from->mutable_messages()) {
    ReceivedMessage* r = slot(ext.queue_offset());
    if (r == nullptr) continue;
    *r = FromProto(std::move(ext));
    if (r->queue.broker_name.empty()) r->queue.broker_name = broker_name;
  }
  return Status::OK();
}

Result<std::vector<ReceivedMessage>> TakePulledMessages(const PullReplyView& reply,
                                                        const std::string& broker_name) {
  std::vector<ReceivedMessage> out;
  // Sized first: growing moves every message decoded so far.
  out.reserve(reply.messages_from != nullptr ? static_cast<size_t>(reply.messages_from->messages_size())
                                             : record::CountRecords(reply.records));
  MQ_RETURN_IF_ERROR(
      DecodePulledMessages(reply, broker_name, [&out](int64_t) { return &out.emplace_back(); }));
  return out;
}

Result<std::vector<ReceivedMessage>> TakePulledMessages(mq::v1::PullMessageResponse* reply,
                                                        const std::string& broker_name) {
  return TakePulledMessages(PullReplyViewOf(reply), broker_name);
}

bool IsScheduled(const Message& msg) {
  if (msg.deliver_time_ms != 0) return true;
  if (msg.properties.empty()) return false;
  // Strings made once: a lookup by `const char*` would build (and allocate) a key per call, and
  // this runs for every message sent.
  static const std::string kTimerKeys[] = {"TIMER_DELIVER_MS", "__STARTDELIVERTIME", "TIMER_DELAY_SEC",
                                           "TIMER_DELAY_MS"};
  for (const std::string& key : kTimerKeys) {
    if (msg.properties.count(key) > 0) return true;
  }
  return false;
}

Result<std::string> RecallHandleBroker(const std::string& handle) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  if (handle.empty() || handle.size() > 1024) return Status::InvalidArgument("handle: empty or too long");
  std::string text;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : handle) {
    if (c == '=') break;
    size_t v = kAlphabet.find(c);
    if (v == std::string_view::npos) return Status::InvalidArgument("handle: not base64url");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      text += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  // "v1 <topic> <broker> <deliverMs> <msgId>"
  size_t a = text.find(' ');
  size_t b = a == std::string::npos ? a : text.find(' ', a + 1);
  size_t c = b == std::string::npos ? b : text.find(' ', b + 1);
  if (text.rfind("v1 ", 0) != 0 || c == std::string::npos || c == b + 1) {
    return Status::InvalidArgument("handle: not a recall handle (SendResult::recall_handle)");
  }
  return text.substr(b + 1, c - b - 1);
}

mq::v1::QueueRef ToQueueRef(const MessageQueue& q) {
  mq::v1::QueueRef ref;
  ref.set_topic(q.topic);
  ref.set_queue_id(q.queue_id);
  return ref;
}

}  // namespace mq::client
