// Timer messages (RocketMQ 5 RIP-43 semantics): which properties schedule a message, how a
// scheduled message is parked in the timer topic and restored when due, and the recall
// handle. Pure functions over store::MessageInput / StoredMessage; no I/O, thread-safe.
//
// A message is scheduled when its delivery time is in the future. The time comes from (first
// match wins) Message.deliver_time_ms, TIMER_DELIVER_MS, __STARTDELIVERTIME (absolute epoch
// ms), TIMER_DELAY_MS or TIMER_DELAY_SEC (relative to the broker's clock at send). Parking
// rewrites it to topic rmq_sys_wheel_timer queue 0 with REAL_TOPIC, REAL_QID and TIMER_OUT_MS
// (the delivery time), so the commit log (and replication) carries it like any message.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "broker/store/message_format.h"
#include "common/result.h"

namespace mq::broker::timer {

inline constexpr std::string_view kTimerTopic = "rmq_sys_wheel_timer";
inline constexpr std::string_view kPropDeliverMs = "TIMER_DELIVER_MS";
inline constexpr std::string_view kPropDelaySec = "TIMER_DELAY_SEC";
inline constexpr std::string_view kPropDelayMs = "TIMER_DELAY_MS";
inline constexpr std::string_view kPropStartDeliverTime = "__STARTDELIVERTIME";
inline constexpr std::string_view kPropOutMs = "TIMER_OUT_MS";
inline constexpr std::string_view kPropEnqueueMs = "TIMER_ENQUEUE_MS";
inline constexpr std::string_view kPropDequeueMs = "TIMER_DEQUEUE_MS";
inline constexpr std::string_view kPropDelUniqKey = "TIMER_DEL_UNIQKEY";
inline constexpr std::string_view kPropRealTopic = "REAL_TOPIC";
inline constexpr std::string_view kPropRealQid = "REAL_QID";
// Ours: marks a progress record (see TimerService); its TIMER_OUT_MS is the slot end reached.
inline constexpr std::string_view kPropProgress = "TIMER_PROGRESS";
// Ours, on a progress record: the timer queue offset the master had read up to when it wrote it.
inline constexpr std::string_view kPropProgressEnqueued = "TIMER_PROGRESS_ENQUEUED";

struct TimerPolicy {
  bool enabled = true;             // timerWheelEnable
  int64_t precision_ms = 1000;     // timerPrecisionMs
  int64_t max_delay_sec = 259200;  // timerMaxDelaySec
};

// The requested delivery time of `in` (0 = none). `field_deliver_ms` is the protocol field
// (Message.deliver_time_ms); errors name it as messages[index]. InvalidArgument names the
// field or property that is malformed or beyond timerMaxDelaySec.
Result<int64_t> RequestedDeliverMs(const store::MessageInput& in, int64_t field_deliver_ms, int64_t now_ms,
                                   const TimerPolicy& policy, int index);

// Parks `in` in the timer topic to be delivered at `deliver_ms` (> now).
void ParkInTimerTopic(store::MessageInput* in, int64_t deliver_ms, int64_t now_ms);

// The slot a delivery time belongs to: slot s holds (s, s + precision], so a message is
// delivered once its slot has fully passed — never early, at most one precision late.
inline int64_t SlotOf(int64_t deliver_ms, int64_t precision_ms) {
  const int64_t t = deliver_ms - 1;
  return (t >= 0 ? t / precision_ms : (t - precision_ms + 1) / precision_ms) * precision_ms;
}

// The message to put on its real topic/queue when due (or nullopt-like error when the parked
// record lacks REAL_TOPIC / REAL_QID).
Result<store::MessageInput> RestoreForDelivery(const store::StoredMessage& parked, int64_t now_ms);

// The decimal integer `v` (a property or checkpoint field read back), or `fallback` when it is
// not one.
int64_t ParseI64Or(std::string_view v, int64_t fallback);
// A copy of a parked record (message, recall marker or progress record) to park again.
store::MessageInput CopyParked(const store::StoredMessage& parked);

// Recall handle: base64url("v1 <topic> <brokerName> <deliverMs> <uniqKey>") (RocketMQ 5.3's
// layout, without padding).
struct RecallHandle {
  std::string topic;
  std::string broker_name;
  int64_t deliver_ms = 0;
  std::string uniq_key;
};
std::string EncodeRecallHandle(const RecallHandle& h);
// InvalidArgument naming "handle" when it is not one this broker issued.
Result<RecallHandle> DecodeRecallHandle(std::string_view handle);

// A recall marker: parked in the slot of the recalled message, it cancels that delivery.
store::MessageInput MakeRecallMarker(const RecallHandle& h, int64_t now_ms);
// A progress record: every timer record below queue offset `enqueued` whose slot ends at or
// before `progress_ms` has been delivered.
store::MessageInput MakeProgressRecord(int64_t progress_ms, int64_t enqueued, int64_t now_ms);

}  // namespace mq::broker::timer
