#include "broker/v2/send_convert.h"

#include <fmt/format.h>

#include "broker/processor/message_convert.h"
#include "broker/v2/call_context.h"
#include "broker/v2/proto_time.h"
#include "broker/v2/v2_status.h"
#include "common/digest.h"
#include "common/naming.h"

namespace mq::broker::v2 {
namespace pb = apache::rocketmq::v2;
namespace {

constexpr char kShardingKey[] = "__SHARDINGKEY";
constexpr char kTimerDeliverMs[] = "TIMER_DELIVER_MS";
constexpr char kTranMsg[] = "TRAN_MSG";
constexpr char kTimerOutMs[] = "TIMER_OUT_MS";
constexpr char kStartDeliverTime[] = "__STARTDELIVERTIME";
constexpr char kDelayLevel[] = "DELAY";

bool IsBlank(std::string_view s) { return s.find_first_not_of(" \t\r\n") == std::string_view::npos; }

void SetMillis(int64_t ms, google::protobuf::Timestamp* t) {
  t->set_seconds(ms / 1000);
  t->set_nanos(static_cast<int32_t>(ms % 1000) * 1000000);
}

pb::Status Fail(pb::Code code, std::string message) { return MakeStatus(code, std::move(message)); }

// The type the message's fields imply, for a client that did not say.
pb::MessageType ImpliedType(const pb::SystemProperties& sp) {
  if (sp.has_message_group()) return pb::MessageType::FIFO;
  if (sp.has_delivery_timestamp()) return pb::MessageType::DELAY;
  return pb::MessageType::NORMAL;
}

pb::Status CheckTypeFields(const pb::SystemProperties& sp, pb::MessageType type, std::string_view field) {
  const bool group = sp.has_message_group();
  const bool delay = sp.has_delivery_timestamp();
  const std::string name = pb::MessageType_Name(type);
  switch (type) {
    case pb::MessageType::FIFO:
      if (!group)
        return Fail(pb::Code::MESSAGE_PROPERTY_CONFLICT_WITH_TYPE,
                    fmt::format("{}.system_properties.message_group: required for a FIFO message", field));
      break;
    case pb::MessageType::DELAY:
      if (!delay)
        return Fail(
            pb::Code::MESSAGE_PROPERTY_CONFLICT_WITH_TYPE,
            fmt::format("{}.system_properties.delivery_timestamp: required for a DELAY message", field));
      break;
    case pb::MessageType::NORMAL:
    case pb::MessageType::TRANSACTION:
      break;
    default:
      return Fail(pb::Code::UNSUPPORTED, fmt::format("{}.system_properties.message_type: {} is not supported "
                                                     "by this broker (NORMAL, FIFO, DELAY, TRANSACTION are)",
                                                     field, name));
  }
  if (group && type != pb::MessageType::FIFO) {
    return Fail(
        pb::Code::MESSAGE_PROPERTY_CONFLICT_WITH_TYPE,
        fmt::format("{}.system_properties.message_group: only a FIFO message has one, not {}", field, name));
  }
  if (delay && type != pb::MessageType::DELAY) {
    return Fail(pb::Code::MESSAGE_PROPERTY_CONFLICT_WITH_TYPE,
                fmt::format("{}.system_properties.delivery_timestamp: only a DELAY message has one, not {}",
                            field, name));
  }
  return MakeStatus(pb::Code::OK, "OK");
}

}  // namespace

pb::Status ToV1Send(const pb::Message& message, std::string_view field, const std::string& stored_topic,
                    const SendLimits& limits, int64_t now_ms, const std::string& born_host, V1Send* out) {
  const pb::SystemProperties& sp = message.system_properties();
  if (Status s = ValidateName("topic", stored_topic); !s.ok()) {
    return Fail(pb::Code::ILLEGAL_TOPIC, fmt::format("{}.topic: {}", field, s.message()));
  }
  if (sp.message_id().empty()) {
    return Fail(pb::Code::ILLEGAL_MESSAGE_ID,
                fmt::format("{}.system_properties.message_id: required", field));
  }
  if (Status s = ValidateMessageId(fmt::format("{}.system_properties.message_id", field), sp.message_id());
      !s.ok()) {
    return Fail(pb::Code::ILLEGAL_MESSAGE_ID, s.message());
  }
  if (message.body().empty()) {
    return Fail(pb::Code::MESSAGE_BODY_EMPTY, fmt::format("{}.body: must not be empty", field));
  }
  if (static_cast<int64_t>(message.body().size()) > limits.max_body_size) {
    return Fail(pb::Code::MESSAGE_BODY_TOO_LARGE,
                fmt::format("{}.body: {} bytes exceed maxMessageSize {}", field, message.body().size(),
                            limits.max_body_size));
  }
  if (sp.has_tag() &&
      (IsBlank(sp.tag()) || sp.tag().find('|') != std::string::npos || HasControlChar(sp.tag()))) {
    return Fail(pb::Code::ILLEGAL_MESSAGE_TAG,
                fmt::format("{}.system_properties.tag: '{}' is blank or has '|' or control characters", field,
                            sp.tag()));
  }
  for (int i = 0; i < sp.keys_size(); ++i) {
    if (IsBlank(sp.keys(i)) || HasControlChar(sp.keys(i))) {
      return Fail(pb::Code::ILLEGAL_MESSAGE_KEY,
                  fmt::format("{}.system_properties.keys[{}]: blank or has control characters", field, i));
    }
  }
  if (sp.has_message_group() && (IsBlank(sp.message_group()) || HasControlChar(sp.message_group()) ||
                                 sp.message_group().size() > limits.max_message_group_bytes)) {
    return Fail(
        pb::Code::ILLEGAL_MESSAGE_GROUP,
        fmt::format("{}.system_properties.message_group: blank, has control characters or exceeds {} bytes",
                    field, limits.max_message_group_bytes));
  }
  if (static_cast<size_t>(message.user_properties_size()) > limits.max_user_properties) {
    return Fail(pb::Code::MESSAGE_PROPERTIES_TOO_LARGE,
                fmt::format("{}.user_properties: {} properties exceed {}", field,
                            message.user_properties_size(), limits.max_user_properties));
  }
  size_t property_bytes = 0;
  for (const auto& [k, v] : message.user_properties()) {
    if (k.empty() || IsReservedPropertyKey(k) || HasControlChar(k)) {
      return Fail(
          pb::Code::ILLEGAL_MESSAGE_PROPERTY_KEY,
          fmt::format("{}.user_properties: key '{}' is empty, reserved by RocketMQ or has control characters",
                      field, k));
    }
    property_bytes += k.size() + v.size();
  }
  if (property_bytes > limits.max_user_properties_bytes) {
    return Fail(pb::Code::MESSAGE_PROPERTIES_TOO_LARGE,
                fmt::format("{}.user_properties: {} bytes exceed {}", field, property_bytes,
                            limits.max_user_properties_bytes));
  }
  pb::MessageType type = sp.message_type();
  if (type == pb::MessageType::MESSAGE_TYPE_UNSPECIFIED) type = ImpliedType(sp);
  if (pb::Status s = CheckTypeFields(sp, type, field); !IsOk(s)) return s;

  out->type = type;
  out->message_id = sp.message_id();
  auto& req = out->request;
  req.set_topic(stored_topic);
  req.set_queue_id(-1);
  auto* m = req.add_messages();
  m->set_topic(stored_topic);
  m->set_body(message.body());
  if (sp.has_tag()) m->set_tags(sp.tag());
  for (const auto& k : sp.keys()) m->add_keys(k);
  for (const auto& [k, v] : message.user_properties()) (*m->mutable_user_properties())[k] = v;
  m->set_unique_key(sp.message_id());
  m->set_born_timestamp(sp.has_born_timestamp() ? SaturatedMillis(sp.born_timestamp()) : now_ms);
  m->set_born_host(born_host);
  if (type == pb::MessageType::FIFO) {
    out->message_group = sp.message_group();
    (*m->mutable_user_properties())[kShardingKey] = sp.message_group();
  }
  if (type == pb::MessageType::DELAY) {
    const int64_t deliver_ms = SaturatedMillis(sp.delivery_timestamp());
    if (deliver_ms > now_ms && deliver_ms - now_ms > limits.max_delay_ms) {
      return Fail(
          pb::Code::ILLEGAL_DELIVERY_TIME,
          fmt::format(
              "{}.system_properties.delivery_timestamp: {} ms ahead exceeds the maximum delay of {} ms",
              field, deliver_ms - now_ms, limits.max_delay_ms));
    }
    // A time already past is delivered at once (the timer treats it as now).
    m->set_deliver_time_ms(std::max<int64_t>(deliver_ms, 1));
  }
  if (type == pb::MessageType::TRANSACTION) {
    // As the RocketMQ proxy does: the producer group of a v2 transaction is its topic.
    req.set_transaction_prepared(true);
    req.set_producer_group(stored_topic);
  }
  return MakeStatus(pb::Code::OK, "OK");
}

int32_t FifoQueue(std::string_view message_group, int32_t write_queue_nums) {
  // FNV-1a: stable across processes and restarts, unlike std::hash.
  uint32_t h = 2166136261u;
  for (unsigned char c : message_group) {
    h ^= c;
    h *= 16777619u;
  }
  return write_queue_nums <= 0 ? 0 : static_cast<int32_t>(h % static_cast<uint32_t>(write_queue_nums));
}

pb::Status SendFailure(const Status& status) {
  const std::string& msg = status.message();
  auto starts = [&](std::string_view prefix) { return msg.rfind(prefix, 0) == 0; };
  switch (status.code()) {
    case StatusCode::kNotFound:
      return Fail(pb::Code::TOPIC_NOT_FOUND, msg);
    case StatusCode::kPermissionDenied:
      return Fail(pb::Code::FORBIDDEN, msg);
    case StatusCode::kResourceExhausted:
      return Fail(pb::Code::TOO_MANY_REQUESTS, msg);
    case StatusCode::kNotSupported:
      return Fail(pb::Code::UNSUPPORTED, msg);
    case StatusCode::kInvalidArgument:
      if (starts("topic")) return Fail(pb::Code::ILLEGAL_TOPIC, msg);
      if (msg.find(".deliver_time_ms") != std::string::npos)
        return Fail(pb::Code::ILLEGAL_DELIVERY_TIME, msg);
      if (msg.find(".body") != std::string::npos) return Fail(pb::Code::MESSAGE_BODY_TOO_LARGE, msg);
      if (msg.find("propert") != std::string::npos) return Fail(pb::Code::MESSAGE_PROPERTIES_TOO_LARGE, msg);
      return Fail(pb::Code::BAD_REQUEST, msg);
    default:
      return Fail(pb::Code::INTERNAL_SERVER_ERROR, msg.empty() ? status.ToString() : msg);
  }
}

pb::Code SendOutcome(mq::v1::SendStatus status) {
  switch (status) {
    case mq::v1::FLUSH_DISK_TIMEOUT:
      return pb::Code::MASTER_PERSISTENCE_TIMEOUT;
    case mq::v1::FLUSH_SLAVE_TIMEOUT:
      return pb::Code::SLAVE_PERSISTENCE_TIMEOUT;
    case mq::v1::SLAVE_NOT_AVAILABLE:
      return pb::Code::HA_NOT_AVAILABLE;
    default:
      return pb::Code::OK;
  }
}

void ToV2Message(const mq::v1::MessageExt& stored, std::string_view ns, pb::Message* out) {
  const mq::v1::Message& m = stored.message();
  out->mutable_topic()->set_resource_namespace(std::string(ns));
  out->mutable_topic()->set_name(BareName(ns, m.topic()));
  for (const auto& [k, v] : m.user_properties()) {
    if (!IsReservedPropertyKey(k)) (*out->mutable_user_properties())[k] = v;
  }
  out->set_body(m.body());
  auto* sp = out->mutable_system_properties();
  if (!m.tags().empty()) sp->set_tag(m.tags());
  for (const auto& k : m.keys()) sp->add_keys(k);
  // A message stored without UNIQ_KEY (a v1 producer that set none) is named by its offset id.
  sp->set_message_id(stored.msg_id().empty() ? stored.offset_msg_id() : stored.msg_id());
  sp->mutable_body_digest()->set_type(pb::DigestType::MD5);
  sp->mutable_body_digest()->set_checksum(Md5UpperHex(m.body()));
  sp->set_body_encoding(pb::Encoding::IDENTITY);
  // v1 keeps some reserved keys (the timer's, for one) among the user properties: look in both.
  auto prop = [&](const char* key) -> const std::string* {
    if (auto it = stored.system_properties().find(key); it != stored.system_properties().end())
      return &it->second;
    if (auto it = m.user_properties().find(key); it != m.user_properties().end()) return &it->second;
    return nullptr;
  };
  const std::string* group = prop(kShardingKey);
  const std::string* tran = prop(kTranMsg);
  // The delivery time as the sender asked (TIMER_DELIVER_MS / __STARTDELIVERTIME) or as the
  // timer stamped it when it parked the message (TIMER_OUT_MS; the re-put keeps only that).
  int64_t deliver_ms = 0;
  for (const char* key : {kTimerDeliverMs, kTimerOutMs, kStartDeliverTime}) {
    const std::string* value = prop(key);
    if (value == nullptr || deliver_ms > 0) continue;
    char* end = nullptr;
    const long long ms = std::strtoll(value->c_str(), &end, 10);
    if (end != value->c_str() && *end == '\0' && ms > 0) deliver_ms = ms;
  }
  const bool delay_level = prop(kDelayLevel) != nullptr;
  if (tran != nullptr && *tran == "true") {
    sp->set_message_type(pb::MessageType::TRANSACTION);
  } else if (group != nullptr) {
    sp->set_message_type(pb::MessageType::FIFO);
  } else if (deliver_ms > 0 || delay_level) {
    sp->set_message_type(pb::MessageType::DELAY);
  } else {
    sp->set_message_type(pb::MessageType::NORMAL);
  }
  if (group != nullptr) sp->set_message_group(*group);
  if (deliver_ms > 0) SetMillis(deliver_ms, sp->mutable_delivery_timestamp());
  SetMillis(m.born_timestamp(), sp->mutable_born_timestamp());
  // The SDKs show the born host as an address without a port (the proxy's getBornHostString).
  const std::string& born = m.born_host();
  const size_t colon = born.rfind(':');
  sp->set_born_host(colon == std::string::npos ? born : born.substr(0, colon));
  SetMillis(stored.store_timestamp(), sp->mutable_store_timestamp());
  sp->set_store_host(stored.store_host());
  sp->set_queue_id(stored.queue_id());
  sp->set_queue_offset(stored.queue_offset());
  sp->set_delivery_attempt(m.reconsume_times() < INT32_MAX ? m.reconsume_times() + 1 : INT32_MAX);
}

}  // namespace mq::broker::v2
