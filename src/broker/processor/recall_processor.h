// RecallProcessor: RocketMQ 5.3's RECALL_MESSAGE. Validates a recall request (topic, handle,
// recallMessageEnable, master role) and hands it to the TimerService, which answers once the
// recall marker is durable. Protocol-neutral apart from the mq.v1 request/response types, so
// a second protocol adapter calls it as is. Thread-safe; stateless.
#pragma once

#include <functional>

#include "broker/broker_context.h"
#include "common/status.h"
#include "mq/v1/broker.pb.h"

namespace mq::broker {

class RecallProcessor {
 public:
  // `done` runs on the timer service's thread, or inline for a refused request.
  using Done = std::function<void(const Status&, const mq::v1::RecallMessageResponse&)>;

  explicit RecallProcessor(BrokerContext ctx) : ctx_(ctx) {}
  void Recall(const mq::v1::RecallMessageRequest& request, Done done);

 private:
  BrokerContext ctx_;
};

}  // namespace mq::broker
