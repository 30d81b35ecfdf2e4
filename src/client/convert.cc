#include "convert.h"

#include "common/clock.h"
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
  return Status::OK();
}

void ToProto(Message&& msg, std::string unique_key, mq::v1::Message* out) {
  out->set_topic(std::move(msg.topic));
  out->set_tags(std::move(msg.tags));
  for (auto& k : msg.keys) out->add_keys(std::move(k));
  out->set_body(std::move(msg.body));
  for (auto& [k, v] : msg.properties) (*out->mutable_user_properties())[k] = std::move(v);
  out->set_delay_level(msg.delay_level);
  out->set_unique_key(std::move(unique_key));
  out->set_born_timestamp(WallMillis());
}

void ToProto(const Message& msg, const std::string& unique_key, mq::v1::Message* out) {
  ToProto(Message(msg), unique_key, out);
}

ReceivedMessage FromProto(const mq::v1::MessageExt& ext) {
  ReceivedMessage r;
  const auto& m = ext.message();
  r.message.topic = m.topic();
  r.message.tags = m.tags();
  r.message.keys.assign(m.keys().begin(), m.keys().end());
  r.message.body = m.body();
  r.message.properties.insert(m.user_properties().begin(), m.user_properties().end());
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

SendResult FromProtoHeader(const mq::v1::SendMessageResponse& resp, const MessageQueue& queue) {
  SendResult r;
  switch (resp.status()) {
    case mq::v1::FLUSH_DISK_TIMEOUT:
      r.status = SendStatus::kFlushDiskTimeout;
      break;
    case mq::v1::FLUSH_SLAVE_TIMEOUT:
      r.status = SendStatus::kFlushSlaveTimeout;
      break;
    case mq::v1::SLAVE_NOT_AVAILABLE:
      r.status = SendStatus::kSlaveNotAvailable;
      break;
    default:
      r.status = SendStatus::kSendOk;
  }
  r.queue = queue;
  if (!resp.broker_name().empty()) r.queue.broker_name = resp.broker_name();
  r.queue.queue_id = resp.queue_id();
  r.queue_offset = resp.queue_offset();
  return r;
}

}  // namespace

SendResult FromProto(const mq::v1::SendMessageResponse& resp, const MessageQueue& queue) {
  SendResult r = FromProtoHeader(resp, queue);
  for (const auto& e : resp.entries()) r.msg_ids.push_back(e.msg_id());
  if (resp.entries_size() > 0) {
    r.msg_id = resp.entries(0).msg_id();
    r.offset_msg_id = resp.entries(0).offset_msg_id();
  }
  return r;
}

std::vector<SendResult> FromProtoPerMessage(const mq::v1::SendMessageResponse& resp,
                                            const MessageQueue& queue, size_t messages) {
  const SendResult header = FromProtoHeader(resp, queue);
  std::vector<SendResult> out(messages, header);
  for (size_t i = 0; i < messages && i < static_cast<size_t>(resp.entries_size()); ++i) {
    const auto& e = resp.entries(static_cast<int>(i));
    out[i].msg_id = e.msg_id();
    out[i].offset_msg_id = e.offset_msg_id();
    out[i].queue_offset = e.queue_offset();
    out[i].msg_ids.push_back(e.msg_id());
  }
  return out;
}

mq::v1::QueueRef ToQueueRef(const MessageQueue& q) {
  mq::v1::QueueRef ref;
  ref.set_topic(q.topic);
  ref.set_queue_id(q.queue_id);
  return ref;
}

}  // namespace mq::client
