// PullProcessor: serves PullMessage, with long polling. A pull that finds nothing new is
// parked in the WaitRegistry under "topic@queueId" and re-run when the store's dispatcher
// reports an arrival on that queue, or answered NO_NEW_MSG when its hold time ends.
// Messages that do not match the subscription (tags, or an SQL92 selector evaluated on each
// record's properties) are skipped while parked (the offset moves on) so a parked pull answers
// only for a matching message. A pull that scans a few windows of stored non-matching
// messages answers NO_MATCHED_MSG at once with the new position instead of parking.
// Memory: every response that carries messages holds a lease on the processor's ByteBudget
// (pullResponseMemoryQuota) until the adapter is done sending it; a pull that would pass the
// budget is answered RESOURCE_EXHAUSTED (consumers back off and retry) instead of pinning
// another copy of up to maxMessageSize.
// Thread-safe; `done` runs on the caller's thread or, for parked pulls, on an IoExecutor thread.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "broker/broker_context.h"
#include "broker/processor/byte_budget.h"
#include "common/status.h"
#include "mq/v1/broker.pb.h"

namespace mq::broker {

std::string QueueWaitKey(const std::string& topic, int32_t queue_id);

class PullProcessor {
 public:
  // `response` is valid during the call only (the adapter may Swap it out); `lease` must be
  // kept until the response has been sent.
  using Done =
      std::function<void(const Status&, mq::v1::PullMessageResponse* response, ByteBudget::Lease lease)>;

  explicit PullProcessor(BrokerContext ctx);
  void Pull(const mq::v1::PullMessageRequest& request, Done done);
  int64_t response_bytes_in_flight() const { return budget_.used(); }

 private:
  struct PullState;
  // Reads once; returns true when `state` has a final answer (response or error).
  bool ReadOnce(PullState& state, bool timed_out);
  static void Answer(PullState& state);

  BrokerContext ctx_;
  ByteBudget budget_;
};

}  // namespace mq::broker
