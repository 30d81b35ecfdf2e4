#include "broker/timer/timer_message.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "common/message_id.h"
#include "common/naming.h"

namespace mq::broker::timer {
namespace {

constexpr std::string_view kBase64Url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

Result<int64_t> ParseInt(std::string_view field, std::string_view value) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (value.empty() || ec != std::errc() || ptr != value.data() + value.size()) {
    return Status::InvalidArgument(fmt::format("{}: '{}' is not an integer", field, value));
  }
  return v;
}

std::string Base64UrlEncode(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kBase64Url[(acc >> bits) & 0x3F];
    }
  }
  if (bits > 0) out += kBase64Url[(acc << (6 - bits)) & 0x3F];
  return out;
}

Result<std::string> Base64UrlDecode(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    size_t v = kBase64Url.find(c);
    if (v == std::string_view::npos) return Status::InvalidArgument("handle: not base64url");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

}  // namespace

Result<int64_t> RequestedDeliverMs(const store::MessageInput& in, int64_t field_deliver_ms, int64_t now_ms,
                                   const TimerPolicy& policy, int index) {
  // Most messages carry no schedule: answer them without formatting anything.
  if (field_deliver_ms == 0 && in.properties.count(std::string(kPropDeliverMs)) == 0 &&
      in.properties.count(std::string(kPropStartDeliverTime)) == 0 &&
      in.properties.count(std::string(kPropDelayMs)) == 0 &&
      in.properties.count(std::string(kPropDelaySec)) == 0) {
    return int64_t{0};
  }
  const std::string field = fmt::format("messages[{}]", index);
  int64_t deliver_ms = 0;
  std::string source;
  auto prop = [&](std::string_view key) -> const std::string* {
    auto it = in.properties.find(std::string(key));
    return it == in.properties.end() ? nullptr : &it->second;
  };
  if (field_deliver_ms < 0) {
    return Status::InvalidArgument(
        fmt::format("{}.deliver_time_ms: {} is negative (epoch ms, 0 = none)", field, field_deliver_ms));
  }
  if (field_deliver_ms > 0) {
    deliver_ms = field_deliver_ms;
    source = fmt::format("{}.deliver_time_ms", field);
  } else {
    for (std::string_view key : {kPropDeliverMs, kPropStartDeliverTime}) {
      if (const std::string* v = prop(key)) {
        source = fmt::format("{}.properties[{}]", field, key);
        MQ_ASSIGN_OR_RETURN(deliver_ms, ParseInt(source, *v));
        break;
      }
    }
    if (source.empty()) {
      for (auto [key, unit] :
           {std::pair{kPropDelayMs, int64_t{1}}, std::pair{kPropDelaySec, int64_t{1000}}}) {
        if (const std::string* v = prop(key)) {
          source = fmt::format("{}.properties[{}]", field, key);
          MQ_ASSIGN_OR_RETURN(int64_t delay, ParseInt(source, *v));
          if (delay < 0 || delay > INT64_MAX / 1000 / unit) {
            return Status::InvalidArgument(fmt::format("{}: {} is out of range", source, delay));
          }
          deliver_ms = now_ms + delay * unit;
          break;
        }
      }
    }
  }
  if (source.empty() || deliver_ms <= now_ms) return int64_t{0};  // none, or due: deliver now
  if (!policy.enabled) {
    return Status::NotSupported(
        fmt::format("{}: scheduled delivery needs timerWheelEnable=true on this broker", source));
  }
  // Seconds compared as int64 (RocketMQ #5376 overflowed timerMaxDelaySec * 1000 as an int).
  if ((deliver_ms - now_ms) / 1000 > policy.max_delay_sec ||
      deliver_ms - now_ms > policy.max_delay_sec * 1000) {
    return Status::InvalidArgument(
        fmt::format("{}: {} is {} ms ahead of the broker clock, beyond timerMaxDelaySec={} ({} ms)", source,
                    deliver_ms, deliver_ms - now_ms, policy.max_delay_sec, policy.max_delay_sec * 1000));
  }
  return deliver_ms;
}

void ParkInTimerTopic(store::MessageInput* in, int64_t deliver_ms, int64_t now_ms) {
  in->properties[std::string(kPropRealTopic)] = in->topic;
  in->properties[std::string(kPropRealQid)] = std::to_string(in->queue_id);
  in->properties[std::string(kPropOutMs)] = std::to_string(deliver_ms);
  in->properties[std::string(kPropEnqueueMs)] = std::to_string(now_ms);
  // A relative delay is spent now: a delivered copy sent again (send-back, resend) must not
  // be delayed once more. TIMER_OUT_MS keeps the absolute time.
  in->properties.erase(std::string(kPropDelaySec));
  in->properties.erase(std::string(kPropDelayMs));
  // These mark the timer's own records (progress, recall markers) or are set at delivery: a
  // client's copy would make this message one of those.
  for (auto key : {kPropProgress, kPropProgressEnqueued, kPropDelUniqKey, kPropDequeueMs})
    in->properties.erase(std::string(key));
  // The delivered copy trades REAL_TOPIC and REAL_QID for TIMER_DEQUEUE_MS: up to 7 bytes more
  // for a short topic name.
  in->reserve_bytes += 32;
  in->topic = std::string(kTimerTopic);
  in->queue_id = 0;
}

store::MessageInput CopyParked(const store::StoredMessage& parked) {
  store::MessageInput in;
  in.topic = parked.topic;
  in.queue_id = parked.header.queue_id;
  in.flag = parked.header.flag;
  in.body = parked.body;
  in.properties = parked.properties;
  in.sys_flag = parked.header.sys_flag;
  in.born_timestamp = parked.header.born_timestamp;
  in.born_host = parked.header.born_host;
  in.reconsume_times = parked.header.reconsume_times;
  in.prepared_transaction_offset = parked.header.prepared_transaction_offset;
  return in;
}

Result<store::MessageInput> RestoreForDelivery(const store::StoredMessage& parked, int64_t now_ms) {
  store::MessageInput in = CopyParked(parked);
  auto topic = in.properties.find(std::string(kPropRealTopic));
  auto qid = in.properties.find(std::string(kPropRealQid));
  if (topic == in.properties.end() || qid == in.properties.end()) {
    return Status::Corruption(
        fmt::format("timer message at offset {} lacks REAL_TOPIC/REAL_QID", parked.header.physical_offset));
  }
  MQ_ASSIGN_OR_RETURN(int64_t queue_id, ParseInt("REAL_QID", qid->second));
  in.topic = topic->second;
  in.queue_id = static_cast<int32_t>(queue_id);
  in.properties.erase(topic);
  in.properties.erase(qid);
  in.properties[std::string(kPropDequeueMs)] = std::to_string(now_ms);
  return in;
}

std::string EncodeRecallHandle(const RecallHandle& h) {
  return Base64UrlEncode(fmt::format("v1 {} {} {} {}", h.topic, h.broker_name, h.deliver_ms, h.uniq_key));
}

Result<RecallHandle> DecodeRecallHandle(std::string_view handle) {
  if (handle.empty()) return Status::InvalidArgument("handle: must not be empty");
  if (handle.size() > 1024) return Status::InvalidArgument("handle: longer than 1024 characters");
  MQ_ASSIGN_OR_RETURN(std::string text, Base64UrlDecode(handle));
  // The key is the last field and the rest of the text: a client may choose one with spaces.
  std::string_view rest = text;
  std::string_view parts[4];
  for (auto& part : parts) {
    const size_t sp = rest.find(' ');
    if (sp == std::string_view::npos) {
      return Status::InvalidArgument("handle: not a recall handle issued by a broker (expected 5 fields)");
    }
    part = rest.substr(0, sp);
    rest.remove_prefix(sp + 1);
  }
  if (parts[0] != "v1") {
    return Status::InvalidArgument(fmt::format("handle: unknown version '{}' (expected v1)", parts[0]));
  }
  RecallHandle h;
  h.topic = std::string(parts[1]);
  h.broker_name = std::string(parts[2]);
  MQ_ASSIGN_OR_RETURN(h.deliver_ms, ParseInt("handle.deliver_ms", parts[3]));
  h.uniq_key = std::string(rest);
  if (h.topic.empty() || h.broker_name.empty() || h.uniq_key.empty() || h.deliver_ms <= 0) {
    return Status::InvalidArgument("handle: a field is empty or the delivery time is not positive");
  }
  // Fields come back to the caller (the key as a response's message id, a protobuf string that
  // must be UTF-8): only what a broker issues passes, so a damaged handle is refused here.
  MQ_RETURN_IF_ERROR(ValidateName("handle.topic", h.topic));
  MQ_RETURN_IF_ERROR(ValidateName("handle.broker_name", h.broker_name));
  MQ_RETURN_IF_ERROR(ValidateMessageId("handle.uniq_key", h.uniq_key));
  return h;
}

store::MessageInput MakeRecallMarker(const RecallHandle& h, int64_t now_ms) {
  store::MessageInput in;
  in.topic = std::string(kTimerTopic);
  in.queue_id = 0;
  in.body = "recall";
  in.properties[std::string(kPropOutMs)] = std::to_string(h.deliver_ms);
  in.properties[std::string(kPropDelUniqKey)] = h.uniq_key;
  in.properties[std::string(kPropRealTopic)] = h.topic;
  in.properties[std::string(store::kPropertyUniqKey)] = NewUniqueMessageId();
  in.born_timestamp = now_ms;
  return in;
}

store::MessageInput MakeProgressRecord(int64_t progress_ms, int64_t enqueued, int64_t now_ms) {
  store::MessageInput in;
  in.topic = std::string(kTimerTopic);
  in.queue_id = 0;
  in.body = "progress";
  in.properties[std::string(kPropOutMs)] = std::to_string(progress_ms);
  in.properties[std::string(kPropProgress)] = "1";
  in.properties[std::string(kPropProgressEnqueued)] = std::to_string(enqueued);
  in.properties[std::string(store::kPropertyUniqKey)] = NewUniqueMessageId();
  in.born_timestamp = now_ms;
  return in;
}

int64_t ParseI64Or(std::string_view v, int64_t fallback) {
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  return (v.empty() || ec != std::errc() || ptr != v.data() + v.size()) ? fallback : out;
}

}  // namespace mq::broker::timer
