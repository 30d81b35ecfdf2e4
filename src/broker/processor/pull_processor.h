// PullProcessor: serves PullMessage, with long polling. A pull that finds nothing new is
// parked in the WaitRegistry under "topic@queueId" and re-run when the store's dispatcher
// reports an arrival on that queue, or answered NO_NEW_MSG when its hold time ends.
// Messages that do not match the subscription are skipped while parked (the offset moves on)
// so a parked pull answers only for a matching message.
// Thread-safe; `done` runs on the caller's thread or, for parked pulls, on an IoExecutor thread.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "broker/broker_context.h"
#include "common/status.h"
#include "mq/v1/broker.pb.h"

namespace mq::broker {

std::string QueueWaitKey(const std::string& topic, int32_t queue_id);

class PullProcessor {
 public:
  using Done = std::function<void(const Status&, const mq::v1::PullMessageResponse&)>;

  explicit PullProcessor(BrokerContext ctx) : ctx_(ctx) {}
  void Pull(const mq::v1::PullMessageRequest& request, Done done);

 private:
  struct PullState;
  // Reads once; returns true when `state` has a final answer in its response.
  bool ReadOnce(PullState& state, bool timed_out);

  BrokerContext ctx_;
};

}  // namespace mq::broker
