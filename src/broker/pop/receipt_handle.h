// ReceiptHandle: names ONE delivery of one message to one consumer group. Handed to the
// consumer with the message and sent back with Ack / ChangeInvisibleDuration / forward to DLQ.
//
// Text format (version 1), fields separated by one space, all numbers decimal:
//
//   P1 <brokerName> <topic> <queueId> <queueOffset> <epoch> <popTimeMs> <deadlineMs>
//      <commitLogOffset> <crc>
//
// `epoch` is the delivery's identity: the broker gives every delivery and every
// ChangeInvisibleDuration a new, strictly increasing epoch, so a handle of an earlier delivery
// matches nothing (stale). The group is not encoded: the request names it and the epoch only
// matches within that group's state. `crc` is the crc32c (8 hex digits) of everything before
// the last space, so a garbled handle is refused instead of naming another message. Names never
// contain spaces (naming.h), which keeps the split unambiguous.
// Value type; thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace mq::broker::pop {

struct ReceiptHandle {
  std::string broker_name;
  std::string topic;
  int32_t queue_id = 0;
  int64_t queue_offset = 0;
  int64_t epoch = 0;
  int64_t pop_time_ms = 0;
  int64_t deadline_ms = 0;  // invisible until then (informational: the broker's state decides)
  int64_t commit_log_offset = 0;

  std::string Encode() const;
  // InvalidArgument starting with "receipt_handle:" for anything but a well-formed v1 handle.
  static Result<ReceiptHandle> Parse(std::string_view text);
};

}  // namespace mq::broker::pop
