// SendResult: what a successful send returns. Plain value type.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "mq/client/message.h"

namespace mq::client {

// Mirrors RocketMQ SendStatus. Anything other than kSendOk means the broker stored the message
// but durability (disk flush or slave copy) was not confirmed in time.
enum class SendStatus { kSendOk, kFlushDiskTimeout, kFlushSlaveTimeout, kSlaveNotAvailable };

struct SendResult {
  SendStatus status = SendStatus::kSendOk;
  std::string msg_id;         // unique key of the (first) message
  std::string offset_msg_id;  // of the (first) message
  MessageQueue queue;
  int64_t queue_offset = 0;  // of the (first) message
  // One per message for a batch send (size 1 otherwise), in order.
  std::vector<std::string> msg_ids;
  int attempts = 1;  // send attempts used, including retries on other brokers
  // Scheduled messages only: pass to Producer::RecallMessage to cancel the delivery.
  std::string recall_handle;
};

}  // namespace mq::client
