#include "broker/processor/client_processor.h"

#include <fmt/format.h>

#include <algorithm>

#include "broker/filter/subscription_filter.h"
#include "broker/longpolling/wait_registry.h"
#include "broker/meta/client_registry.h"
#include "broker/meta/consumer_offset_manager.h"
#include "broker/meta/queue_lock_manager.h"
#include "broker/meta/subscription_group_manager.h"
#include "broker/meta/topic_config_manager.h"
#include "broker/store/message_store.h"
#include "common/naming.h"
#include "common/perm.h"

namespace mq::broker {
namespace {

constexpr int64_t kMaxIdsWaitMillis = 120000;
constexpr size_t kMaxClientIdLength = 1024;

Status CheckClientId(const std::string& id) {
  if (id.empty()) return Status::InvalidArgument("client_id: must not be empty");
  if (id.size() > kMaxClientIdLength) {
    return Status::InvalidArgument(
        fmt::format("client_id: {} characters exceed {}", id.size(), kMaxClientIdLength));
  }
  return Status::OK();
}
constexpr int kMaxGroupsPerHeartbeat = 1024;

}  // namespace

std::string GroupWaitKey(const std::string& group) { return "group:" + group; }

Status ClientProcessor::CheckQueue(const mq::v1::QueueRef& queue, const char* field) const {
  MQ_RETURN_IF_ERROR(ValidateName(fmt::format("{}.topic", field), queue.topic()));
  if (queue.queue_id() < 0) {
    return Status::InvalidArgument(fmt::format("{}.queue_id: {} is negative", field, queue.queue_id()));
  }
  auto topic = ctx_.topics->Get(queue.topic());
  if (!topic) {
    return Status::NotFound(fmt::format("{}.topic: '{}' does not exist on broker {}", field, queue.topic(),
                                        ctx_.config->brokerName));
  }
  int32_t queues = std::max(topic->read_queue_nums(), topic->write_queue_nums());
  if (queue.queue_id() >= queues) {
    return Status::InvalidArgument(fmt::format("{}.queue_id: {} is out of range [0, {}) of topic '{}'", field,
                                               queue.queue_id(), queues, queue.topic()));
  }
  return Status::OK();
}

Result<int64_t> ClientProcessor::QueryConsumerOffset(const mq::v1::QueryConsumerOffsetRequest& r) {
  MQ_RETURN_IF_ERROR(ValidateName("consumer_group", r.consumer_group()));
  MQ_RETURN_IF_ERROR(CheckQueue(r.queue(), "queue"));
  auto offset = ctx_.offsets->Query(r.consumer_group(), r.queue().topic(), r.queue().queue_id());
  if (!offset) {
    return Status::NotFound(fmt::format("consumer_group: '{}' has no offset for {}@{}", r.consumer_group(),
                                        r.queue().topic(), r.queue().queue_id()));
  }
  return *offset;
}

Status ClientProcessor::UpdateConsumerOffset(const mq::v1::UpdateConsumerOffsetRequest& r) {
  MQ_RETURN_IF_ERROR(ValidateName("consumer_group", r.consumer_group()));
  MQ_RETURN_IF_ERROR(CheckQueue(r.queue(), "queue"));
  if (r.offset() < 0) return Status::InvalidArgument(fmt::format("offset: {} is negative", r.offset()));
  // Counted against maxSubscriptionGroupCount like the group's pulls: the offset table (and the
  // file rewritten from it) must not grow with every name a client makes up.
  MQ_RETURN_IF_ERROR(ctx_.groups->FindOrAutoCreate(r.consumer_group()).status());
  ctx_.offsets->Commit(r.consumer_group(), r.queue().topic(), r.queue().queue_id(), r.offset());
  return Status::OK();
}

Result<mq::v1::GetQueueOffsetsResponse> ClientProcessor::GetQueueOffsets(
    const mq::v1::GetQueueOffsetsRequest& r) {
  MQ_RETURN_IF_ERROR(CheckQueue(r.queue(), "queue"));
  mq::v1::GetQueueOffsetsResponse resp;
  resp.set_min_offset(ctx_.store->MinOffsetInQueue(r.queue().topic(), r.queue().queue_id()));
  resp.set_max_offset(ctx_.store->MaxOffsetInQueue(r.queue().topic(), r.queue().queue_id()));
  return resp;
}

Result<int64_t> ClientProcessor::SearchOffset(const mq::v1::SearchOffsetRequest& r) {
  MQ_RETURN_IF_ERROR(CheckQueue(r.queue(), "queue"));
  if (r.timestamp() < 0)
    return Status::InvalidArgument(fmt::format("timestamp: {} is negative", r.timestamp()));
  return ctx_.store->GetOffsetByTimestamp(r.queue().topic(), r.queue().queue_id(), r.timestamp());
}

Result<mq::v1::HeartbeatResponse> ClientProcessor::Heartbeat(const mq::v1::HeartbeatRequest& r,
                                                             const std::string& peer) {
  MQ_RETURN_IF_ERROR(CheckClientId(r.client_id()));
  // One client has a handful of groups; the bound keeps a heartbeat from filling the tables.
  if (r.producers_size() > kMaxGroupsPerHeartbeat || r.consumers_size() > kMaxGroupsPerHeartbeat) {
    return Status::InvalidArgument(fmt::format("producers/consumers: {} / {} groups exceed {} per heartbeat",
                                               r.producers_size(), r.consumers_size(),
                                               kMaxGroupsPerHeartbeat));
  }
  for (int i = 0; i < r.producers_size(); ++i) {
    MQ_RETURN_IF_ERROR(ValidateName(fmt::format("producers[{}].group", i), r.producers(i).group()));
  }
  for (int i = 0; i < r.consumers_size(); ++i) {
    const auto& c = r.consumers(i);
    const std::string field = fmt::format("consumers[{}].group", i);
    MQ_RETURN_IF_ERROR(c.message_model() == mq::v1::CLUSTERING ? ValidateRetryingGroup(field, c.group())
                                                               : ValidateName(field, c.group()));
    for (int j = 0; j < c.subscriptions_size(); ++j) {
      MQ_RETURN_IF_ERROR(ValidateName(fmt::format("consumers[{}].subscriptions[{}].topic", i, j),
                                      c.subscriptions(j).topic()));
      // Refused here too, so a consumer with a bad selector fails at start, not at its pulls.
      const auto& sub = c.subscriptions(j);
      if (auto f = MakeSubscriptionFilter(sub.expression_type(), sub.expression(),
                                          ctx_.config->enablePropertyFilter, ctx_.sql_filters,
                                          ctx_.config->brokerName);
          !f.ok()) {
        return Status(f.status().code(), fmt::format("consumers[{}].subscriptions[{}] (topic '{}'): {}", i, j,
                                                     sub.topic(), f.status().message()));
      }
    }
    auto group = ctx_.groups->FindOrAutoCreate(c.group());
    if (!group.ok()) return group.status();
    // RocketMQ creates the group's retry topic on heartbeat, so its route exists before the
    // first send-back and consumers can subscribe to it at once (masters only: slaves copy it).
    if (c.message_model() == mq::v1::CLUSTERING && !IsSlave(*ctx_.config)) {
      auto retry = ctx_.topics->CreateIfAbsent("%RETRY%" + c.group(), std::max(1, group->retry_queue_nums()),
                                               kPermReadWrite);
      if (!retry.ok()) return retry.status();
    }
  }
  mq::v1::HeartbeatResponse resp;
  MQ_ASSIGN_OR_RETURN(auto versions, ctx_.clients->TryHeartbeat(r.client_id(), peer, r));
  for (const auto& [group, version] : versions) (*resp.mutable_consumer_group_versions())[group] = version;
  return resp;
}

Status ClientProcessor::Unregister(const mq::v1::UnregisterClientRequest& r) {
  if (r.client_id().empty()) return Status::InvalidArgument("client_id: must not be empty");
  ctx_.clients->Unregister(r.client_id(), {r.producer_groups().begin(), r.producer_groups().end()},
                           {r.consumer_groups().begin(), r.consumer_groups().end()});
  return Status::OK();
}

void ClientProcessor::GetConsumerIds(const mq::v1::GetConsumerIdsRequest& r, IdsDone done) {
  mq::v1::GetConsumerIdsResponse resp;
  if (Status s = ValidateName("consumer_group", r.consumer_group()); !s.ok()) return done(s, resp);
  if (r.wait_millis() < 0 || r.wait_millis() > kMaxIdsWaitMillis) {
    return done(Status::InvalidArgument(fmt::format("wait_millis: {} is out of range [0, {}]",
                                                    r.wait_millis(), kMaxIdsWaitMillis)),
                resp);
  }
  auto fill = [clients = ctx_.clients, group = r.consumer_group()](mq::v1::GetConsumerIdsResponse* out) {
    auto [ids, version] = clients->ConsumerIds(group);
    out->Clear();
    for (auto& id : ids) out->add_client_ids(std::move(id));
    out->set_version(version);
  };
  fill(&resp);
  if (r.wait_millis() == 0 || resp.version() != r.known_version()) return done(Status::OK(), resp);
  auto shared_done = std::make_shared<IdsDone>(std::move(done));
  Status parked =
      ctx_.waits->Park(GroupWaitKey(r.consumer_group()), std::chrono::milliseconds(r.wait_millis()),
                       [fill, known = r.known_version(), shared_done](bool timed_out) {
                         mq::v1::GetConsumerIdsResponse out;
                         fill(&out);
                         if (out.version() == known && !timed_out) return false;
                         (*shared_done)(Status::OK(), out);
                         return true;
                       });
  if (!parked.ok()) (*shared_done)(parked, resp);
}

Result<mq::v1::LockBatchResponse> ClientProcessor::LockBatch(const mq::v1::LockBatchRequest& r) {
  MQ_RETURN_IF_ERROR(ValidateName("consumer_group", r.consumer_group()));
  MQ_RETURN_IF_ERROR(CheckClientId(r.client_id()));  // a copy is kept per locked queue
  for (int i = 0; i < r.queues_size(); ++i) {
    MQ_RETURN_IF_ERROR(CheckQueue(r.queues(i), fmt::format("queues[{}]", i).c_str()));
  }
  MQ_RETURN_IF_ERROR(ctx_.groups->FindOrAutoCreate(r.consumer_group()).status());
  mq::v1::LockBatchResponse resp;
  for (auto& q :
       ctx_.locks->TryLockBatch(r.consumer_group(), r.client_id(), {r.queues().begin(), r.queues().end()})) {
    *resp.add_locked() = std::move(q);
  }
  return resp;
}

Status ClientProcessor::UnlockBatch(const mq::v1::LockBatchRequest& r) {
  MQ_RETURN_IF_ERROR(ValidateName("consumer_group", r.consumer_group()));
  MQ_RETURN_IF_ERROR(CheckClientId(r.client_id()));
  ctx_.locks->UnlockBatch(r.consumer_group(), r.client_id(), {r.queues().begin(), r.queues().end()});
  return Status::OK();
}

}  // namespace mq::broker
