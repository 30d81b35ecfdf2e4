#include "broker/processor/admin_service.h"

#include "common/rpc/status_convert.h"
#include "common/rpc/unary_reply.h"

namespace mq::broker {

using rpc::Reply;
using rpc::ReplyWith;
grpc::ServerUnaryReactor* AdminService::CreateTopic(grpc::CallbackServerContext* ctx,
                                                    const mq::v1::CreateTopicRequest* request,
                                                    mq::v1::CreateTopicResponse*) {
  return Reply(ctx, processor_->CreateTopic(*request));
}

grpc::ServerUnaryReactor* AdminService::DeleteTopic(grpc::CallbackServerContext* ctx,
                                                    const mq::v1::DeleteTopicOnBrokerRequest* request,
                                                    mq::v1::DeleteTopicOnBrokerResponse*) {
  return Reply(ctx, processor_->DeleteTopic(*request));
}

grpc::ServerUnaryReactor* AdminService::GetTopicConfig(grpc::CallbackServerContext* ctx,
                                                       const mq::v1::GetTopicConfigRequest* request,
                                                       mq::v1::GetTopicConfigResponse* response) {
  return ReplyWith(ctx, processor_->GetTopicConfig(*request), response);
}

grpc::ServerUnaryReactor* AdminService::GetTopicStats(grpc::CallbackServerContext* ctx,
                                                      const mq::v1::GetTopicStatsRequest* request,
                                                      mq::v1::GetTopicStatsResponse* response) {
  return ReplyWith(ctx, processor_->GetTopicStats(*request), response);
}

grpc::ServerUnaryReactor* AdminService::CreateSubscriptionGroup(
    grpc::CallbackServerContext* ctx, const mq::v1::CreateSubscriptionGroupRequest* request,
    mq::v1::CreateSubscriptionGroupResponse*) {
  return Reply(ctx, processor_->CreateSubscriptionGroup(*request));
}

grpc::ServerUnaryReactor* AdminService::DeleteSubscriptionGroup(
    grpc::CallbackServerContext* ctx, const mq::v1::DeleteSubscriptionGroupRequest* request,
    mq::v1::DeleteSubscriptionGroupResponse*) {
  return Reply(ctx, processor_->DeleteSubscriptionGroup(*request));
}

grpc::ServerUnaryReactor* AdminService::GetSubscriptionGroups(
    grpc::CallbackServerContext* ctx, const mq::v1::GetSubscriptionGroupsRequest* request,
    mq::v1::GetSubscriptionGroupsResponse* response) {
  return ReplyWith(ctx, processor_->GetSubscriptionGroups(*request), response);
}

grpc::ServerUnaryReactor* AdminService::GetConsumeStats(grpc::CallbackServerContext* ctx,
                                                        const mq::v1::GetConsumeStatsRequest* request,
                                                        mq::v1::GetConsumeStatsResponse* response) {
  return ReplyWith(ctx, processor_->GetConsumeStats(*request), response);
}

grpc::ServerUnaryReactor* AdminService::QueryMessage(grpc::CallbackServerContext* ctx,
                                                     const mq::v1::QueryMessageRequest* request,
                                                     mq::v1::QueryMessageResponse* response) {
  return ReplyWith(ctx, processor_->QueryMessage(*request), response);
}

grpc::ServerUnaryReactor* AdminService::ResetOffsetByTimestamp(grpc::CallbackServerContext* ctx,
                                                               const mq::v1::ResetOffsetRequest* request,
                                                               mq::v1::ResetOffsetResponse* response) {
  return ReplyWith(ctx, processor_->ResetOffset(*request), response);
}

grpc::ServerUnaryReactor* AdminService::UpdateBrokerConfig(grpc::CallbackServerContext* ctx,
                                                           const mq::v1::UpdateBrokerConfigRequest* request,
                                                           mq::v1::UpdateBrokerConfigResponse* response) {
  return ReplyWith(ctx, processor_->UpdateConfig(*request), response);
}

grpc::ServerUnaryReactor* AdminService::GetConsumerConnections(grpc::CallbackServerContext* ctx,
                                                               const mq::v1::GetConnectionsRequest* request,
                                                               mq::v1::GetConnectionsResponse* response) {
  return ReplyWith(ctx, processor_->GetConnections(*request, /*consumers=*/true), response);
}

grpc::ServerUnaryReactor* AdminService::GetProducerConnections(grpc::CallbackServerContext* ctx,
                                                               const mq::v1::GetConnectionsRequest* request,
                                                               mq::v1::GetConnectionsResponse* response) {
  return ReplyWith(ctx, processor_->GetConnections(*request, /*consumers=*/false), response);
}

grpc::ServerUnaryReactor* AdminService::GetBrokerRuntimeInfo(grpc::CallbackServerContext* ctx,
                                                             const mq::v1::GetBrokerRuntimeInfoRequest*,
                                                             mq::v1::GetBrokerRuntimeInfoResponse* response) {
  *response = processor_->GetRuntimeInfo();
  return Reply(ctx, Status::OK());
}

grpc::ServerUnaryReactor* AdminService::GetBrokerConfig(grpc::CallbackServerContext* ctx,
                                                        const mq::v1::GetBrokerConfigRequest*,
                                                        mq::v1::GetBrokerConfigResponse* response) {
  *response = processor_->GetConfig();
  return Reply(ctx, Status::OK());
}

}  // namespace mq::broker
