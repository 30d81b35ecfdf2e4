#include "broker/processor/pull_processor.h"

#include <fmt/format.h>
#include <unistd.h>

#include "broker/filter/subscription_filter.h"
#include "broker/longpolling/wait_registry.h"
#include "broker/meta/consumer_offset_manager.h"
#include "broker/meta/subscription_group_manager.h"
#include "broker/meta/topic_config_manager.h"
#include "broker/processor/message_convert.h"
#include "broker/store/message_store.h"
#include "common/coding.h"
#include "common/naming.h"
#include "common/perm.h"

namespace mq::broker {
namespace {

constexpr int32_t kDefaultMaxMsgNums = 32;
constexpr int32_t kMaxMsgNums = 1024;
constexpr int32_t kMaxPullBytes = 4 * 1024 * 1024;
constexpr int64_t kMaxSuspendMillis = 120000;
constexpr int32_t kMaxStandingReplies = 64;
// Read windows (each up to ~800 queue units) one pull scans past non-matching messages before
// it answers NO_MATCHED_MSG: bounds the time a filtered pull holds an RPC thread.
constexpr int kMaxFilteredWindows = 4;

Status ValidatePull(const mq::v1::PullMessageRequest& r) {
  MQ_RETURN_IF_ERROR(ValidateName("consumer_group", r.consumer_group()));
  MQ_RETURN_IF_ERROR(ValidateName("topic", r.topic()));
  if (r.queue_id() < 0) return Status::InvalidArgument(fmt::format("queue_id: {} is negative", r.queue_id()));
  if (r.queue_offset() < 0) {
    return Status::InvalidArgument(fmt::format("queue_offset: {} is negative", r.queue_offset()));
  }
  if (r.max_msg_nums() < 0 || r.max_msg_nums() > kMaxMsgNums) {
    return Status::InvalidArgument(
        fmt::format("max_msg_nums: {} is out of range [0, {}]", r.max_msg_nums(), kMaxMsgNums));
  }
  if (r.max_bytes() < 0)
    return Status::InvalidArgument(fmt::format("max_bytes: {} is negative", r.max_bytes()));
  if (r.suspend_timeout_millis() < 0 || r.suspend_timeout_millis() > kMaxSuspendMillis) {
    return Status::InvalidArgument(fmt::format("suspend_timeout_millis: {} is out of range [0, {}]",
                                               r.suspend_timeout_millis(), kMaxSuspendMillis));
  }
  if (r.has_commit_offset() && r.commit_offset() < 0) {
    return Status::InvalidArgument(fmt::format("commit_offset: {} is negative", r.commit_offset()));
  }
  if (r.standing_replies() < 0 || r.standing_replies() > kMaxStandingReplies) {
    return Status::InvalidArgument(fmt::format("standing_replies: {} is out of range [0, {}]",
                                               r.standing_replies(), kMaxStandingReplies));
  }
  if (r.standing_max_msgs() < 0) {
    return Status::InvalidArgument(fmt::format("standing_max_msgs: {} is negative", r.standing_max_msgs()));
  }
  return Status::OK();
}

int64_t PhysicalMemoryBytes() {
  static const int64_t bytes = [] {
    long pages = ::sysconf(_SC_PHYS_PAGES);
    long page_size = ::sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page_size > 0 ? static_cast<int64_t>(pages) * page_size : int64_t{8} << 30;
  }();
  return bytes;
}

// RocketMQ's rule (PullMessageProcessor + DefaultMessageStore.getMessage): with slaveReadEnable,
// a consumer whose last pulled message is more than accessMessageInMemoryMaxRatio % of RAM
// behind the commit log end is sent to the group's whichBrokerWhenConsumeSlowly, every other
// consumer to the master (0) — which is how a slave sends caught-up consumers back. Without
// slaveReadEnable the group's brokerId (0 unless configured) is suggested.
int64_t SuggestBrokerId(const BrokerContext& ctx, int64_t group_broker_id, int64_t slow_broker_id,
                        const store::GetMessageResult& result) {
  if (!ctx.runtime->slave_read_enable.load()) return group_broker_id;
  // Known whether the records came as messages or as one buffer (accept_records).
  if (result.last_phy_offset < 0) return 0;
  const int64_t lag = ctx.store->MaxPhyOffset() - result.last_phy_offset;
  const int64_t in_memory = PhysicalMemoryBytes() / 100 * ctx.config->accessMessageInMemoryMaxRatio;
  return lag > in_memory ? slow_broker_id : 0;
}

}  // namespace

std::string QueueWaitKey(const std::string& topic, int32_t queue_id) {
  return fmt::format("{}@{}", topic, queue_id);
}

struct PullProcessor::PullState {
  mq::v1::PullMessageRequest request;
  store::MessageFilter filter;
  store::PropertyFilter property_filter;  // SQL92 subscriptions
  int64_t offset = 0;                     // moves past non-matching messages while parked
  bool skipped = false;
  int64_t group_broker_id = 0;  // the group's brokerId (suggested when slave reads are off)
  int64_t slow_broker_id = 1;   // the group's whichBrokerWhenConsumeSlowly
  int64_t hold_ms = 0;
  int32_t standing_left = 0;        // replies a standing pull may still send after the next one
  int64_t standing_msgs_left = -1;  // messages its replies may still carry; -1 = no bound
  int64_t delivered = 0;            // messages of the FOUND reply being answered
  std::function<bool()> gone;       // null: the caller stays
  mq::v1::PullMessageResponse response;
  Status error;             // when not OK, the answer instead of `response`
  ByteBudget::Lease lease;  // bytes of `response`'s messages
  StandingDone done;
};

PullProcessor::PullProcessor(BrokerContext ctx) : ctx_(ctx), budget_(ctx.config->pullResponseMemoryQuota) {}

void PullProcessor::Answer(const std::shared_ptr<PullState>& state) {
  if (!state->error.ok()) state->response.Clear();
  const bool found = state->error.ok() && state->response.status() == mq::v1::FOUND;
  if (found && state->standing_msgs_left > 0) {
    state->standing_msgs_left = std::max<int64_t>(0, state->standing_msgs_left - state->delivered);
  }
  const bool more =
      found && state->standing_left > 0 && state->standing_msgs_left != 0 && !(state->gone && state->gone());
  const int64_t next = state->response.next_begin_offset();
  state->done(state->error, &state->response, std::move(state->lease), more);
  if (!more) return;
  // Parked again as the consumer's next pull would be, from where this reply ended.
  --state->standing_left;
  state->offset = next;
  state->skipped = false;
  state->response.Clear();
  AnswerOrPark(state);
}

void PullProcessor::Pull(const mq::v1::PullMessageRequest& request, Done done) {
  Start(
      request,
      [done = std::move(done)](const Status& s, mq::v1::PullMessageResponse* r, ByteBudget::Lease lease,
                               bool) { done(s, r, std::move(lease)); },
      0, nullptr);
}

void PullProcessor::PullStanding(const mq::v1::PullMessageRequest& request, StandingDone done,
                                 std::function<bool()> gone) {
  Start(request, std::move(done), request.standing_replies(), std::move(gone));
}

void PullProcessor::Start(const mq::v1::PullMessageRequest& request, StandingDone done_standing,
                          int32_t standing, std::function<bool()> gone) {
  mq::v1::PullMessageResponse empty_response;
  auto* empty = &empty_response;
  auto done = [&done_standing](const Status& s, mq::v1::PullMessageResponse* r, ByteBudget::Lease lease) {
    done_standing(s, r, std::move(lease), false);
  };
  if (Status s = ValidatePull(request); !s.ok()) return done(s, empty, {});
  const BrokerConfig& config = *ctx_.config;
  if (!IsReadable(ctx_.runtime->broker_permission.load())) {
    return done(
        Status::PermissionDenied(fmt::format("broker: brokerPermission {} of {} forbids reads",
                                             ctx_.runtime->broker_permission.load(), config.brokerName)),
        empty, {});
  }
  auto topic = ctx_.topics->Get(request.topic());
  if (!topic) {
    return done(Status::NotFound(fmt::format("topic: '{}' does not exist on broker {}", request.topic(),
                                             config.brokerName)),
                empty, {});
  }
  if (!IsReadable(topic->perm())) {
    return done(Status::PermissionDenied(
                    fmt::format("topic: '{}' has perm {} and refuses reads", request.topic(), topic->perm())),
                empty, {});
  }
  if (request.queue_id() >= topic->read_queue_nums()) {
    return done(
        Status::InvalidArgument(fmt::format("queue_id: {} is out of range [0, {}) of topic '{}'",
                                            request.queue_id(), topic->read_queue_nums(), request.topic())),
        empty, {});
  }
  auto group = ctx_.groups->FindOrAutoCreate(request.consumer_group());
  if (!group.ok()) return done(group.status(), empty, {});
  if (!group->consume_enable()) {
    return done(Status::PermissionDenied(fmt::format("consumer_group: consumption of group '{}' is disabled",
                                                     request.consumer_group())),
                empty, {});
  }
  auto filter = MakeSubscriptionFilter(request.expression_type(), request.subscription(),
                                       config.enablePropertyFilter, ctx_.sql_filters, config.brokerName);
  if (!filter.ok()) return done(filter.status(), empty, {});

  // A slave keeps commits too (consumers read from it while the master is away); metadata
  // sync hands them back to the master (see docs/replication.md).
  if (request.has_commit_offset()) {
    ctx_.offsets->Commit(request.consumer_group(), request.topic(), request.queue_id(),
                         request.commit_offset());
  }

  auto state = std::make_shared<PullState>();
  state->request = request;
  state->filter = std::move(filter->tags);
  state->property_filter = std::move(filter->properties);
  state->offset = request.queue_offset();
  state->group_broker_id = group->broker_id();
  state->slow_broker_id = group->which_broker_when_consume_slowly();
  state->standing_left = standing;
  if (standing > 0 && request.standing_max_msgs() > 0)
    state->standing_msgs_left = request.standing_max_msgs();
  state->gone = std::move(gone);
  state->done = std::move(done_standing);

  const bool long_polling = ctx_.runtime->long_polling_enable.load();
  state->hold_ms =
      long_polling ? request.suspend_timeout_millis()
                   : std::min(request.suspend_timeout_millis(), ctx_.runtime->short_polling_time_ms.load());
  AnswerOrPark(state);
}

void PullProcessor::AnswerOrPark(const std::shared_ptr<PullState>& state) {
  const auto& request = state->request;
  if (auto reset =
          ctx_.offsets->TakePendingReset(request.consumer_group(), request.topic(), request.queue_id())) {
    state->response.set_status(mq::v1::OFFSET_RESET);
    state->response.set_next_begin_offset(*reset);
    state->response.set_min_offset(ctx_.store->MinOffsetInQueue(request.topic(), request.queue_id()));
    state->response.set_max_offset(ctx_.store->MaxOffsetInQueue(request.topic(), request.queue_id()));
    return Answer(state);
  }
  if (ReadOnce(*state, /*timed_out=*/state->hold_ms == 0)) return Answer(state);
  Status parked = ctx_.waits->Park(QueueWaitKey(request.topic(), request.queue_id()),
                                   std::chrono::milliseconds(state->hold_ms), [this, state](bool timed_out) {
                                     if (state->gone && state->gone()) {
                                       EndGone(state);
                                       return true;
                                     }
                                     if (!ReadOnce(*state, timed_out)) return false;
                                     Answer(state);
                                     return true;
                                   });
  if (!parked.ok()) {
    state->error = parked;
    Answer(state);
  }
}

void PullProcessor::EndGone(const std::shared_ptr<PullState>& state) {
  state->error = Status::OK();
  state->response.Clear();
  state->response.set_status(mq::v1::NO_NEW_MSG);
  state->response.set_next_begin_offset(state->offset);
  Answer(state);  // not FOUND: its last reply
}

void PullProcessor::WakeParked(const std::string& topic, int32_t queue_id) {
  ctx_.waits->Notify(QueueWaitKey(topic, queue_id));
}

bool PullProcessor::ReadOnce(PullState& state, bool timed_out) {
  const auto& req = state.request;
  int32_t max_nums = req.max_msg_nums() == 0 ? kDefaultMaxMsgNums : req.max_msg_nums();
  if (state.standing_msgs_left > 0)
    max_nums = static_cast<int32_t>(std::min<int64_t>(max_nums, state.standing_msgs_left));
  int32_t max_bytes = req.max_bytes() == 0 ? kMaxPullBytes : std::min(req.max_bytes(), kMaxPullBytes);
  auto lease = budget_.TryAcquire(max_bytes);
  if (!lease) {
    state.error = Status::ResourceExhausted(fmt::format(
        "pull: the broker holds {} bytes of unsent pull responses (pullResponseMemoryQuota={}); retry later",
        budget_.used(), budget_.limit()));
    return true;
  }
  auto& resp = state.response;
  resp.Clear();
  // Records go as stored: the store appends them to the reply as it read and verified them, with
  // no per-message conversion here; the consumer decodes them. GetMessages returns only
  // records that passed DecodeRecord with their CRCs.
  std::string* records = req.accept_records() ? resp.mutable_records() : nullptr;
  auto read = [&] {
    return ctx_.store->GetMessages(req.consumer_group(), req.topic(), req.queue_id(), state.offset, max_nums,
                                   max_bytes, state.filter, state.property_filter, records);
  };
  auto result = read();
  for (int window = 1;
       window < kMaxFilteredWindows && result.status == store::GetMessageStatus::kNoMatchedMessage &&
       result.next_begin_offset < result.max_offset;
       ++window) {
    state.offset = result.next_begin_offset;
    state.skipped = true;
    result = read();
  }
  resp.set_min_offset(result.min_offset);
  resp.set_max_offset(result.max_offset);
  resp.set_next_begin_offset(result.next_begin_offset);
  resp.set_suggest_which_broker_id(
      SuggestBrokerId(ctx_, state.group_broker_id, state.slow_broker_id, result));
  using GS = store::GetMessageStatus;
  switch (result.status) {
    case GS::kFound: {
      resp.set_status(mq::v1::FOUND);
      lease->Resize(result.buffer_total_size);
      state.lease = std::move(*lease);
      int64_t delivered = 0;
      if (records) {
        delivered = static_cast<int64_t>(result.queue_offsets.size());
      } else {
        for (const auto& record : result.messages) {
          if (Status s = ToMessageExt(record, ctx_.config->brokerName, resp.add_messages()); !s.ok()) {
            resp.mutable_messages()->RemoveLast();
          }
        }
        delivered = resp.messages_size();
      }
      ctx_.stats->got_messages += delivered;
      state.delivered = delivered;
      return true;
    }
    case GS::kNoMatchedMessage:
      // Only non-matching messages: move past them. At the end of the queue keep waiting for
      // a matching arrival; with stored messages left, answer now (RocketMQ's
      // PULL_RETRY_IMMEDIATELY) so the consumer asks again from the new position — parked,
      // it would wait for an arrival a backlog never produces.
      state.offset = result.next_begin_offset;
      state.skipped = true;
      resp.set_status(mq::v1::NO_MATCHED_MSG);
      return timed_out || result.next_begin_offset < result.max_offset;
    case GS::kNoMessageInQueue:
    case GS::kOffsetOverflowOne:
    case GS::kNoMatchedLogicQueue:
      resp.set_status(state.skipped ? mq::v1::NO_MATCHED_MSG : mq::v1::NO_NEW_MSG);
      resp.set_next_begin_offset(state.offset);
      return timed_out;
    case GS::kOffsetTooSmall:
    case GS::kOffsetOverflowBadly:
    case GS::kOffsetFoundNull:
    case GS::kMessageWasRemoving:
      resp.set_status(mq::v1::OFFSET_ILLEGAL);
      return true;
  }
  return true;
}

}  // namespace mq::broker
