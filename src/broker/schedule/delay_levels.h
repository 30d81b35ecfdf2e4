// RocketMQ 4.x delay levels (ScheduleMessageService): the `messageDelayLevel` table, the
// SCHEDULE_TOPIC_XXXX system topic a delayed message waits in, and the rewrite of a message
// into that topic. Pure functions and an immutable value type; thread-safe.
//
// A message sent with delay level L (clamped to the table's size, as RocketMQ does) is stored
// in SCHEDULE_TOPIC_XXXX queue L-1 with properties DELAY=L, REAL_TOPIC and REAL_QID; its consume
// queue tags code is its delivery time (store timestamp + delay of L), see DeliverTimestamp().
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "broker/store/message_format.h"
#include "common/result.h"

namespace mq::schedule {

inline constexpr std::string_view kScheduleTopic = "SCHEDULE_TOPIC_XXXX";
inline constexpr std::string_view kPropertyDelay = "DELAY";
inline constexpr std::string_view kPropertyRealTopic = "REAL_TOPIC";
inline constexpr std::string_view kPropertyRealQueueId = "REAL_QID";
inline constexpr std::string_view kDefaultDelayLevels =
    "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h";

class DelayLevels {
 public:
  // Parses "1s 5s 10s ..." (units s, m, h, d; at least one level). InvalidArgument naming
  // `key` and the bad token otherwise.
  static Result<DelayLevels> Parse(std::string_view text, std::string_view key = "messageDelayLevel");

  int32_t max_level() const { return static_cast<int32_t>(millis_.size()); }
  // Level in [1, max_level()] (callers clamp first).
  int64_t DelayMillis(int32_t level) const { return millis_.at(static_cast<size_t>(level - 1)); }
  // RocketMQ clamps a level above the table to the last level.
  int32_t Clamp(int32_t level) const { return level > max_level() ? max_level() : level; }

 private:
  std::vector<int64_t> millis_;
};

// Rewrites `in` (addressed to its real topic/queue) into SCHEDULE_TOPIC_XXXX queue level-1.
// `level` must be in [1, levels.max_level()].
void ToScheduled(int32_t level, store::MessageInput* in);

// The delivery time of a record stored in SCHEDULE_TOPIC_XXXX: store timestamp + the delay of
// its DELAY level (clamped; a record without a valid DELAY is due at its store time).
int64_t DeliverTimestamp(const DelayLevels& levels, const store::RecordView& record);

}  // namespace mq::schedule
