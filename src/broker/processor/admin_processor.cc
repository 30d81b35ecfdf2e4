#include "broker/processor/admin_processor.h"

#include <fmt/format.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <memory>
#include <set>
#include <string_view>
#include <thread>

#include "broker/longpolling/wait_registry.h"
#include "broker/meta/client_registry.h"
#include "broker/meta/consumer_offset_manager.h"
#include "broker/meta/subscription_group_manager.h"
#include "broker/meta/topic_config_manager.h"
#include "broker/pop/pop_journal.h"
#include "broker/processor/message_convert.h"
#include "broker/schedule/delay_levels.h"
#include "broker/store/message_store.h"
#include "broker/timer/timer_message.h"
#include "broker/transaction/half_message.h"
#include "common/clock.h"
#include "common/config_file.h"
#include "common/logging.h"
#include "common/naming.h"

namespace mq::broker {
namespace {

constexpr int32_t kDefaultQueryMax = 32;

std::string FormatUptime(int64_t ms) {
  int64_t s = ms / 1000;
  return fmt::format("[ {} days, {} hours, {} minutes, {} seconds ]", s / 86400, s % 86400 / 3600,
                     s % 3600 / 60, s % 60);
}

// The topics the broker keeps its own records in (delayed and scheduled messages, transaction
// halves and their ops, the pop journal, topic deletion markers): deleting one would lose them.
bool IsInternalTopic(std::string_view topic) {
  return topic == schedule::kScheduleTopic || topic == txn::kHalfTopic || topic == txn::kOpHalfTopic ||
         topic == timer::kTimerTopic || topic == store::kTopicDeletionTopic ||
         topic.starts_with(pop::kJournalTopicPrefix);
}

// Starts an asynchronous step and waits for its end. Store puts end within their flush and
// replication timeouts; the bound only guards against a completion that never comes.
Status AwaitCompletion(std::string_view what, const std::function<void(std::function<void(Status)>)>& start) {
  constexpr auto kMostWait = std::chrono::seconds(30);
  auto promise = std::make_shared<std::promise<Status>>();
  auto future = promise->get_future();
  start([promise](Status s) { promise->set_value(std::move(s)); });
  if (future.wait_for(kMostWait) != std::future_status::ready) {
    return Status::Timeout(fmt::format("{}: not done within {} s", what, kMostWait.count()));
  }
  return future.get();
}

}  // namespace

Status AdminProcessor::RequireMaster(const char* what) const {
  if (IsSlave(*ctx_.config)) {
    return Status::PermissionDenied(fmt::format("broker: {} is a SLAVE; {} on the master (slaves copy it)",
                                                ctx_.config->brokerName, what));
  }
  return Status::OK();
}

int64_t AdminProcessor::StoreTimeAt(const std::string& topic, int32_t queue_id, int64_t offset) const {
  if (offset < 0) return 0;
  auto r = ctx_.store->GetMessages("", topic, queue_id, offset, 1, 4 * 1024 * 1024);
  if (r.status != store::GetMessageStatus::kFound || r.messages.empty()) return 0;
  auto view = store::DecodeRecord(r.messages.front(), false);
  return view.ok() ? view->store_timestamp : 0;
}

Status AdminProcessor::CreateTopic(const mq::v1::CreateTopicRequest& r) {
  MQ_RETURN_IF_ERROR(RequireMaster("create topics"));
  if (!r.has_config()) return Status::InvalidArgument("config: is required");
  return ctx_.topics->CreateOrUpdate(r.config());
}

Status AdminProcessor::DeleteTopic(const mq::v1::DeleteTopicOnBrokerRequest& r) {
  MQ_RETURN_IF_ERROR(RequireMaster("delete topics"));
  const std::string& topic = r.topic();
  MQ_RETURN_IF_ERROR(ValidateName("topic", topic));
  if (IsInternalTopic(topic)) {
    return Status::PermissionDenied(
        fmt::format("topic: {} holds the broker's own records and cannot be deleted", topic));
  }
  // The config first, so producers stop sending. A topic without one whose messages are still
  // stored is deleted too: a retry after a crash between the steps.
  Status config = ctx_.topics->Delete(topic);
  if (!config.ok() && !(config.code() == StatusCode::kNotFound && ctx_.store->HasQueues(topic)))
    return config;
  auto marker_end = std::make_shared<int64_t>(0);  // outlives a wait that gave up
  MQ_RETURN_IF_ERROR(AwaitCompletion("topic: deleting its messages", [&](std::function<void(Status)> done) {
    ctx_.store->DeleteTopic(topic, [marker_end, done = std::move(done)](const store::PutResult& put) {
      // Not durable yet in time is still deleted (the flush goes on); what else failed did not.
      const bool appended = put.ok() || put.status == store::PutStatus::kFlushDiskTimeout;
      if (appended) *marker_end = put.physical_offset + put.wrote_bytes;
      done(appended
               ? Status::OK()
               : Status::Unavailable(fmt::format("topic: its messages were not deleted: {}", put.error)));
    });
  }));
  // The pop positions go back to 0 only once the old queues are gone: a pop in between would
  // read the old queue from its start again. The dispatcher reaches the marker within ms.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (ctx_.store->DispatchedPhyOffset() < *marker_end) {
    if (std::chrono::steady_clock::now() > give_up) {
      return Status::Timeout("topic: its queues were not dropped within 10 s; delete it again");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (topic_deleted_hook_) {
    MQ_RETURN_IF_ERROR(AwaitCompletion(
        "topic: resetting its pop positions",
        [&](std::function<void(Status)> done) { topic_deleted_hook_(topic, std::move(done)); }));
  }
  ctx_.offsets->RemoveTopic(topic);
  return Status::OK();
}

Result<mq::v1::GetTopicConfigResponse> AdminProcessor::GetTopicConfig(
    const mq::v1::GetTopicConfigRequest& r) {
  mq::v1::GetTopicConfigResponse resp;
  if (r.topic().empty()) {
    for (auto& t : ctx_.topics->All()) *resp.add_configs() = std::move(t);
    return resp;
  }
  MQ_RETURN_IF_ERROR(ValidateName("topic", r.topic()));
  auto t = ctx_.topics->Get(r.topic());
  if (!t)
    return Status::NotFound(
        fmt::format("topic: '{}' does not exist on broker {}", r.topic(), ctx_.config->brokerName));
  *resp.add_configs() = *t;
  return resp;
}

Result<mq::v1::GetTopicStatsResponse> AdminProcessor::GetTopicStats(const mq::v1::GetTopicStatsRequest& r) {
  MQ_RETURN_IF_ERROR(ValidateName("topic", r.topic()));
  auto t = ctx_.topics->Get(r.topic());
  if (!t)
    return Status::NotFound(
        fmt::format("topic: '{}' does not exist on broker {}", r.topic(), ctx_.config->brokerName));
  mq::v1::GetTopicStatsResponse resp;
  resp.set_broker_name(ctx_.config->brokerName);
  int32_t queues = std::max(t->read_queue_nums(), t->write_queue_nums());
  for (int32_t q = 0; q < queues; ++q) {
    auto* s = resp.add_queues();
    s->set_queue_id(q);
    s->set_min_offset(ctx_.store->MinOffsetInQueue(r.topic(), q));
    s->set_max_offset(ctx_.store->MaxOffsetInQueue(r.topic(), q));
    s->set_last_update_timestamp(s->max_offset() > 0 ? StoreTimeAt(r.topic(), q, s->max_offset() - 1) : 0);
  }
  return resp;
}

Status AdminProcessor::CreateSubscriptionGroup(const mq::v1::CreateSubscriptionGroupRequest& r) {
  MQ_RETURN_IF_ERROR(RequireMaster("create subscription groups"));
  if (!r.has_config()) return Status::InvalidArgument("config: is required");
  return ctx_.groups->CreateOrUpdate(r.config());
}

Status AdminProcessor::DeleteSubscriptionGroup(const mq::v1::DeleteSubscriptionGroupRequest& r) {
  MQ_RETURN_IF_ERROR(RequireMaster("delete subscription groups"));
  MQ_RETURN_IF_ERROR(ValidateName("group", r.group()));
  MQ_RETURN_IF_ERROR(ctx_.groups->Delete(r.group()));
  if (r.remove_offsets()) ctx_.offsets->RemoveGroup(r.group());
  return Status::OK();
}

Result<mq::v1::GetSubscriptionGroupsResponse> AdminProcessor::GetSubscriptionGroups(
    const mq::v1::GetSubscriptionGroupsRequest& r) {
  mq::v1::GetSubscriptionGroupsResponse resp;
  if (r.group().empty()) {
    for (auto& g : ctx_.groups->All()) *resp.add_configs() = std::move(g);
    return resp;
  }
  MQ_RETURN_IF_ERROR(ValidateName("group", r.group()));
  auto g = ctx_.groups->Get(r.group());
  if (!g) return Status::NotFound(fmt::format("group: subscription group '{}' does not exist", r.group()));
  *resp.add_configs() = *g;
  return resp;
}

Result<mq::v1::GetConsumeStatsResponse> AdminProcessor::GetConsumeStats(
    const mq::v1::GetConsumeStatsRequest& r) {
  MQ_RETURN_IF_ERROR(ValidateName("group", r.group()));
  std::set<std::string> topics;
  if (!r.topic().empty()) {
    MQ_RETURN_IF_ERROR(ValidateName("topic", r.topic()));
    topics.insert(r.topic());
  } else {
    for (auto& t : ctx_.offsets->TopicsOfGroup(r.group())) topics.insert(t);
    for (auto& s : ctx_.clients->Subscriptions(r.group())) topics.insert(s.topic());
  }
  if (topics.empty() && !ctx_.groups->Get(r.group())) {
    return Status::NotFound(fmt::format("group: consumer group '{}' is unknown on broker {}", r.group(),
                                        ctx_.config->brokerName));
  }
  mq::v1::GetConsumeStatsResponse resp;
  resp.set_broker_name(ctx_.config->brokerName);
  int64_t total = 0;
  for (const auto& topic : topics) {
    auto t = ctx_.topics->Get(topic);
    if (!t) continue;
    for (int32_t q = 0; q < t->read_queue_nums(); ++q) {
      auto* s = resp.add_queues();
      s->set_topic(topic);
      s->set_queue_id(q);
      s->set_broker_offset(ctx_.store->MaxOffsetInQueue(topic, q));
      auto committed = ctx_.offsets->Query(r.group(), topic, q);
      s->set_consumer_offset(committed.value_or(-1));
      int64_t from = committed ? *committed : ctx_.store->MinOffsetInQueue(topic, q);
      s->set_lag(std::max<int64_t>(0, s->broker_offset() - from));
      s->set_last_timestamp(committed && *committed > 0 ? StoreTimeAt(topic, q, *committed - 1) : 0);
      total += s->lag();
    }
  }
  resp.set_total_lag(total);
  return resp;
}

Result<mq::v1::GetConnectionsResponse> AdminProcessor::GetConnections(const mq::v1::GetConnectionsRequest& r,
                                                                      bool consumers) {
  MQ_RETURN_IF_ERROR(ValidateName("group", r.group()));
  auto infos =
      consumers ? ctx_.clients->ConsumerConnections(r.group()) : ctx_.clients->ProducerConnections(r.group());
  if (infos.empty()) {
    return Status::NotFound(fmt::format("group: no {} of group '{}' is connected to broker {}",
                                        consumers ? "consumer" : "producer", r.group(),
                                        ctx_.config->brokerName));
  }
  mq::v1::GetConnectionsResponse resp;
  for (const auto& info : infos) {
    auto* c = resp.add_connections();
    c->set_client_id(info.client_id);
    c->set_address(info.address);
    c->set_last_heartbeat(info.last_heartbeat_ms);
    c->set_message_model(info.message_model);
    for (const auto& s : info.subscriptions) c->add_subscriptions(s.topic() + ":" + s.expression());
  }
  return resp;
}

mq::v1::GetBrokerRuntimeInfoResponse AdminProcessor::GetRuntimeInfo() {
  mq::v1::GetBrokerRuntimeInfoResponse resp;
  auto& t = *resp.mutable_table();
  const auto& c = *ctx_.config;
  int64_t now = SystemClock::Default()->NowMillis();
  t["brokerVersionDesc"] = "mq 0.1.0";
  t["brokerName"] = c.brokerName;
  t["brokerId"] = std::to_string(c.brokerId);
  t["brokerClusterName"] = c.brokerClusterName;
  t["brokerRole"] = c.brokerRole;
  t["brokerAddr"] = HostPort{c.brokerIP1, static_cast<uint16_t>(c.listenPort)}.ToString();
  t["bootTimestamp"] = std::to_string(start_ms_);
  t["runtime"] = FormatUptime(now - start_ms_);
  t["putTps"] = std::to_string(ctx_.stats->put_tps.load());
  t["getTransferedTps"] = std::to_string(ctx_.stats->got_tps.load());
  t["msgPutTotal"] = std::to_string(ctx_.stats->put_messages.load());
  t["msgGetTotal"] = std::to_string(ctx_.stats->got_messages.load());
  t["commitLogMinOffset"] = std::to_string(ctx_.store->MinPhyOffset());
  t["commitLogMaxOffset"] = std::to_string(ctx_.store->MaxPhyOffset());
  t["commitLogFlushedOffset"] = std::to_string(ctx_.store->FlushedPhyOffset());
  t["dispatchBehindBytes"] = std::to_string(ctx_.store->MaxPhyOffset() - ctx_.store->DispatchedPhyOffset());
  t["topicCount"] = std::to_string(ctx_.topics->Count());
  t["subscriptionGroupCount"] = std::to_string(ctx_.groups->Count());
  // Parked long-polling requests, against maxSuspendedPullRequests.
  t["suspendedRequests"] = std::to_string(ctx_.waits->size());
  t["flushDiskType"] = c.flushDiskType;
  struct statvfs vfs {};
  if (statvfs(c.storePathRootDir.c_str(), &vfs) == 0 && vfs.f_blocks > 0) {
    double used = 1.0 - static_cast<double>(vfs.f_bavail) / static_cast<double>(vfs.f_blocks);
    t["commitLogDiskRatio"] = fmt::format("{:.4f}", used);
  }
  Status bg = ctx_.store->BackgroundError();
  t["storeStatus"] = bg.ok() ? "OK" : bg.ToString();
  if (runtime_info_hook_) {
    std::map<std::string, std::string> extra;
    runtime_info_hook_(&extra);
    for (auto& [k, v] : extra) t[k] = std::move(v);
  }
  return resp;
}

Result<mq::v1::QueryMessageResponse> AdminProcessor::QueryMessage(const mq::v1::QueryMessageRequest& r) {
  mq::v1::QueryMessageResponse resp;
  const std::string& broker = ctx_.config->brokerName;
  int32_t max_num = r.max_num() > 0 ? std::min(r.max_num(), 1024) : kDefaultQueryMax;
  switch (r.by_case()) {
    case mq::v1::QueryMessageRequest::kOffsetMsgId: {
      auto offset = store::DecodeOffsetMessageId(r.offset_msg_id());
      if (!offset.ok()) {
        return Status::InvalidArgument(
            fmt::format("offset_msg_id: '{}' is not a 32-hex-digit offset message id", r.offset_msg_id()));
      }
      auto msg = ctx_.store->LookMessageByOffset(*offset);
      if (!msg.ok())
        return Status::NotFound(fmt::format("offset_msg_id: no message at {}", r.offset_msg_id()));
      ToMessageExt(*msg, broker, resp.add_messages());
      return resp;
    }
    case mq::v1::QueryMessageRequest::kUniqueKey: {
      MQ_RETURN_IF_ERROR(ValidateName("topic", r.topic()));
      auto msg = ctx_.store->QueryMessageByUniqueKey(r.topic(), r.unique_key());
      if (!msg.ok()) {
        return Status::NotFound(
            fmt::format("unique_key: no message '{}' in topic '{}'", r.unique_key(), r.topic()));
      }
      ToMessageExt(*msg, broker, resp.add_messages());
      return resp;
    }
    case mq::v1::QueryMessageRequest::kKey: {
      MQ_RETURN_IF_ERROR(ValidateName("topic", r.topic()));
      if (r.key().empty()) return Status::InvalidArgument("key: must not be empty");
      int64_t end = r.end_timestamp() > 0 ? r.end_timestamp() : INT64_MAX;
      for (const auto& m :
           ctx_.store->QueryMessageByKey(r.topic(), r.key(), max_num, r.begin_timestamp(), end)) {
        ToMessageExt(m, broker, resp.add_messages());
      }
      if (resp.messages_size() == 0) {
        return Status::NotFound(
            fmt::format("key: no message with key '{}' in topic '{}'", r.key(), r.topic()));
      }
      return resp;
    }
    case mq::v1::QueryMessageRequest::kQueueOffset: {
      MQ_RETURN_IF_ERROR(ValidateName("topic", r.topic()));
      const auto& qo = r.queue_offset();
      if (qo.queue_id() < 0 || qo.offset() < 0) {
        return Status::InvalidArgument("queue_offset: queue_id and offset must not be negative");
      }
      auto got = ctx_.store->GetMessages("", r.topic(), qo.queue_id(), qo.offset(), 1, 4 * 1024 * 1024);
      if (got.status != store::GetMessageStatus::kFound || got.messages.empty()) {
        return Status::NotFound(fmt::format("queue_offset: no message at {}@{} offset {}", r.topic(),
                                            qo.queue_id(), qo.offset()));
      }
      MQ_RETURN_IF_ERROR(ToMessageExt(got.messages.front(), broker, resp.add_messages()));
      return resp;
    }
    case mq::v1::QueryMessageRequest::BY_NOT_SET:
      break;
  }
  return Status::InvalidArgument("by: one of offset_msg_id, unique_key, key or queue_offset is required");
}

Result<mq::v1::ResetOffsetResponse> AdminProcessor::ResetOffset(const mq::v1::ResetOffsetRequest& r) {
  MQ_RETURN_IF_ERROR(RequireMaster("reset offsets"));
  MQ_RETURN_IF_ERROR(ValidateName("group", r.group()));
  MQ_RETURN_IF_ERROR(ValidateName("topic", r.topic()));
  if (r.timestamp() < -1)
    return Status::InvalidArgument(fmt::format("timestamp: {} is invalid", r.timestamp()));
  auto t = ctx_.topics->Get(r.topic());
  if (!t)
    return Status::NotFound(
        fmt::format("topic: '{}' does not exist on broker {}", r.topic(), ctx_.config->brokerName));
  std::map<int32_t, int64_t> offsets;
  mq::v1::ResetOffsetResponse resp;
  for (int32_t q = 0; q < t->read_queue_nums(); ++q) {
    int64_t offset;
    if (r.timestamp() == -1) {
      offset = ctx_.store->MaxOffsetInQueue(r.topic(), q);
    } else {
      auto found = ctx_.store->GetOffsetByTimestamp(r.topic(), q, r.timestamp());
      if (!found.ok() && !found.status().IsNotFound()) return found.status();
      offset = found.ok() ? *found : ctx_.store->MaxOffsetInQueue(r.topic(), q);  // empty queue
    }
    offsets[q] = offset;
    auto* s = resp.add_queues();
    s->set_topic(r.topic());
    s->set_queue_id(q);
    s->set_broker_offset(ctx_.store->MaxOffsetInQueue(r.topic(), q));
    s->set_consumer_offset(offset);
    s->set_lag(s->broker_offset() - offset);
  }
  ctx_.offsets->ResetOffsets(r.group(), r.topic(), offsets);
  return resp;
}

mq::v1::GetBrokerConfigResponse AdminProcessor::GetConfig() {
  BrokerConfig copy = *ctx_.config;
  copy.brokerPermission = ctx_.runtime->broker_permission.load();
  copy.slaveReadEnable = ctx_.runtime->slave_read_enable.load();
  copy.longPollingEnable = ctx_.runtime->long_polling_enable.load();
  copy.shortPollingTimeMills = ctx_.runtime->short_polling_time_ms.load();
  mq::v1::GetBrokerConfigResponse resp;
  for (const auto& [k, v] : BindBrokerConfig(&copy).Values()) (*resp.mutable_config())[k] = v;
  return resp;
}

Result<mq::v1::UpdateBrokerConfigResponse> AdminProcessor::UpdateConfig(
    const mq::v1::UpdateBrokerConfigRequest& r) {
  if (r.config().empty()) return Status::InvalidArgument("config: at least one key=value is required");
  BrokerConfig copy = *ctx_.config;
  auto schema = BindBrokerConfig(&copy);
  ConfigMap values;
  for (const auto& [k, v] : r.config()) {
    if (!schema.Has(k)) return Status::InvalidArgument(fmt::format("config.{}: unknown key", k));
    if (std::find(kRuntimeUpdatableKeys.begin(), kRuntimeUpdatableKeys.end(), k) ==
        kRuntimeUpdatableKeys.end()) {
      return Status::InvalidArgument(fmt::format(
          "config.{}: cannot be changed on a running broker (runtime keys: {}); edit broker.conf and restart",
          k, fmt::join(kRuntimeUpdatableKeys, ", ")));
    }
    values[k] = v;
  }
  MQ_RETURN_IF_ERROR(schema.Apply(values, nullptr));
  std::lock_guard lock(update_config_mu_);
  if (values.count("brokerPermission")) {
    ctx_.runtime->broker_permission = copy.brokerPermission;
    if (ctx_.trigger_registration) ctx_.trigger_registration();
  }
  if (values.count("slaveReadEnable")) ctx_.runtime->slave_read_enable = copy.slaveReadEnable;
  if (values.count("longPollingEnable")) ctx_.runtime->long_polling_enable = copy.longPollingEnable;
  if (values.count("shortPollingTimeMills")) ctx_.runtime->short_polling_time_ms = copy.shortPollingTimeMills;
  mq::v1::UpdateBrokerConfigResponse resp;
  *resp.mutable_config() = GetConfig().config();
  // The values as the broker prints them (what a restart reads back), not as the request spelled them.
  ConfigMap written;
  std::string changed;
  for (const auto& [k, v] : values) {
    written[k] = resp.config().at(k);
    changed += fmt::format("{}{}={}", changed.empty() ? "" : " ", k, written[k]);
  }
  const std::string& file = ctx_.config->brokerConfigPath;
  if (file.empty()) {
    MQ_LOG_WARN(Logger("broker"),
                "updateBrokerConfig {}: no config file (-c), in effect until the next start", changed);
  } else if (Status s = UpdateConfigFile(file, written); !s.ok()) {
    MQ_LOG_ERROR(Logger("broker"), "updateBrokerConfig: writing {}: {}; in effect until the next start", file,
                 s.ToString());
    resp.set_persist_error(s.ToString());
  } else {
    MQ_LOG_INFO(Logger("broker"), "updateBrokerConfig: {} written to {}", changed, file);
    resp.set_config_file(file);
  }
  return resp;
}

}  // namespace mq::broker
