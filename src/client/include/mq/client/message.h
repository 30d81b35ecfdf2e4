// Message (what a producer sends) and ReceivedMessage (what a consumer gets), plus the
// MessageQueue address. Plain value types, thread-compatible.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace mq::client {

struct Message {
  std::string topic;
  std::string tags;                               // one tag, e.g. "TagA"; empty = none
  std::vector<std::string> keys;                  // indexed keys (queryable by admin tools)
  std::string body;                               // 1 byte .. ProducerOptions::max_body_bytes
  std::map<std::string, std::string> properties;  // user properties
  // RocketMQ delay level (1..18 with the default messageDelayLevel); 0 = none. The broker keeps
  // the message in SCHEDULE_TOPIC_XXXX and delivers it to `topic` once the level's delay has
  // passed (a level above the broker's table is clamped to its last level). Single sends only.
  int32_t delay_level = 0;
  // Scheduled delivery (RocketMQ 5 delivery timestamp), epoch ms; 0 = none, a past time =
  // at once. The broker holds the message until then (never early, about a second late at
  // most) and refuses times beyond its timerMaxDelaySec (3 days by default). A scheduled
  // message is sent alone (never auto-batched); SendResult::recall_handle can cancel it.
  int64_t deliver_time_ms = 0;
};

// Convenience constructor (designated initializers that skip members trip -Wextra).
inline Message MakeMessage(std::string topic, std::string body, std::string tags = "") {
  Message m;
  m.topic = std::move(topic);
  m.body = std::move(body);
  m.tags = std::move(tags);
  return m;
}

struct MessageQueue {
  std::string topic;
  std::string broker_name;
  int32_t queue_id = 0;

  std::string ToString() const { return topic + "@" + broker_name + "#" + std::to_string(queue_id); }
  friend bool operator<(const MessageQueue& a, const MessageQueue& b) {
    return std::tie(a.topic, a.broker_name, a.queue_id) < std::tie(b.topic, b.broker_name, b.queue_id);
  }
  friend bool operator==(const MessageQueue& a, const MessageQueue& b) {
    return a.topic == b.topic && a.broker_name == b.broker_name && a.queue_id == b.queue_id;
  }
};

struct ReceivedMessage {
  Message message;
  std::string msg_id;         // unique key set by the producer (stable across retries)
  std::string offset_msg_id;  // store host + commit log offset
  MessageQueue queue;
  int64_t queue_offset = 0;
  int64_t born_timestamp_ms = 0;
  int64_t store_timestamp_ms = 0;
  // How often the message was already consumed and failed: the stored count (the broker adds
  // one per send-back to %RETRY%<group>), plus local retries (orderly consumers, or a failed
  // send-back). A message from the retry topic has `message.topic` restored to the original
  // topic (RETRY_TOPIC) while `queue` names the %RETRY%<group> queue it was read from.
  int32_t reconsume_times = 0;
  // Properties the broker or client set (RECONSUME_TIME, MAX_RECONSUME_TIMES, RETRY_TOPIC,
  // ORIGIN_MESSAGE_ID, REAL_TOPIC, DELAY, ...); user properties are in message.properties.
  std::map<std::string, std::string> system_properties;
};

}  // namespace mq::client
