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
// Standing pulls (PullStanding, the fast port): a request with standing_replies = N is parked
// again after each FOUND reply, from the reply's next_begin_offset, and answered up to N more
// times before its final reply, so a consumer that keeps up asks once per N + 1 replies instead
// of once per reply. Any other outcome (no new message by the hold time, an offset reset, an
// error), or the caller's `gone()` (the connection closed, or the client cancelled the pull),
// ends it with a final reply. Each re-park holds for the request's suspend time again, reads the
// queue's pending offset reset first, and counts against maxSuspendedPullRequests like a new pull.
// Thread-safe; `done` runs on the caller's thread or, for parked pulls, on an IoExecutor thread
// or the thread that notified an arrival.
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

  // `more`: the pull stays parked and done will run again; false on its final reply.
  using StandingDone = std::function<void(const Status&, mq::v1::PullMessageResponse* response,
                                          ByteBudget::Lease lease, bool more)>;

  explicit PullProcessor(BrokerContext ctx);
  // Answers once; standing_replies is not honoured (a unary call has one reply).
  void Pull(const mq::v1::PullMessageRequest& request, Done done);
  // Honours standing_replies; `gone()` true ends a standing pull early (its caller left or
  // cancelled it): after its current reply, or, while parked, at its next wake-up without a read.
  void PullStanding(const mq::v1::PullMessageRequest& request, StandingDone done, std::function<bool()> gone);
  // Wakes the pulls parked on the queue now, so one whose `gone()` turned true ends at once
  // (with a final NO_NEW_MSG reply) instead of holding its place until an arrival or its hold time.
  void WakeParked(const std::string& topic, int32_t queue_id);
  int64_t response_bytes_in_flight() const { return budget_.used(); }

 private:
  struct PullState;
  void Start(const mq::v1::PullMessageRequest& request, StandingDone done, int32_t standing,
             std::function<bool()> gone);
  // Answers a pending offset reset (mqadmin resetOffsetByTime) or what is stored, else parks.
  void AnswerOrPark(const std::shared_ptr<PullState>& state);
  // The final answer of a pull whose caller is gone: NO_NEW_MSG at its position, nothing read.
  void EndGone(const std::shared_ptr<PullState>& state);
  // Reads once; returns true when `state` has an answer (response or error).
  bool ReadOnce(PullState& state, bool timed_out);
  // Sends the answer; a standing pull with replies left goes on from its next offset.
  void Answer(const std::shared_ptr<PullState>& state);

  BrokerContext ctx_;
  ByteBudget budget_;
};

}  // namespace mq::broker
