#include "broker/processor/send_back_processor.h"

#include <fmt/format.h>

#include <algorithm>
#include <random>

#include "broker/meta/subscription_group_manager.h"
#include "broker/meta/topic_config_manager.h"
#include "broker/schedule/delay_levels.h"
#include "broker/store/message_store.h"
#include "common/naming.h"
#include "common/perm.h"

namespace mq::broker {
namespace {

constexpr std::string_view kPropertyRetryTopic = "RETRY_TOPIC";
constexpr std::string_view kPropertyOriginMessageId = "ORIGIN_MESSAGE_ID";
constexpr std::string_view kPropertyReconsumeTime = "RECONSUME_TIME";
constexpr std::string_view kPropertyMaxReconsumeTimes = "MAX_RECONSUME_TIMES";

Result<int64_t> ResolveOffset(const mq::v1::ConsumerSendMsgBackRequest& req) {
  if (!req.offset_msg_id().empty()) {
    auto offset = store::DecodeOffsetMessageId(req.offset_msg_id());
    if (!offset.ok()) {
      return Status::InvalidArgument(fmt::format("offset_msg_id: '{}' is not an offset message id: {}",
                                                 req.offset_msg_id(), offset.status().message()));
    }
    return *offset;
  }
  if (req.commit_log_offset() < 0) {
    return Status::InvalidArgument(fmt::format("commit_log_offset: {} is negative", req.commit_log_offset()));
  }
  return req.commit_log_offset();
}

}  // namespace

SendBackProcessor::SendBackProcessor(BrokerContext ctx) : ctx_(ctx) {}

void SendBackProcessor::SendBack(const mq::v1::ConsumerSendMsgBackRequest& req, Done done) {
  mq::v1::ConsumerSendMsgBackResponse response;
  auto fail = [&](const Status& s) { done(s, response); };
  const BrokerConfig& config = *ctx_.config;
  if (Status s = ValidateRetryingGroup("group", req.group()); !s.ok()) return fail(s);
  if (!req.origin_topic().empty()) {
    if (Status s = ValidateName("origin_topic", req.origin_topic()); !s.ok()) return fail(s);
  }
  auto offset = ResolveOffset(req);
  if (!offset.ok()) return fail(offset.status());
  if (IsSlave(config)) {
    return fail(Status::PermissionDenied(
        fmt::format("broker: {} (brokerId {}) is a SLAVE and refuses send-backs; send to the master",
                    config.brokerName, config.brokerId)));
  }
  if (!IsWritable(ctx_.runtime->broker_permission.load())) {
    return fail(Status::PermissionDenied(
        fmt::format("broker: brokerPermission {} forbids writes", ctx_.runtime->broker_permission.load())));
  }
  auto group = ctx_.groups->FindOrAutoCreate(req.group());
  if (!group.ok()) return fail(group.status());
  auto original = ctx_.store->LookMessageByOffset(*offset);
  if (!original.ok()) {
    return fail(Status::NotFound(
        fmt::format("commit_log_offset: no message at {} ({})", *offset, original.status().message())));
  }
  const std::string uniq_key = original->Property(store::kPropertyUniqKey);
  if (!req.msg_id().empty() && req.msg_id() != uniq_key) {
    return fail(Status::InvalidArgument(
        fmt::format("msg_id: '{}' is not the message at commit log offset {} (its id is '{}')", req.msg_id(),
                    *offset, uniq_key)));
  }

  const int32_t reconsume_times = original->header.reconsume_times;
  // A producer may set the count to anything: the arithmetic below saturates.
  const int32_t next_times = reconsume_times < INT32_MAX ? reconsume_times + 1 : INT32_MAX;
  const int32_t max_times = req.has_max_reconsume_times() && req.max_reconsume_times() >= 0
                                ? req.max_reconsume_times()
                                : group->retry_max_times();
  const bool to_dlq = req.delay_level() < 0 || reconsume_times >= max_times;
  std::string topic;
  int32_t level = 0;
  int32_t queue_id = 0;
  if (to_dlq) {
    topic = std::string(kDlqGroupTopicPrefix) + req.group();
    auto created = ctx_.topics->CreateIfAbsent(topic, 1, kPermRead);
    if (!created.ok()) return fail(created.status());
  } else {
    topic = std::string(kRetryGroupTopicPrefix) + req.group();
    auto created = ctx_.topics->CreateIfAbsent(topic, std::max(1, group->retry_queue_nums()), kPermReadWrite);
    if (!created.ok()) return fail(created.status());
    if (!IsWritable(created->perm())) {
      return fail(Status::PermissionDenied(
          fmt::format("topic: '{}' has perm {} and refuses send-backs", topic, created->perm())));
    }
    // A random queue of the group's retry queues (RocketMQ's too): with retryQueueNums > 1 the
    // retries spread over the members that share the retry topic.
    const int32_t queues = std::max(1, std::min(group->retry_queue_nums(), created->write_queue_nums()));
    thread_local std::minstd_rand random(std::random_device{}());
    queue_id = static_cast<int32_t>(random() % static_cast<uint32_t>(queues));
    const int64_t wanted = req.delay_level() == 0 ? int64_t{3} + reconsume_times : req.delay_level();
    level = ctx_.delay_levels->Clamp(static_cast<int32_t>(std::clamp<int64_t>(wanted, 1, INT32_MAX)));
  }

  store::MessageInput in;
  in.topic = topic;
  in.queue_id = queue_id;
  in.flag = original->header.flag;
  in.body = std::move(original->body);
  in.properties = std::move(original->properties);
  for (auto key : {schedule::kPropertyDelay, schedule::kPropertyRealTopic, schedule::kPropertyRealQueueId}) {
    in.properties.erase(std::string(key));
  }
  in.properties.try_emplace(std::string(kPropertyRetryTopic), original->topic);
  in.properties.try_emplace(
      std::string(kPropertyOriginMessageId),
      uniq_key.empty() ? store::CreateOffsetMessageId(original->header.store_host, *offset) : uniq_key);
  in.properties[std::string(kPropertyReconsumeTime)] = std::to_string(next_times);
  in.properties[std::string(kPropertyMaxReconsumeTimes)] = std::to_string(max_times);
  in.sys_flag = original->header.sys_flag;
  in.born_timestamp = original->header.born_timestamp;
  in.born_host = original->header.born_host;
  in.reconsume_times = next_times;
  if (level > 0) schedule::ToScheduled(level, &in);

  response.set_topic(topic);
  response.set_reconsume_times(next_times);
  response.set_delay_level(level);
  ctx_.store->PutMessage(std::move(in), [done = std::move(done),
                                         response](const store::PutResult& r) mutable {
    if (r.status != store::PutStatus::kOk && r.status != store::PutStatus::kFlushDiskTimeout) {
      const Status s =
          r.status == store::PutStatus::kMessageIllegal ||
                  r.status == store::PutStatus::kPropertiesSizeExceeded
              ? Status::InvalidArgument("message: " + r.error)
              : Status::Unavailable(fmt::format("send back: {} {}", store::PutStatusName(r.status), r.error));
      return done(s, response);
    }
    response.set_offset_msg_id(r.offset_msg_id);
    done(Status::OK(), response);
  });
}

}  // namespace mq::broker
