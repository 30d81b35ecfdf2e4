// SendBackProcessor: a consumer's failed message comes back (RocketMQ CONSUMER_SEND_MSG_BACK,
// SendMessageProcessor.consumerSendMsgBack). The broker re-reads the record at the given
// commit log offset and stores a copy:
//   - in a random one of %RETRY%<group>'s retryQueueNums queues (perm RW, auto-created),
//     through the delay level `3 + reconsumeTimes` (or the requested level), with reconsume
//     times + 1, RETRY_TOPIC = the original topic (kept when already set), ORIGIN_MESSAGE_ID,
//     RECONSUME_TIME and MAX_RECONSUME_TIMES; or
//   - once reconsumeTimes >= the limit (the client's max_reconsume_times, or the group's
//     retryMaxTimes when the client sends < 0), or for delay_level < 0, in %DLQ%<group>
//     (1 queue, auto-created READ-only as issue 13 asks; RocketMQ's code makes it RW), at once.
// Like RocketMQ (waitStoreMsgOK=false) the answer does not wait for SYNC_FLUSH / SYNC_MASTER.
// A protocol adapter (RocketMQ 5 gRPC, issue 14) calls the same method.
// Thread-safe and stateless; `done` runs on the store's thread that completes the put.
#pragma once

#include <functional>

#include "broker/broker_context.h"
#include "common/status.h"
#include "mq/v1/broker.pb.h"

namespace mq::broker {

inline constexpr std::string_view kRetryGroupTopicPrefix = "%RETRY%";
inline constexpr std::string_view kDlqGroupTopicPrefix = "%DLQ%";

class SendBackProcessor {
 public:
  using Done = std::function<void(const Status&, const mq::v1::ConsumerSendMsgBackResponse&)>;

  explicit SendBackProcessor(BrokerContext ctx);
  // INVALID_ARGUMENT naming the field for bad input, NOT_FOUND for no message at the offset,
  // PERMISSION_DENIED on a slave or when the retry topic refuses writes.
  void SendBack(const mq::v1::ConsumerSendMsgBackRequest& request, Done done);

 private:
  BrokerContext ctx_;
};

}  // namespace mq::broker
