#include "broker/v2/consumer_service.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "broker/v2/call_context.h"
#include "broker/v2/deliver_convert.h"
#include "broker/v2/proto_time.h"
#include "broker/v2/v2_status.h"
#include "common/clock.h"
#include "common/naming.h"

namespace mq::broker::v2 {
namespace {

namespace pb = apache::rocketmq::v2;
using google::protobuf::util::TimeUtil;

// Room left for the answer to travel before the client's deadline.
constexpr int64_t kDeadlineMarginMs = 500;
// A message popped for a receive whose stream broke before it was written is visible again
// after this long (RocketMQ's proxy nacks such messages with 1 s as well).
constexpr int64_t kUndeliveredVisibleMs = 1000;

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::string FilterType(pb::FilterType type) { return type == pb::FilterType::SQL ? "SQL92" : "TAG"; }

}  // namespace

pb::Code ToV2Code(const Status& s) {
  const std::string& m = s.message();
  switch (s.code()) {
    case StatusCode::kOk:
      return pb::Code::OK;
    case StatusCode::kNotFound:
      if (StartsWith(m, "topic:")) return pb::Code::TOPIC_NOT_FOUND;
      if (StartsWith(m, "consumer_group:")) return pb::Code::CONSUMER_GROUP_NOT_FOUND;
      if (StartsWith(m, "receipt_handle:")) return pb::Code::INVALID_RECEIPT_HANDLE;
      return pb::Code::NOT_FOUND;
    case StatusCode::kInvalidArgument:
    case StatusCode::kFailedPrecondition:
      if (StartsWith(m, "receipt_handle:")) return pb::Code::INVALID_RECEIPT_HANDLE;
      if (StartsWith(m, "filter_expression:") || StartsWith(m, "expression_type:")) {
        return pb::Code::ILLEGAL_FILTER_EXPRESSION;
      }
      if (StartsWith(m, "invisible_duration:")) return pb::Code::ILLEGAL_INVISIBLE_TIME;
      if (StartsWith(m, "topic:")) return pb::Code::ILLEGAL_TOPIC;
      if (StartsWith(m, "consumer_group:")) return pb::Code::ILLEGAL_CONSUMER_GROUP;
      return pb::Code::BAD_REQUEST;
    case StatusCode::kPermissionDenied:
      return pb::Code::FORBIDDEN;
    case StatusCode::kResourceExhausted:
      return pb::Code::TOO_MANY_REQUESTS;
    case StatusCode::kTimeout:
      return pb::Code::PROXY_TIMEOUT;
    default:
      return pb::Code::INTERNAL_SERVER_ERROR;
  }
}

// One ReceiveMessage stream: validates, pops, then writes the frames in order.
class ConsumerService::ReceiveReactor final : public grpc::ServerWriteReactor<pb::ReceiveMessageResponse> {
 public:
  explicit ReceiveReactor(std::string name_space)
      : name_space_(std::move(name_space)), cancelled_(std::make_shared<std::atomic<bool>>(false)) {}

  // Shared with the pop, so a parked pop of a cancelled call takes no message.
  const std::shared_ptr<std::atomic<bool>>& cancelled() const { return cancelled_; }

  void Fail(pb::Code code, std::string message) {
    SetStatus(frames_.emplace_back().mutable_status(), code, std::move(message));
    WriteNext();
  }

  // Sets what returns a delivery the client did not get (before the pop is issued).
  void OnUndelivered(std::function<void(const std::string& receipt_handle)> nack) { nack_ = std::move(nack); }
  // Run when the client cancels: wakes the parked pop, which then ends and frees its place.
  void OnCancelled(std::function<void()> wake) { wake_ = std::move(wake); }

  void Answer(const Status& s, std::vector<pop::PoppedMessage> messages) {
    if (!s.ok()) {
      SetStatus(frames_.emplace_back().mutable_status(), ToV2Code(s), s.message());
    } else if (messages.empty()) {
      SetStatus(frames_.emplace_back().mutable_status(), pb::Code::MESSAGE_NOT_FOUND, "no new message");
    } else {
      SetOk(frames_.emplace_back().mutable_status());
      // One message per frame keeps every frame under grpc-js's 4 MiB receive limit for any
      // message the broker accepts below it.
      for (const auto& m : messages) ToV2Message(m, name_space_, frames_.emplace_back().mutable_message());
      *frames_.emplace_back().mutable_delivery_timestamp() = TimeUtil::MillisecondsToTimestamp(WallMillis());
    }
    WriteNext();
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      // The stream broke (the client went away or was cut off): what it did not get, this
      // write's message included, is visible again in a second, as RocketMQ's proxy nacks it.
      // Left alone it would wait out its invisible time, and an auto-renewed one would be
      // renewed for hours while the client lives on.
      for (const auto& frame : frames_) {
        if (frame.has_message() && nack_) nack_(frame.message().system_properties().receipt_handle());
      }
      frames_.clear();
      return WriteNext();
    }
    frames_.pop_front();
    WriteNext();
  }

  void OnCancel() override {
    cancelled_->store(true);
    if (wake_) wake_();
  }
  void OnDone() override { delete this; }

 private:
  // No lock: frames_ is filled once (Fail/Answer) before the first write, then only
  // OnWriteDone touches it, with one write in flight; gRPC orders those calls. Nothing touches
  // a member after Finish(), since OnDone may delete this on another thread at once.
  void WriteNext() {
    if (frames_.empty()) return Finish(grpc::Status::OK);
    StartWrite(&frames_.front());
  }

  const std::string name_space_;
  std::deque<pb::ReceiveMessageResponse> frames_;  // front = being written
  std::function<void(const std::string&)> nack_;
  std::function<void()> wake_;
  const std::shared_ptr<std::atomic<bool>> cancelled_;
};

namespace {

// The group and topic an ack-like request names, checked first as RocketMQ's proxy does
// (validateTopicAndConsumerGroup): a bad one is named, not reported as a stale handle.
std::optional<std::pair<pb::Code, std::string>> CheckGroupAndTopic(const CallContext& call,
                                                                   const pb::Resource& group,
                                                                   const pb::Resource& topic) {
  if (group.name().empty())
    return std::pair(pb::Code::ILLEGAL_CONSUMER_GROUP, std::string("group.name: is empty"));
  if (topic.name().empty()) return std::pair(pb::Code::ILLEGAL_TOPIC, std::string("topic.name: is empty"));
  if (Status s = ValidateName("group.name", StoredName(call, group)); !s.ok()) {
    return std::pair(pb::Code::ILLEGAL_CONSUMER_GROUP, s.message());
  }
  if (Status s = ValidateName("topic.name", StoredName(call, topic)); !s.ok()) {
    return std::pair(pb::Code::ILLEGAL_TOPIC, s.message());
  }
  return std::nullopt;
}

// Answers an ack-like request that names a bad group or topic; true when it did.
template <typename Request, typename Response>
bool FinishedOnBadGroupOrTopic(const CallContext& call, const Request& request, Response* response,
                               grpc::ServerUnaryReactor* reactor) {
  auto bad = CheckGroupAndTopic(call, request.group(), request.topic());
  if (!bad) return false;
  SetStatus(response->mutable_status(), bad->first, bad->second);
  reactor->Finish(grpc::Status::OK);
  return true;
}

}  // namespace

ConsumerService::ConsumerService(ConsumerServiceOptions options, pop::PopService* pop)
    : options_(options), pop_(pop) {}

int64_t ConsumerService::PollMillis(grpc::CallbackServerContext* ctx,
                                    const pb::ReceiveMessageRequest& r) const {
  int64_t poll =
      r.has_long_polling_timeout() ? SaturatedMillis(r.long_polling_timeout()) : options_.max_long_polling_ms;
  poll = std::clamp(poll, options_.min_long_polling_ms, options_.max_long_polling_ms);
  const auto deadline = ctx->deadline();
  if (deadline != std::chrono::system_clock::time_point::max()) {
    const int64_t left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::system_clock::now())
            .count();
    poll = std::min(poll, left - kDeadlineMarginMs);
  }
  return std::max<int64_t>(poll, 0);
}

grpc::ServerWriteReactor<pb::ReceiveMessageResponse>* ConsumerService::ReceiveMessage(
    grpc::CallbackServerContext* ctx, const pb::ReceiveMessageRequest* request, const CallContext& call) {
  const pb::Resource& topic_resource = request->message_queue().topic();
  auto* reactor = new ReceiveReactor(NamespaceOf(call, topic_resource));
  if (request->group().name().empty()) {
    reactor->Fail(pb::Code::ILLEGAL_CONSUMER_GROUP, "group.name: is empty");
    return reactor;
  }
  if (topic_resource.name().empty()) {
    reactor->Fail(pb::Code::ILLEGAL_TOPIC, "message_queue.topic.name: is empty");
    return reactor;
  }
  pop::PopRequest r;
  r.group = StoredName(call, request->group());
  r.topic = StoredName(call, topic_resource);
  r.queue_id = -1;
  r.max_messages = std::clamp(request->batch_size(), 1, pop::kMaxPopMessages);
  r.auto_renew = request->auto_renew();
  if (!r.auto_renew) {
    if (!request->has_invisible_duration()) {
      reactor->Fail(pb::Code::ILLEGAL_INVISIBLE_TIME, "invisible_duration: is required unless auto_renew");
      return reactor;
    }
    r.invisible_ms = SaturatedMillis(request->invisible_duration());
    if (r.invisible_ms < options_.min_invisible_ms || r.invisible_ms > options_.max_invisible_ms) {
      reactor->Fail(
          pb::Code::ILLEGAL_INVISIBLE_TIME,
          fmt::format("invisible_duration: {} ms is outside [{}, {}] ms (minInvisibleTimeMillsForRecv, "
                      "maxInvisibleTimeMills)",
                      r.invisible_ms, options_.min_invisible_ms, options_.max_invisible_ms));
      return reactor;
    }
  }
  if (request->has_filter_expression()) {
    r.filter_type = FilterType(request->filter_expression().type());
    r.filter_expression = request->filter_expression().expression();
    if (r.filter_expression.empty()) r.filter_expression = "*";
  }
  r.attempt_id = request->attempt_id();
  r.client_id = call.client_id;
  r.poll_ms = PollMillis(ctx, *request);
  r.cancelled = reactor->cancelled();
  reactor->OnCancelled([pop = pop_, topic = r.topic] { pop->WakeParked(topic); });
  reactor->OnUndelivered([pop = pop_, group = r.group, topic = r.topic](const std::string& handle) {
    pop->ChangeInvisible(group, topic, handle, kUndeliveredVisibleMs,
                         [](const Status&, const std::string&) {});
  });
  pop_->Pop(std::move(r), [reactor](const Status& s, std::vector<pop::PoppedMessage> messages) {
    reactor->Answer(s, std::move(messages));
  });
  return reactor;
}

grpc::ServerUnaryReactor* ConsumerService::AckMessage(grpc::CallbackServerContext* ctx,
                                                      const pb::AckMessageRequest* request,
                                                      pb::AckMessageResponse* response,
                                                      const CallContext& call) {
  auto* reactor = ctx->DefaultReactor();
  if (FinishedOnBadGroupOrTopic(call, *request, response, reactor)) return reactor;
  const int n = request->entries_size();
  if (n == 0) {
    SetStatus(response->mutable_status(), pb::Code::BAD_REQUEST, "entries: is empty");
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  for (const auto& e : request->entries()) {
    auto* out = response->add_entries();
    out->set_message_id(e.message_id());
    out->set_receipt_handle(e.receipt_handle());
  }
  struct Pending {
    std::mutex mu;
    int left;
  };
  auto pending = std::make_shared<Pending>();
  pending->left = n;
  auto finish = [reactor, response, pending]() {
    // All entries answered: the top-level status is theirs when they agree.
    const pb::Code first = response->entries(0).status().code();
    bool same = true;
    for (const auto& e : response->entries()) same = same && e.status().code() == first;
    if (same) {
      *response->mutable_status() = response->entries(0).status();
    } else {
      SetStatus(response->mutable_status(), pb::Code::MULTIPLE_RESULTS, "entries have different results");
    }
    reactor->Finish(grpc::Status::OK);
  };
  for (int i = 0; i < n; ++i) {
    pop_->Ack(StoredName(call, request->group()), StoredName(call, request->topic()),
              request->entries(i).receipt_handle(), [response, pending, finish, i](const Status& s) {
                bool last = false;
                {
                  std::lock_guard<std::mutex> lock(pending->mu);
                  auto* status = response->mutable_entries(i)->mutable_status();
                  if (s.ok()) {
                    SetOk(status);
                  } else {
                    SetStatus(status, ToV2Code(s), s.message());
                  }
                  last = --pending->left == 0;
                }
                if (last) finish();
              });
  }
  return reactor;
}

grpc::ServerUnaryReactor* ConsumerService::ChangeInvisibleDuration(
    grpc::CallbackServerContext* ctx, const pb::ChangeInvisibleDurationRequest* request,
    pb::ChangeInvisibleDurationResponse* response, const CallContext& call) {
  auto* reactor = ctx->DefaultReactor();
  if (FinishedOnBadGroupOrTopic(call, *request, response, reactor)) return reactor;
  const int64_t ms = SaturatedMillis(request->invisible_duration());
  if (ms < 0 || ms > options_.max_invisible_ms) {
    SetStatus(response->mutable_status(), pb::Code::ILLEGAL_INVISIBLE_TIME,
              fmt::format("invisible_duration: {} ms is outside [0, {}] ms", ms, options_.max_invisible_ms));
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  pop_->ChangeInvisible(StoredName(call, request->group()), StoredName(call, request->topic()),
                        request->receipt_handle(), ms,
                        [reactor, response](const Status& s, const std::string& handle) {
                          if (s.ok()) {
                            SetOk(response->mutable_status());
                            response->set_receipt_handle(handle);
                          } else {
                            SetStatus(response->mutable_status(), ToV2Code(s), s.message());
                          }
                          reactor->Finish(grpc::Status::OK);
                        });
  return reactor;
}

grpc::ServerUnaryReactor* ConsumerService::ForwardMessageToDeadLetterQueue(
    grpc::CallbackServerContext* ctx, const pb::ForwardMessageToDeadLetterQueueRequest* request,
    pb::ForwardMessageToDeadLetterQueueResponse* response, const CallContext& call) {
  auto* reactor = ctx->DefaultReactor();
  if (FinishedOnBadGroupOrTopic(call, *request, response, reactor)) return reactor;
  pop_->ForwardToDeadLetterQueue(StoredName(call, request->group()), StoredName(call, request->topic()),
                                 request->receipt_handle(), [reactor, response](const Status& s) {
                                   if (s.ok()) {
                                     SetOk(response->mutable_status());
                                   } else {
                                     SetStatus(response->mutable_status(), ToV2Code(s), s.message());
                                   }
                                   reactor->Finish(grpc::Status::OK);
                                 });
  return reactor;
}

void ConsumerService::OnClientAlive(const std::string& client_id, const std::string& group) {
  pop_->OnClientAlive(client_id, group);
}

void ConsumerService::OnClientGone(const std::string& client_id, const std::string& group) {
  pop_->OnClientGone(client_id, group);
}

}  // namespace mq::broker::v2
