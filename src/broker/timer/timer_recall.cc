// TimerService's recalls (RocketMQ 5.3 RecallMessage): a recall marker stored in the timer topic
// cancels the delivery a handle names; see timer_service.h.
#include <fmt/format.h>

#include "broker/store/message_store.h"
#include "broker/timer/timer_service.h"
#include "common/logging.h"

namespace mq::broker::timer {

void TimerService::Recall(RecallHandle handle, RecallDone done) {
  const int64_t now = clock_->NowMillis();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return done(Status::Unavailable("recall: the broker is shutting down"));
    recalls_.push_back(PendingRecall{std::move(handle), std::move(done),
                                     now + options_.recall_lookup_timeout_ms, store_->MaxPhyOffset()});
    wake_ = true;
  }
  cv_.notify_one();
}

void TimerService::ProcessRecalls(int64_t now_ms) {
  std::deque<PendingRecall> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    batch.swap(recalls_);
  }
  std::deque<PendingRecall> waiting;
  for (auto& r : batch) {
    if (!TryRecall(r, now_ms)) waiting.push_back(std::move(r));
  }
  if (waiting.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& r : waiting) recalls_.push_front(std::move(r));
}

bool TimerService::TryRecall(PendingRecall& r, int64_t now_ms) {
  const RecallHandle& h = r.handle;
  if (h.broker_name != options_.broker_name) {
    r.done(Status::NotFound(fmt::format("handle: issued by broker '{}', this is '{}'; send the recall there",
                                        h.broker_name, options_.broker_name)));
    return true;
  }
  const int64_t slot_ms = SlotOf(h.deliver_ms, options_.precision_ms);
  if (slot_ms < progress_ms_) {
    r.done(Status::FailedPrecondition(fmt::format(
        "handle: the message's delivery time {} has passed; it was delivered (or recalled) already",
        h.deliver_ms)));
    return true;
  }
  if (store_->options().message_index_enable) {
    auto parked = store_->QueryMessageByUniqueKey(std::string(kTimerTopic), h.uniq_key);
    bool found = false;
    if (parked.ok()) {
      found = parked->Property(kPropRealTopic) == h.topic &&
              ParseI64Or(parked->Property(kPropOutMs), -1) == h.deliver_ms &&
              parked->Property(kPropDelUniqKey).empty();
    }
    if (!found) {
      // Its record may be stored but not yet indexed: wait for the dispatcher, bounded.
      if (store_->DispatchedPhyOffset() < r.dispatch_target && now_ms < r.deadline_ms) return false;
      r.done(Status::NotFound(fmt::format("handle: no scheduled message {} of topic '{}' for {}", h.uniq_key,
                                          h.topic, h.deliver_ms)));
      return true;
    }
  }
  if (recalled_[slot_ms].count(h.uniq_key) > 0) {
    r.done(Status::OK());  // recalled before: the marker is stored already
    return true;
  }
  std::vector<store::MessageInput> marker;
  marker.push_back(MakeRecallMarker(h, now_ms));
  if (!PutAll(std::move(marker))) {
    r.done(Status::Unavailable("recall: the store refused the recall marker; retry"));
    return true;
  }
  // The marker is durable (as any acknowledged put); until the enqueue reads it back, this
  // set keeps the slot from delivering the message.
  recalled_[slot_ms].insert(h.uniq_key);
  r.done(Status::OK());
  return true;
}

}  // namespace mq::broker::timer
