#include "broker/processor/send_processor.h"

#include <fmt/format.h>

#include "broker/ha/ha_service.h"
#include "broker/meta/topic_config_manager.h"
#include "broker/pop/pop_journal.h"
#include "broker/processor/message_convert.h"
#include "broker/processor/send_request_wire.h"
#include "broker/schedule/delay_levels.h"
#include "broker/store/message_store.h"
#include "broker/timer/timer_message.h"
#include "broker/transaction/half_message.h"
#include "common/clock.h"
#include "common/message_id.h"
#include "common/naming.h"
#include "common/perm.h"

namespace mq::broker {

Status SendBudgetExhausted(const ByteBudget& budget) {
  return Status::ResourceExhausted(fmt::format(
      "send: the broker holds {} bytes of send requests in progress (sendRequestMemoryQuota={}); retry later",
      budget.used(), budget.limit()));
}

namespace {

constexpr int kMaxBatchMessages = 1024;

// What the checks read of one message.
struct EntryFacts {
  std::string_view topic;
  size_t body_size = 0;
  int32_t delay_level = 0;
  std::string_view unique_key;  // empty: the broker chooses one
};

// The checks of a send, on plain values so that the protobuf and the wire path share them.
// `entry(i)` gives the EntryFacts of messages[i].
template <typename EntryAt>
Status ValidateSend(std::string_view topic, std::string_view producer_group, bool prepared, int count,
                    int64_t max_message_size, const EntryAt& entry) {
  MQ_RETURN_IF_ERROR(ValidateName("topic", topic));
  if (topic == "TBW102") {
    return Status::InvalidArgument("topic: TBW102 is the auto-create template topic and cannot be written");
  }
  if (topic == schedule::kScheduleTopic) {
    return Status::InvalidArgument(
        "topic: SCHEDULE_TOPIC_XXXX holds delayed messages; send to the real topic with a delay_level");
  }
  if (topic.starts_with(pop::kJournalTopicPrefix)) {
    return Status::InvalidArgument(
        fmt::format("topic: '{}' is the broker's pop journal and cannot be written", topic));
  }
  if (!producer_group.empty()) MQ_RETURN_IF_ERROR(ValidateName("producer_group", producer_group));
  if (topic == txn::kHalfTopic || topic == txn::kOpHalfTopic) {
    return Status::InvalidArgument(
        fmt::format("topic: '{}' is the broker's transaction topic and cannot be written", topic));
  }
  if (prepared) {
    if (producer_group.empty())
      return Status::InvalidArgument("producer_group: required for a transactional (prepared) message");
    if (count != 1) {
      return Status::InvalidArgument(fmt::format(
          "messages: a transactional (prepared) send carries exactly one message, not {}", count));
    }
  }
  if (count == 0) return Status::InvalidArgument("messages: at least one message is required");
  if (count > kMaxBatchMessages) {
    return Status::InvalidArgument(
        fmt::format("messages: a batch of {} exceeds {} messages", count, kMaxBatchMessages));
  }
  int64_t total = 0;
  for (int i = 0; i < count; ++i) {
    const EntryFacts m = entry(i);
    if (!m.topic.empty() && m.topic != topic) {
      return Status::InvalidArgument(fmt::format(
          "messages[{}].topic: '{}' differs from topic '{}' (a batch carries one topic)", i, m.topic, topic));
    }
    if (m.body_size == 0)
      return Status::InvalidArgument(fmt::format("messages[{}].body: must not be empty", i));
    if (static_cast<int64_t>(m.body_size) > max_message_size) {
      return Status::InvalidArgument(fmt::format("messages[{}].body: {} bytes exceed maxMessageSize {}", i,
                                                 m.body_size, max_message_size));
    }
    if (!m.unique_key.empty()) {
      MQ_RETURN_IF_ERROR(ValidateMessageId(fmt::format("messages[{}].unique_key", i), m.unique_key));
    }
    if (m.delay_level < 0) {
      return Status::InvalidArgument(
          fmt::format("messages[{}].delay_level: {} is negative", i, m.delay_level));
    }
    if (m.delay_level > 0 && count > 1) {
      // RocketMQ: "TimeDelayLevel is not supported for batched messages".
      return Status::InvalidArgument(fmt::format(
          "messages[{}].delay_level: a batch cannot carry delayed messages; send them one by one", i));
    }
    if (m.delay_level > 0 && prepared) {
      return Status::InvalidArgument(
          fmt::format("messages[{}].delay_level: a transactional (prepared) message cannot be delayed", i));
    }
    total += static_cast<int64_t>(m.body_size);
  }
  if (total > max_message_size) {
    return Status::InvalidArgument(fmt::format(
        "messages: the batch body of {} bytes exceeds maxMessageSize {}", total, max_message_size));
  }
  return Status::OK();
}

Status ValidateRequest(const mq::v1::SendMessageRequest& req, int64_t max_message_size) {
  return ValidateSend(req.topic(), req.producer_group(), req.transaction_prepared(), req.messages_size(),
                      max_message_size, [&req](int i) {
                        const auto& m = req.messages(i);
                        return EntryFacts{m.topic(), m.body().size(), m.delay_level(), m.unique_key()};
                      });
}

Status PutStatusToStatus(const store::PutResult& r) {
  switch (r.status) {
    case store::PutStatus::kOk:
    case store::PutStatus::kFlushDiskTimeout:
    case store::PutStatus::kFlushSlaveTimeout:
    case store::PutStatus::kSlaveNotAvailable:
      return Status::OK();
    case store::PutStatus::kMessageIllegal:
    case store::PutStatus::kPropertiesSizeExceeded:
      return Status::InvalidArgument(r.error);
    case store::PutStatus::kOsPageCacheBusy:
      return Status::ResourceExhausted(r.error);
    case store::PutStatus::kServiceNotAvailable:
    case store::PutStatus::kCreateMappedFileFailed:
      return Status::Unavailable(r.error);
    case store::PutStatus::kUnknownError:
      break;
  }
  return Status::Internal(r.error.empty() ? "unknown store error" : r.error);
}

mq::v1::SendStatus ToSendStatus(store::PutStatus s) {
  switch (s) {
    case store::PutStatus::kFlushDiskTimeout:
      return mq::v1::FLUSH_DISK_TIMEOUT;
    case store::PutStatus::kFlushSlaveTimeout:
      return mq::v1::FLUSH_SLAVE_TIMEOUT;
    case store::PutStatus::kSlaveNotAvailable:
      return mq::v1::SLAVE_NOT_AVAILABLE;
    default:
      return mq::v1::SEND_OK;
  }
}

}  // namespace

SendProcessor::SendProcessor(BrokerContext ctx, ha::HaService* ha)
    : ctx_(ctx),
      ha_(ha),
      store_host_{ToStoreOptions(*ctx.config).store_host_ip, static_cast<uint32_t>(ctx.config->listenPort)} {}

Result<int32_t> SendProcessor::ResolveQueue(const std::string& topic_name, int32_t default_topic_queue_nums,
                                            int32_t requested_queue) {
  const BrokerConfig& config = *ctx_.config;
  if (IsSlave(config)) {
    return Status::PermissionDenied(
        fmt::format("broker: {} (brokerId {}) is a SLAVE and refuses writes; send to the master",
                    config.brokerName, config.brokerId));
  }
  if (!IsWritable(ctx_.runtime->broker_permission.load())) {
    return Status::PermissionDenied(fmt::format("broker: brokerPermission {} of {} forbids writes",
                                                ctx_.runtime->broker_permission.load(), config.brokerName));
  }
  MQ_ASSIGN_OR_RETURN(auto topic, ctx_.topics->CreateOnSend(topic_name, default_topic_queue_nums));
  if (!IsWritable(topic.perm())) {
    return Status::PermissionDenied(
        fmt::format("topic: '{}' has perm {} and refuses writes", topic_name, topic.perm()));
  }
  const int32_t queues = topic.write_queue_nums();
  if (requested_queue < 0) {
    return static_cast<int32_t>(round_robin_.fetch_add(1) % static_cast<uint32_t>(std::max(1, queues)));
  }
  if (requested_queue >= queues) {
    return Status::InvalidArgument(fmt::format("queue_id: {} is out of range [0, {}) of topic '{}'",
                                               requested_queue, queues, topic_name));
  }
  return requested_queue;
}

store::PutCallback SendProcessor::Completion(int64_t messages, int64_t body_bytes,
                                             std::function<void(const store::PutResult&)> reply) const {
  BrokerStats* stats = ctx_.stats;
  store::PutCallback complete = [stats, messages, body_bytes,
                                 reply = std::move(reply)](const store::PutResult& r) {
    if (PutStatusToStatus(r).ok()) {
      stats->put_messages += messages;
      stats->put_bytes += body_bytes;
    }
    reply(r);
  };
  if (ctx_.config->flushDiskType == "SYNC_FLUSH") complete = WithDurableTopic(std::move(complete));
  if (ha_ != nullptr) complete = WithReplication(std::move(complete));
  return complete;
}

void SendProcessor::Send(mq::v1::SendMessageRequest* request, mq::v1::SendMessageResponse* response,
                         Done done) {
  const mq::v1::SendMessageRequest& req = *request;
  auto fail = [&](const Status& s) { done(s); };
  const BrokerConfig& config = *ctx_.config;
  if (Status s = ValidateRequest(req, config.maxMessageSize); !s.ok()) return fail(s);
  if (ctx_.delay_levels == nullptr && req.messages_size() == 1 && req.messages(0).delay_level() > 0) {
    return fail(Status::NotSupported("messages[0].delay_level: this broker has no delay-level service"));
  }
  auto queue = ResolveQueue(req.topic(), req.default_topic_queue_nums(), req.queue_id());
  if (!queue.ok()) return fail(queue.status());
  const int32_t queue_id = *queue;

  std::vector<store::MessageInput> inputs;
  std::vector<std::string> ids;
  inputs.reserve(static_cast<size_t>(req.messages_size()));
  for (auto& m : *request->mutable_messages()) {
    ids.push_back(m.unique_key().empty() ? NewUniqueMessageId() : m.unique_key());
    inputs.push_back(ToMessageInput(&m, req.topic(), queue_id, ids.back()));
    if (req.transaction_prepared()) txn::ToHalfMessage(&inputs.back(), req.producer_group());
    // Delayed: stored in SCHEDULE_TOPIC_XXXX until due. The reply still names the real queue
    // (and the schedule queue's offset), as RocketMQ's SendResult does.
    if (m.delay_level() > 0) schedule::ToScheduled(ctx_.delay_levels->Clamp(m.delay_level()), &inputs.back());
  }
  auto recall_handle = ScheduleTimer(req, &inputs);
  if (!recall_handle.ok()) return fail(recall_handle.status());
  int64_t body_bytes = 0;
  for (const auto& in : inputs) body_bytes += static_cast<int64_t>(in.body.size());

  const auto messages = static_cast<int64_t>(ids.size());
  store::PutCallback complete = Completion(
      messages, body_bytes,
      [done = std::move(done), response, ids = std::move(ids), broker_name = config.brokerName, queue_id,
       store_host = store_host_, recall_handle = std::move(*recall_handle)](const store::PutResult& r) {
        Status s = PutStatusToStatus(r);
        if (!s.ok()) return done(s);
        mq::v1::SendMessageResponse& resp = *response;
        resp.set_status(ToSendStatus(r.status));
        resp.set_broker_name(broker_name);
        resp.set_queue_id(queue_id);
        resp.set_queue_offset(r.queue_offset);
        for (size_t i = 0; i < ids.size(); ++i) {
          auto* e = resp.add_entries();
          e->set_msg_id(ids[i]);
          e->set_queue_offset(r.queue_offset + static_cast<int64_t>(i));
          e->set_offset_msg_id(store::CreateOffsetMessageId(store_host, r.physical_offsets.at(i)));
          e->set_commit_log_offset(r.physical_offsets.at(i));
          if (!recall_handle.empty()) e->set_recall_handle(recall_handle);
        }
        done(Status::OK());
      });
  if (inputs.size() == 1) {
    ctx_.store->PutMessage(std::move(inputs.front()), std::move(complete));
  } else {
    ctx_.store->PutMessages(std::move(inputs), std::move(complete));
  }
}

bool SendProcessor::TrySendWire(std::string_view wire, store::HostAddress sender, WireDone done) {
  auto req = std::make_shared<WireSendRequest>();
  if (!ReadSendRequest(wire, req.get()) || req->transaction_prepared) return false;
  int64_t body_bytes = 0;
  for (const WireMessage& m : req->messages) {
    // Delays, schedules and broker-chosen ids are the protobuf path's.
    if (m.delay_level != 0 || m.deliver_time_ms != 0 || m.unique_key.empty()) return false;
    body_bytes += static_cast<int64_t>(m.body.size());
  }
  const BrokerConfig& config = *ctx_.config;
  Status valid = ValidateSend(req->topic, req->producer_group, false, static_cast<int>(req->messages.size()),
                              config.maxMessageSize, [&req](int i) {
                                const WireMessage& m = req->messages[static_cast<size_t>(i)];
                                return EntryFacts{m.topic, m.body.size(), m.delay_level, m.unique_key};
                              });
  if (!valid.ok()) {
    done(valid, {});
    return true;
  }
  if (req->topic == timer::kTimerTopic) return false;  // ScheduleTimer's error
  store::RecordBatch batch;
  if (!EncodeRecords(*req, store_host_, sender, config.maxMessageSize, &batch.bytes)) return false;
  batch.topic = std::string(req->topic);
  auto queue = ResolveQueue(batch.topic, req->default_topic_queue_nums, req->queue_id);
  if (!queue.ok()) {
    done(queue.status(), {});
    return true;
  }
  batch.queue_id = *queue;
  const auto messages = static_cast<int64_t>(req->messages.size());
  ctx_.store->PutRecords(
      std::move(batch),
      Completion(messages, body_bytes,
                 [done = std::move(done), req, broker_name = config.brokerName, queue_id = *queue,
                  store_host = store_host_](const store::PutResult& r) {
                   Status s = PutStatusToStatus(r);
                   if (!s.ok()) return done(s, {});
                   done(Status::OK(),
                        EncodeSendResponse(ToSendStatus(r.status), broker_name, queue_id, r.queue_offset,
                                           *req, r.physical_offsets, store_host));
                 }));
  return true;
}

void SendProcessor::SendWire(std::string_view wire, const std::string& sender, WireDone done) {
  if (TrySendWire(wire, ParseHostAddress(sender), done)) return;
  struct Parsed {
    mq::v1::SendMessageRequest request;
    mq::v1::SendMessageResponse reply;
  };
  auto parsed = std::make_shared<Parsed>();
  if (!parsed->request.ParseFromArray(wire.data(), static_cast<int>(wire.size()))) {
    done(Status::InvalidArgument("request: not a valid mq.v1.SendMessageRequest"), {});
    return;
  }
  // A message without a born host was born at the sender's address, which RocketMQ records
  // from the channel (v1 clients send none).
  for (auto& m : *parsed->request.mutable_messages()) {
    if (m.born_host().empty()) m.set_born_host(sender);
  }
  Send(&parsed->request, &parsed->reply, [done = std::move(done), parsed](const Status& s) {
    done(s, s.ok() ? parsed->reply.SerializeAsString() : std::string());
  });
}

// A message with a future delivery time is parked in the timer topic (RocketMQ
// HookUtils.handleScheduleMessage); the reply then reports the timer queue's offset, as
// RocketMQ does, plus the recall handle. Returns the handle ("" when nothing is scheduled).
Result<std::string> SendProcessor::ScheduleTimer(const mq::v1::SendMessageRequest& req,
                                                 std::vector<store::MessageInput>* inputs) const {
  const BrokerConfig& config = *ctx_.config;
  if (req.topic() == timer::kTimerTopic) {
    return Status::InvalidArgument(
        fmt::format("topic: {} is the timer's system topic and cannot be written", timer::kTimerTopic));
  }
  const timer::TimerPolicy policy{config.timerWheelEnable, config.timerPrecisionMs, config.timerMaxDelaySec};
  const int64_t now = WallMillis();
  std::string handle;
  for (int i = 0; i < req.messages_size(); ++i) {
    auto& in = (*inputs)[static_cast<size_t>(i)];
    MQ_ASSIGN_OR_RETURN(int64_t deliver_ms,
                        timer::RequestedDeliverMs(in, req.messages(i).deliver_time_ms(), now, policy, i));
    if (deliver_ms == 0) continue;
    if (req.messages(i).delay_level() > 0) {
      return Status::InvalidArgument(fmt::format(
          "messages[{}].deliver_time_ms: a message takes a delivery time or a delay_level, not both", i));
    }
    if (req.transaction_prepared()) {
      return Status::InvalidArgument(fmt::format(
          "messages[{}].deliver_time_ms: a transactional (prepared) message cannot be scheduled", i));
    }
    if (req.messages_size() > 1) {
      return Status::InvalidArgument(fmt::format(
          "messages[{}].deliver_time_ms: a scheduled message cannot be sent in a batch (as in RocketMQ)", i));
    }
    handle = timer::EncodeRecallHandle(timer::RecallHandle{
        req.topic(), config.brokerName, deliver_ms, in.properties[std::string(store::kPropertyUniqKey)]});
    timer::ParkInTimerTopic(&in, deliver_ms, now);
  }
  return handle;
}

store::PutCallback SendProcessor::WithDurableTopic(store::PutCallback complete) const {
  TopicConfigManager* topics = ctx_.topics;
  return [topics, complete = std::move(complete)](const store::PutResult& r) {
    if (r.status != store::PutStatus::kOk) return complete(r);
    // At once unless an auto-created topic (this one or another) is not on disk yet; then the
    // table write starts now and every send completing meanwhile shares it.
    topics->WhenDurable([r, complete](const Status& s) {
      if (s.ok()) return complete(r);
      store::PutResult failed = r;
      failed.status = store::PutStatus::kServiceNotAvailable;
      failed.error =
          "topic: the message is stored but its auto-created topic could not be written to "
          "topics.json: " +
          s.message();
      complete(failed);
    });
  };
}

store::PutCallback SendProcessor::WithReplication(store::PutCallback complete) const {
  ha::HaService* ha = ha_;
  if (ctx_.config->brokerRole != "SYNC_MASTER") return complete;
  store::MessageStore* store = ctx_.store;
  const auto timeout = std::chrono::milliseconds(ctx_.config->syncFlushTimeout);
  return [ha, store, timeout, complete = std::move(complete)](const store::PutResult& r) {
    // A failed or not-durable local write is reported as such; replication is not awaited.
    if (r.status != store::PutStatus::kOk) return complete(r);
    // One record cannot straddle a segment roll; a batch can (a blank in between), so its end
    // is bounded by the log end instead (waits for at most a few more bytes).
    const int64_t end = r.msg_num <= 1 ? r.physical_offset + r.wrote_bytes : store->MaxPhyOffset();
    ha->WaitForSlaves(end, timeout, [r, complete](store::PutStatus replicated) {
      store::PutResult result = r;
      result.status = replicated;
      complete(result);
    });
  };
}

}  // namespace mq::broker
