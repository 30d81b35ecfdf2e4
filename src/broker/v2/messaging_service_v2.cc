#include "broker/v2/messaging_service_v2.h"

#include <fmt/format.h>

#include <mutex>

#include "broker/meta/subscription_group_manager.h"
#include "broker/meta/topic_config_manager.h"
#include "broker/processor/client_processor.h"
#include "broker/processor/end_transaction_processor.h"
#include "broker/processor/message_convert.h"
#include "broker/processor/recall_processor.h"
#include "broker/processor/send_processor.h"
#include "broker/schedule/delay_levels.h"
#include "broker/store/message_format.h"
#include "broker/v2/call_context.h"
#include "broker/v2/route_convert.h"
#include "broker/v2/rpc_prologue.h"
#include "broker/v2/settings_reply.h"
#include "broker/v2/v2_status.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/naming.h"

namespace mq::broker::v2 {
namespace pb = apache::rocketmq::v2;
namespace {

constexpr auto kRouteTimeout = std::chrono::milliseconds(3000);
// Re-sends of a Settings reply (the Node SDK's start-up race, see TelemetrySessions).
const std::vector<std::chrono::milliseconds> kSettingsResends = {std::chrono::milliseconds(1000),
                                                                 std::chrono::milliseconds(3000)};

// A stream that carries one status and ends (refusals of ReceiveMessage / PullMessage).
template <typename Response>
class StatusOnlyWriter final : public grpc::ServerWriteReactor<Response> {
 public:
  explicit StatusOnlyWriter(pb::Status status) { *out_.mutable_status() = std::move(status); }
  void Begin() { this->StartWriteAndFinish(&out_, grpc::WriteOptions(), grpc::Status::OK); }
  void OnDone() override { delete this; }

 private:
  Response out_;
};

// What the RPCs of pull-mode and lite consumers answer: this broker serves consumers through
// ReceiveMessage (SimpleConsumer, PushConsumer), as RocketMQ 5's proxy did before 5.3.
std::string NotServed(std::string_view rpc) {
  return fmt::format(
      "{}: not served by this broker; consume with ReceiveMessage (SimpleConsumer or "
      "PushConsumer)",
      rpc);
}

class StatusOnlyTelemetry final : public grpc::ServerBidiReactor<pb::TelemetryCommand, pb::TelemetryCommand> {
 public:
  explicit StatusOnlyTelemetry(pb::Status status) { *out_.mutable_status() = std::move(status); }
  void Begin() { StartWriteAndFinish(&out_, grpc::WriteOptions(), grpc::Status::OK); }
  void OnDone() override { delete this; }

 private:
  pb::TelemetryCommand out_;
};

pb::Status ProcessorFailure(const Status& s, pb::Code invalid) {
  switch (s.code()) {
    case StatusCode::kNotFound:
    case StatusCode::kInvalidArgument:
      return MakeStatus(invalid, s.message());
    case StatusCode::kPermissionDenied:
    case StatusCode::kFailedPrecondition:
      return MakeStatus(pb::Code::FORBIDDEN, s.message());
    case StatusCode::kResourceExhausted:
      return MakeStatus(pb::Code::TOO_MANY_REQUESTS, s.message());
    default:
      return MakeStatus(pb::Code::INTERNAL_SERVER_ERROR, s.message());
  }
}

// Top-level status of a batch: OK when every entry is, the entry's own for one entry or
// when all agree, MULTIPLE_RESULTS otherwise.
void SetBatchStatus(pb::SendMessageResponse* response) {
  const auto& entries = response->entries();
  bool same = true;
  for (const auto& e : entries) same = same && e.status().code() == entries[0].status().code();
  if (same) {
    *response->mutable_status() = entries[0].status();
  } else {
    SetStatus(response->mutable_status(), pb::Code::MULTIPLE_RESULTS, "entries have different results");
  }
}

std::string GroupOf(const CallContext& call, const pb::Resource& group) { return StoredName(call, group); }

}  // namespace

MessagingServiceV2::MessagingServiceV2(Deps deps) : deps_(std::move(deps)) {
  routes_ = std::make_unique<NamesrvRouteClient>(deps_.namesrv_addrs, kRouteTimeout);
  telemetry_ = std::make_unique<TelemetrySessions>(
      deps_.executor,
      [this](const CallContext& call, const std::string& peer, const pb::Settings& s) {
        return OnSettings(call, peer, s);
      },
      [this](const mq::v1::TransactionCheck& check, const std::string& ns) {
        return ToCheckCommand(check, ns);
      },
      kSettingsResends);
}

MessagingServiceV2::~MessagingServiceV2() = default;

void MessagingServiceV2::CloseStreams() { telemetry_->CloseAll(); }

void MessagingServiceV2::set_v2_addr(std::string addr) {
  std::lock_guard<std::mutex> lock(mu_);
  v2_addr_ = std::move(addr);
}

std::string MessagingServiceV2::v2_addr() const {
  std::lock_guard<std::mutex> lock(mu_);
  return v2_addr_;
}

SendLimits MessagingServiceV2::Limits() const {
  const BrokerConfig& c = *deps_.ctx.config;
  SendLimits limits;
  limits.max_body_size = c.maxMessageSize;
  limits.max_delay_ms = std::min<int64_t>(c.maxDelayTimeMills, c.timerMaxDelaySec * 1000);
  return limits;
}

// ---------------------------------------------------------------------------------------------
// Publishing

grpc::ServerUnaryReactor* MessagingServiceV2::SendMessage(grpc::CallbackServerContext* ctx,
                                                          const pb::SendMessageRequest* request,
                                                          pb::SendMessageResponse* response) {
  CallContext call;
  if (!ReadCall(*ctx, &call, response->mutable_status())) return Done(ctx);
  if (request->messages_size() == 0) {
    SetStatus(response->mutable_status(), pb::Code::MESSAGE_CORRUPTED,
              "messages: at least one message is required");
    return Done(ctx);
  }
  for (int i = 1; i < request->messages_size(); ++i) {
    if (request->messages(i).topic().name() != request->messages(0).topic().name()) {
      SetStatus(response->mutable_status(), pb::Code::MESSAGE_CORRUPTED,
                fmt::format("messages[{}].topic: '{}' differs from messages[0].topic '{}'", i,
                            request->messages(i).topic().name(), request->messages(0).topic().name()));
      return Done(ctx);
    }
  }
  const BrokerConfig& config = *deps_.ctx.config;
  const SendLimits limits = Limits();
  const int64_t now = WallMillis();
  const std::string born_host = PeerHostPort(ctx->peer());
  auto* reactor = ctx->DefaultReactor();
  const int n = request->messages_size();
  for (int i = 0; i < n; ++i) response->add_entries();

  // The entries complete independently (each is its own v1 send, possibly on another queue).
  struct Batch {
    std::mutex mu;
    int pending;
  };
  auto batch = std::make_shared<Batch>();
  batch->pending = n;
  auto complete = [reactor, response, batch](int index, pb::SendResultEntry entry) {
    {
      std::lock_guard<std::mutex> lock(batch->mu);
      *response->mutable_entries(index) = std::move(entry);
      if (--batch->pending > 0) return;
    }
    SetBatchStatus(response);
    reactor->Finish(grpc::Status::OK);
  };

  for (int i = 0; i < n; ++i) {
    const pb::Message& message = request->messages(i);
    const std::string field = fmt::format("messages[{}]", i);
    pb::SendResultEntry entry;
    entry.set_message_id(message.system_properties().message_id());
    const std::string stored = StoredName(call, message.topic());
    V1Send send;
    if (pb::Status s = ToV1Send(message, field, stored, limits, now, born_host, &send); !IsOk(s)) {
      *entry.mutable_status() = std::move(s);
      complete(i, std::move(entry));
      continue;
    }
    auto topic = deps_.ctx.topics->CreateOnSend(stored, config.defaultTopicQueueNums);
    if (!topic.ok()) {
      *entry.mutable_status() = SendFailure(topic.status());
      complete(i, std::move(entry));
      continue;
    }
    auto attr = topic->attributes().find(kMessageTypeAttribute);
    if (attr != topic->attributes().end() && !TopicAccepts(attr->second, send.type)) {
      SetStatus(entry.mutable_status(), pb::Code::MESSAGE_PROPERTY_CONFLICT_WITH_TYPE,
                fmt::format("{}.system_properties.message_type: topic '{}' takes {} messages ({}={}), not {}",
                            field, message.topic().name(), attr->second, kMessageTypeAttribute, attr->second,
                            pb::MessageType_Name(send.type)));
      complete(i, std::move(entry));
      continue;
    }
    if (send.type == pb::MessageType::FIFO) {
      send.request.set_queue_id(FifoQueue(send.message_group, topic->write_queue_nums()));
    }
    const bool transactional = send.type == pb::MessageType::TRANSACTION;
    const bool recallable = send.type == pb::MessageType::DELAY && config.recallMessageEnable;
    auto reply = std::make_shared<mq::v1::SendMessageResponse>();
    deps_.send->Send(&send.request, reply.get(),
                     [complete, i, entry, transactional, recallable, reply](const Status& s) mutable {
                       const mq::v1::SendMessageResponse& r = *reply;
                       if (!s.ok()) {
                         *entry.mutable_status() = SendFailure(s);
                         return complete(i, std::move(entry));
                       }
                       const pb::Code code = SendOutcome(r.status());
                       SetStatus(entry.mutable_status(), code,
                                 code == pb::Code::OK
                                     ? "OK"
                                     : fmt::format("stored, but {}", mq::v1::SendStatus_Name(r.status())));
                       if (r.entries_size() > 0) {
                         const auto& e = r.entries(0);
                         entry.set_offset(e.queue_offset());
                         // The half message's position, which EndTransaction needs, travels in the id.
                         if (transactional) entry.set_transaction_id(e.offset_msg_id());
                         if (recallable) entry.set_recall_handle(e.recall_handle());
                       }
                       complete(i, std::move(entry));
                     });
  }
  return reactor;
}

grpc::ServerUnaryReactor* MessagingServiceV2::EndTransaction(grpc::CallbackServerContext* ctx,
                                                             const pb::EndTransactionRequest* request,
                                                             pb::EndTransactionResponse* response) {
  CallContext call;
  if (!ReadCall(*ctx, &call, response->mutable_status())) return Done(ctx);
  if (request->transaction_id().empty()) {
    SetStatus(response->mutable_status(), pb::Code::INVALID_TRANSACTION_ID, "transaction_id: required");
    return Done(ctx);
  }
  auto offset = store::DecodeOffsetMessageId(request->transaction_id());
  if (!offset.ok()) {
    SetStatus(response->mutable_status(), pb::Code::INVALID_TRANSACTION_ID,
              fmt::format("transaction_id: '{}' was not issued by this broker", request->transaction_id()));
    return Done(ctx);
  }
  if (request->message_id().empty()) {
    SetStatus(response->mutable_status(), pb::Code::ILLEGAL_MESSAGE_ID, "message_id: required");
    return Done(ctx);
  }
  std::string stored;
  if (!ReadTopic(call, request->topic(), &stored, response->mutable_status())) return Done(ctx);
  mq::v1::EndTransactionRequest v1;
  switch (request->resolution()) {
    case pb::TransactionResolution::COMMIT:
      v1.set_resolution(mq::v1::TRANSACTION_COMMIT);
      break;
    case pb::TransactionResolution::ROLLBACK:
      v1.set_resolution(mq::v1::TRANSACTION_ROLLBACK);
      break;
    default:
      SetStatus(response->mutable_status(), pb::Code::BAD_REQUEST, "resolution: must be COMMIT or ROLLBACK");
      return Done(ctx);
  }
  v1.set_producer_group(stored);
  v1.set_transaction_id(request->message_id());
  v1.set_commit_log_offset(*offset);
  v1.set_from_check(request->source() == pb::TransactionSource::SOURCE_SERVER_CHECK);
  auto* reactor = ctx->DefaultReactor();
  deps_.end_transaction->EndTransaction(v1, [reactor, response](const Status& s, const auto&) {
    if (s.ok()) {
      SetOk(response->mutable_status());
    } else {
      *response->mutable_status() = ProcessorFailure(s, pb::Code::INVALID_TRANSACTION_ID);
    }
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* MessagingServiceV2::RecallMessage(grpc::CallbackServerContext* ctx,
                                                            const pb::RecallMessageRequest* request,
                                                            pb::RecallMessageResponse* response) {
  CallContext call;
  if (!ReadCall(*ctx, &call, response->mutable_status())) return Done(ctx);
  std::string stored;
  if (!ReadTopic(call, request->topic(), &stored, response->mutable_status())) return Done(ctx);
  if (request->recall_handle().empty()) {
    SetStatus(response->mutable_status(), pb::Code::BAD_REQUEST, "recall_handle: required");
    return Done(ctx);
  }
  mq::v1::RecallMessageRequest v1;
  v1.set_topic(stored);
  v1.set_recall_handle(request->recall_handle());
  auto* reactor = ctx->DefaultReactor();
  deps_.recall->Recall(v1, [reactor, response](const Status& s, const mq::v1::RecallMessageResponse& r) {
    if (s.ok()) {
      SetOk(response->mutable_status());
      response->set_message_id(r.msg_id());
    } else {
      *response->mutable_status() = ProcessorFailure(s, pb::Code::BAD_REQUEST);
    }
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

// ---------------------------------------------------------------------------------------------
// Client lifecycle

SettingsOutcome MessagingServiceV2::OnSettings(const CallContext& call, const std::string& peer,
                                               const pb::Settings& settings) {
  SettingsOutcome outcome;
  outcome.name_space = call.name_space;
  auto* reply = &outcome.reply;
  if (!settings.has_client_type() || settings.client_type() == pb::ClientType::CLIENT_TYPE_UNSPECIFIED) {
    SetStatus(reply->mutable_status(), pb::Code::UNRECOGNIZED_CLIENT_TYPE, "settings.client_type: required");
    return outcome;
  }
  auto registration = RegistrationOf(settings, call);
  if (!registration.ok()) {
    SetStatus(reply->mutable_status(), pb::Code::BAD_REQUEST, registration.status().message());
    return outcome;
  }
  // Registering auto-creates the consumer group, as a v1 heartbeat does.
  auto registered = deps_.client->Heartbeat(*registration, peer);
  if (!registered.ok()) {
    *reply->mutable_status() = ProcessorFailure(registered.status(), pb::Code::BAD_REQUEST);
    return outcome;
  }
  ServerSettings server;
  server.max_body_size = deps_.ctx.config->maxMessageSize;
  for (const auto& p : registration->producers()) outcome.producer_groups.insert(p.group());
  if (registration->consumers_size() > 0) {
    outcome.consumer_group = registration->consumers(0).group();
    if (auto group = deps_.ctx.groups->Get(outcome.consumer_group)) {
      server.fifo = group->consume_message_orderly();
      server.max_attempts = group->retry_max_times() + 1;
    }
    // The broker retries at delay levels 3, 4, ... (RocketMQ's default retry policy).
    if (const schedule::DelayLevels* levels = deps_.ctx.delay_levels) {
      for (int32_t level = 3; level <= levels->max_level(); ++level)
        server.retry_delays_ms.push_back(levels->DelayMillis(level));
    }
    if (consumer_rpcs_ != nullptr) consumer_rpcs_->OnClientAlive(call.client_id, outcome.consumer_group);
  }
  outcome.registration = std::move(*registration);
  SetOk(reply->mutable_status());
  *reply->mutable_settings() = SettingsReply(settings, server);
  return outcome;
}

grpc::ServerBidiReactor<pb::TelemetryCommand, pb::TelemetryCommand>* MessagingServiceV2::Telemetry(
    grpc::CallbackServerContext* ctx) {
  CallContext call;
  pb::Status status;
  if (!ReadCall(*ctx, &call, &status)) {
    auto* refusal = new StatusOnlyTelemetry(std::move(status));
    refusal->Begin();
    return refusal;
  }
  return telemetry_->Open(ctx, std::move(call), PeerHostPort(ctx->peer()));
}

grpc::ServerUnaryReactor* MessagingServiceV2::Heartbeat(grpc::CallbackServerContext* ctx,
                                                        const pb::HeartbeatRequest* request,
                                                        pb::HeartbeatResponse* response) {
  CallContext call;
  if (!ReadCall(*ctx, &call, response->mutable_status())) return Done(ctx);
  auto registration = telemetry_->OnHeartbeat(call.client_id);
  if (!registration) {
    SetStatus(response->mutable_status(), pb::Code::UNRECOGNIZED_CLIENT_TYPE,
              "x-mq-client-id: this client has sent no Settings over Telemetry yet");
    return Done(ctx);
  }
  auto registered = deps_.client->Heartbeat(*registration, PeerHostPort(ctx->peer()));
  if (!registered.ok()) {
    *response->mutable_status() = ProcessorFailure(registered.status(), pb::Code::BAD_REQUEST);
    return Done(ctx);
  }
  if (consumer_rpcs_ != nullptr && request->has_group() && IsConsumer(request->client_type())) {
    consumer_rpcs_->OnClientAlive(call.client_id, GroupOf(call, request->group()));
  }
  SetOk(response->mutable_status());
  return Done(ctx);
}

grpc::ServerUnaryReactor* MessagingServiceV2::NotifyClientTermination(
    grpc::CallbackServerContext* ctx, const pb::NotifyClientTerminationRequest* request,
    pb::NotifyClientTerminationResponse* response) {
  CallContext call;
  if (!ReadCall(*ctx, &call, response->mutable_status())) return Done(ctx);
  mq::v1::UnregisterClientRequest v1;
  v1.set_client_id(call.client_id);
  if (auto registration = telemetry_->OnHeartbeat(call.client_id)) {
    for (const auto& p : registration->producers()) v1.add_producer_groups(p.group());
    for (const auto& c : registration->consumers()) v1.add_consumer_groups(c.group());
  }
  if (request->has_group() && !request->group().name().empty()) {
    const std::string group = GroupOf(call, request->group());
    v1.add_consumer_groups(group);
    if (consumer_rpcs_ != nullptr) consumer_rpcs_->OnClientGone(call.client_id, group);
  }
  // A client this broker never registered is gone all the same: nothing to refuse.
  if (Status s = deps_.client->Unregister(v1); !s.ok()) {
    MQ_LOG_DEBUG(Logger("broker"), "v2 unregister client_id={}: {}", call.client_id, s.ToString());
  }
  SetOk(response->mutable_status());
  return Done(ctx);
}

pb::TelemetryCommand MessagingServiceV2::ToCheckCommand(const mq::v1::TransactionCheck& check,
                                                        const std::string& ns) const {
  pb::TelemetryCommand command;
  SetOk(command.mutable_status());
  auto* recover = command.mutable_recover_orphaned_transaction_command();
  ToV2Message(check.message(), ns, recover->mutable_message());
  recover->mutable_message()->mutable_system_properties()->set_message_type(pb::MessageType::TRANSACTION);
  const store::HostAddress host{ToStoreOptions(*deps_.ctx.config).store_host_ip,
                                static_cast<uint32_t>(deps_.ctx.config->listenPort)};
  recover->set_transaction_id(store::CreateOffsetMessageId(host, check.commit_log_offset()));
  return command;
}

// ---------------------------------------------------------------------------------------------
// Consumer RPCs: delegated to pop consumption.

grpc::ServerWriteReactor<pb::ReceiveMessageResponse>* MessagingServiceV2::ReceiveMessage(
    grpc::CallbackServerContext* ctx, const pb::ReceiveMessageRequest* request) {
  CallContext call;
  pb::Status status;
  if (ReadCall(*ctx, &call, &status)) {
    if (consumer_rpcs_ != nullptr) return consumer_rpcs_->ReceiveMessage(ctx, request, call);
    SetStatus(&status, pb::Code::NOT_IMPLEMENTED, "ReceiveMessage: pop consumption is not available");
  }
  auto* refusal = new StatusOnlyWriter<pb::ReceiveMessageResponse>(std::move(status));
  refusal->Begin();
  return refusal;
}

grpc::ServerUnaryReactor* MessagingServiceV2::AckMessage(grpc::CallbackServerContext* ctx,
                                                         const pb::AckMessageRequest* request,
                                                         pb::AckMessageResponse* response) {
  CallContext call;
  if (!ReadCall(*ctx, &call, response->mutable_status())) return Done(ctx);
  if (consumer_rpcs_ != nullptr) return consumer_rpcs_->AckMessage(ctx, request, response, call);
  SetStatus(response->mutable_status(), pb::Code::NOT_IMPLEMENTED,
            "AckMessage: pop consumption is not available");
  return Done(ctx);
}

grpc::ServerUnaryReactor* MessagingServiceV2::ChangeInvisibleDuration(
    grpc::CallbackServerContext* ctx, const pb::ChangeInvisibleDurationRequest* request,
    pb::ChangeInvisibleDurationResponse* response) {
  CallContext call;
  if (!ReadCall(*ctx, &call, response->mutable_status())) return Done(ctx);
  if (consumer_rpcs_ != nullptr) return consumer_rpcs_->ChangeInvisibleDuration(ctx, request, response, call);
  SetStatus(response->mutable_status(), pb::Code::NOT_IMPLEMENTED,
            "ChangeInvisibleDuration: pop consumption is not available");
  return Done(ctx);
}

grpc::ServerUnaryReactor* MessagingServiceV2::ForwardMessageToDeadLetterQueue(
    grpc::CallbackServerContext* ctx, const pb::ForwardMessageToDeadLetterQueueRequest* request,
    pb::ForwardMessageToDeadLetterQueueResponse* response) {
  CallContext call;
  if (!ReadCall(*ctx, &call, response->mutable_status())) return Done(ctx);
  if (consumer_rpcs_ != nullptr)
    return consumer_rpcs_->ForwardMessageToDeadLetterQueue(ctx, request, response, call);
  SetStatus(response->mutable_status(), pb::Code::NOT_IMPLEMENTED,
            "ForwardMessageToDeadLetterQueue: pop consumption is not available");
  return Done(ctx);
}

// ---------------------------------------------------------------------------------------------
// Pull-mode and lite consumer RPCs: not served (NotServed), after the call's metadata is checked
// as for every RPC.

grpc::ServerWriteReactor<pb::PullMessageResponse>* MessagingServiceV2::PullMessage(
    grpc::CallbackServerContext* ctx, const pb::PullMessageRequest* /*request*/) {
  CallContext call;
  pb::Status status;
  if (ReadCall(*ctx, &call, &status)) SetStatus(&status, pb::Code::NOT_IMPLEMENTED, NotServed("PullMessage"));
  auto* refusal = new StatusOnlyWriter<pb::PullMessageResponse>(std::move(status));
  refusal->Begin();
  return refusal;
}

template <typename Response>
grpc::ServerUnaryReactor* MessagingServiceV2::RefuseNotServed(grpc::CallbackServerContext* ctx,
                                                              std::string_view rpc, Response* response) {
  CallContext call;
  if (ReadCall(*ctx, &call, response->mutable_status()))
    SetStatus(response->mutable_status(), pb::Code::NOT_IMPLEMENTED, NotServed(rpc));
  return Done(ctx);
}

grpc::ServerUnaryReactor* MessagingServiceV2::UpdateOffset(grpc::CallbackServerContext* ctx,
                                                           const pb::UpdateOffsetRequest* /*request*/,
                                                           pb::UpdateOffsetResponse* response) {
  return RefuseNotServed(ctx, "UpdateOffset", response);
}

grpc::ServerUnaryReactor* MessagingServiceV2::GetOffset(grpc::CallbackServerContext* ctx,
                                                        const pb::GetOffsetRequest* /*request*/,
                                                        pb::GetOffsetResponse* response) {
  return RefuseNotServed(ctx, "GetOffset", response);
}

grpc::ServerUnaryReactor* MessagingServiceV2::QueryOffset(grpc::CallbackServerContext* ctx,
                                                          const pb::QueryOffsetRequest* /*request*/,
                                                          pb::QueryOffsetResponse* response) {
  return RefuseNotServed(ctx, "QueryOffset", response);
}

grpc::ServerUnaryReactor* MessagingServiceV2::SyncLiteSubscription(
    grpc::CallbackServerContext* ctx, const pb::SyncLiteSubscriptionRequest* /*request*/,
    pb::SyncLiteSubscriptionResponse* response) {
  return RefuseNotServed(ctx, "SyncLiteSubscription", response);
}

}  // namespace mq::broker::v2
