// AdminService: the gRPC adapter of mq.v1.BrokerAdmin (used by mqadmin); converts and
// delegates to AdminProcessor, answered inline. Owns nothing.
#pragma once

#include "broker/processor/admin_processor.h"
#include "mq/v1/admin.grpc.pb.h"

namespace mq::broker {

class AdminService final : public mq::v1::BrokerAdmin::CallbackService {
 public:
  explicit AdminService(AdminProcessor* processor) : processor_(processor) {}

  grpc::ServerUnaryReactor* CreateTopic(grpc::CallbackServerContext* ctx,
                                        const mq::v1::CreateTopicRequest* request,
                                        mq::v1::CreateTopicResponse* response) override;
  grpc::ServerUnaryReactor* DeleteTopic(grpc::CallbackServerContext* ctx,
                                        const mq::v1::DeleteTopicOnBrokerRequest* request,
                                        mq::v1::DeleteTopicOnBrokerResponse* response) override;
  grpc::ServerUnaryReactor* GetTopicConfig(grpc::CallbackServerContext* ctx,
                                           const mq::v1::GetTopicConfigRequest* request,
                                           mq::v1::GetTopicConfigResponse* response) override;
  grpc::ServerUnaryReactor* GetTopicStats(grpc::CallbackServerContext* ctx,
                                          const mq::v1::GetTopicStatsRequest* request,
                                          mq::v1::GetTopicStatsResponse* response) override;
  grpc::ServerUnaryReactor* CreateSubscriptionGroup(
      grpc::CallbackServerContext* ctx, const mq::v1::CreateSubscriptionGroupRequest* request,
      mq::v1::CreateSubscriptionGroupResponse* response) override;
  grpc::ServerUnaryReactor* DeleteSubscriptionGroup(
      grpc::CallbackServerContext* ctx, const mq::v1::DeleteSubscriptionGroupRequest* request,
      mq::v1::DeleteSubscriptionGroupResponse* response) override;
  grpc::ServerUnaryReactor* GetSubscriptionGroups(grpc::CallbackServerContext* ctx,
                                                  const mq::v1::GetSubscriptionGroupsRequest* request,
                                                  mq::v1::GetSubscriptionGroupsResponse* response) override;
  grpc::ServerUnaryReactor* GetConsumeStats(grpc::CallbackServerContext* ctx,
                                            const mq::v1::GetConsumeStatsRequest* request,
                                            mq::v1::GetConsumeStatsResponse* response) override;
  grpc::ServerUnaryReactor* GetConsumerConnections(grpc::CallbackServerContext* ctx,
                                                   const mq::v1::GetConnectionsRequest* request,
                                                   mq::v1::GetConnectionsResponse* response) override;
  grpc::ServerUnaryReactor* GetProducerConnections(grpc::CallbackServerContext* ctx,
                                                   const mq::v1::GetConnectionsRequest* request,
                                                   mq::v1::GetConnectionsResponse* response) override;
  grpc::ServerUnaryReactor* GetBrokerRuntimeInfo(grpc::CallbackServerContext* ctx,
                                                 const mq::v1::GetBrokerRuntimeInfoRequest* request,
                                                 mq::v1::GetBrokerRuntimeInfoResponse* response) override;
  grpc::ServerUnaryReactor* QueryMessage(grpc::CallbackServerContext* ctx,
                                         const mq::v1::QueryMessageRequest* request,
                                         mq::v1::QueryMessageResponse* response) override;
  grpc::ServerUnaryReactor* ResetOffsetByTimestamp(grpc::CallbackServerContext* ctx,
                                                   const mq::v1::ResetOffsetRequest* request,
                                                   mq::v1::ResetOffsetResponse* response) override;
  grpc::ServerUnaryReactor* GetBrokerConfig(grpc::CallbackServerContext* ctx,
                                            const mq::v1::GetBrokerConfigRequest* request,
                                            mq::v1::GetBrokerConfigResponse* response) override;
  grpc::ServerUnaryReactor* UpdateBrokerConfig(grpc::CallbackServerContext* ctx,
                                               const mq::v1::UpdateBrokerConfigRequest* request,
                                               mq::v1::UpdateBrokerConfigResponse* response) override;

 private:
  AdminProcessor* processor_;
};

}  // namespace mq::broker
