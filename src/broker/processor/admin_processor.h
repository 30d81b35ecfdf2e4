// AdminProcessor: the logic behind mq.v1.BrokerAdmin (AdminService only adapts gRPC).
// Thread-safe. Every call is a short in-memory or index lookup but two: DeleteTopic waits for
// its marker to be stored and dispatched and for the pop positions' reset (bounded), and
// UpdateConfig rewrites the config file (fsync).
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "broker/broker_context.h"
#include "common/result.h"
#include "mq/v1/admin.pb.h"

namespace mq::broker {

class AdminProcessor {
 public:
  AdminProcessor(BrokerContext ctx, int64_t start_ms) : ctx_(ctx), start_ms_(start_ms) {}
  // Extra GetBrokerRuntimeInfo entries (replication status). Set before serving; thread-safe.
  using RuntimeInfoHook = std::function<void(std::map<std::string, std::string>*)>;
  void set_runtime_info_hook(RuntimeInfoHook hook) { runtime_info_hook_ = std::move(hook); }
  // What else forgets a deleted topic once the store dropped it (pop positions); calls `done`
  // once that is durable. Set before serving.
  using TopicDeletedHook = std::function<void(const std::string& topic, std::function<void(Status)> done)>;
  void set_topic_deleted_hook(TopicDeletedHook hook) { topic_deleted_hook_ = std::move(hook); }

  Status CreateTopic(const mq::v1::CreateTopicRequest& r);
  Status DeleteTopic(const mq::v1::DeleteTopicOnBrokerRequest& r);
  Result<mq::v1::GetTopicConfigResponse> GetTopicConfig(const mq::v1::GetTopicConfigRequest& r);
  Result<mq::v1::GetTopicStatsResponse> GetTopicStats(const mq::v1::GetTopicStatsRequest& r);
  Status CreateSubscriptionGroup(const mq::v1::CreateSubscriptionGroupRequest& r);
  Status DeleteSubscriptionGroup(const mq::v1::DeleteSubscriptionGroupRequest& r);
  Result<mq::v1::GetSubscriptionGroupsResponse> GetSubscriptionGroups(
      const mq::v1::GetSubscriptionGroupsRequest& r);
  Result<mq::v1::GetConsumeStatsResponse> GetConsumeStats(const mq::v1::GetConsumeStatsRequest& r);
  Result<mq::v1::GetConnectionsResponse> GetConnections(const mq::v1::GetConnectionsRequest& r,
                                                        bool consumers);
  mq::v1::GetBrokerRuntimeInfoResponse GetRuntimeInfo();
  Result<mq::v1::QueryMessageResponse> QueryMessage(const mq::v1::QueryMessageRequest& r);
  Result<mq::v1::ResetOffsetResponse> ResetOffset(const mq::v1::ResetOffsetRequest& r);
  mq::v1::GetBrokerConfigResponse GetConfig();
  Result<mq::v1::UpdateBrokerConfigResponse> UpdateConfig(const mq::v1::UpdateBrokerConfigRequest& r);

 private:
  Status RequireMaster(const char* what) const;
  // Store time of the message at `offset` of a queue, 0 if none.
  int64_t StoreTimeAt(const std::string& topic, int32_t queue_id, int64_t offset) const;

  BrokerContext ctx_;
  const int64_t start_ms_;
  RuntimeInfoHook runtime_info_hook_;
  TopicDeletedHook topic_deleted_hook_;
  // Serializes UpdateConfig: the runtime values and the config file change in the same order.
  std::mutex update_config_mu_;
};

}  // namespace mq::broker
