#include "message_util.h"

#include <fmt/format.h>

#include <map>

namespace mq::admin {

Result<OffsetMsgId> DecodeOffsetMsgId(const std::string& id) {
  if (id.size() != 32) {
    return Status::InvalidArgument(
        fmt::format("msgId: '{}' is not a 32 hex character offset message id", id));
  }
  uint8_t bytes[16];
  for (size_t i = 0; i < 16; ++i) {
    auto nibble = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    int hi = nibble(id[2 * i]);
    int lo = nibble(id[2 * i + 1]);
    if (hi < 0 || lo < 0) return Status::InvalidArgument(fmt::format("msgId: '{}' is not hexadecimal", id));
    bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  uint32_t port = 0;
  for (int i = 4; i < 8; ++i) port = port << 8 | bytes[i];
  if (port == 0 || port > 65535) {
    return Status::InvalidArgument(fmt::format("msgId: '{}' does not hold a store host port", id));
  }
  uint64_t offset = 0;
  for (int i = 8; i < 16; ++i) offset = offset << 8 | bytes[i];
  OffsetMsgId out;
  out.broker_addr = fmt::format("{}.{}.{}.{}:{}", bytes[0], bytes[1], bytes[2], bytes[3], port);
  out.commit_log_offset = static_cast<int64_t>(offset);
  return out;
}

std::string JoinKeys(const mq::v1::Message& m) {
  std::string keys;
  for (const auto& k : m.keys()) keys += (keys.empty() ? "" : " ") + k;
  return keys;
}

Json MessageToJson(const mq::v1::MessageExt& m, bool detailed) {
  const auto& msg = m.message();
  Json j = Json::Object();
  j.Set("msgId", m.msg_id())
      .Set("offsetMsgId", m.offset_msg_id())
      .Set("topic", msg.topic())
      .Set("tags", msg.tags())
      .Set("keys", JoinKeys(msg))
      .Set("brokerName", m.broker_name())
      .Set("queueId", m.queue_id())
      .Set("queueOffset", m.queue_offset())
      .Set("bornTimestamp", msg.born_timestamp())
      .Set("storeTimestamp", m.store_timestamp())
      .Set("body", msg.body());
  if (detailed) {
    Json props = Json::Object();
    std::map<std::string, std::string> sorted(msg.user_properties().begin(), msg.user_properties().end());
    for (const auto& [k, v] : sorted) props.Set(k, v);
    j.Set("commitLogOffset", m.commit_log_offset())
        .Set("storeHost", m.store_host())
        .Set("bornHost", msg.born_host())
        .Set("storeSize", m.store_size())
        .Set("sysFlag", m.sys_flag())
        .Set("bodyCrc", m.body_crc())
        .Set("reconsumeTimes", msg.reconsume_times())
        .Set("properties", std::move(props));
  }
  return j;
}

void PrintMessageDetail(const mq::v1::MessageExt& m, std::ostream& out) {
  const auto& msg = m.message();
  std::string props;
  std::map<std::string, std::string> sorted(msg.user_properties().begin(), msg.user_properties().end());
  for (const auto& [k, v] : sorted) props += fmt::format("{}{}={}", props.empty() ? "" : ", ", k, v);
  auto line = [&](const char* name, const std::string& value) {
    out << fmt::format("{:<21}{}\n", name, value);
  };
  line("OffsetID:", m.offset_msg_id());
  line("MsgId:", m.msg_id());
  line("Topic:", msg.topic());
  line("Tags:", fmt::format("[{}]", msg.tags()));
  line("Keys:", fmt::format("[{}]", JoinKeys(msg)));
  line("Broker Name:", m.broker_name());
  line("Queue ID:", std::to_string(m.queue_id()));
  line("Queue Offset:", std::to_string(m.queue_offset()));
  line("CommitLog Offset:", std::to_string(m.commit_log_offset()));
  line("Reconsume Times:", std::to_string(msg.reconsume_times()));
  line("Born Timestamp:", FormatTime(msg.born_timestamp()));
  line("Store Timestamp:", FormatTime(m.store_timestamp()));
  line("Born Host:", msg.born_host());
  line("Store Host:", m.store_host());
  line("System Flag:", std::to_string(m.sys_flag()));
  line("Properties:", fmt::format("{{{}}}", props));
  line("Message Body:", msg.body());
}

}  // namespace mq::admin
