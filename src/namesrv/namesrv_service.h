// NamesrvService: the gRPC adapter of the NameServer (mq.v1.NameServer, callback API).
// It only converts proto <-> route_types and mq::Status -> grpc::Status; all logic lives in
// RouteTable and KvConfigStore. Handlers run on gRPC's threads and never block: every
// operation is an in-memory table update under the table's own lock.
// Owns nothing; the controller owns the tables and outlives the server.
#pragma once

#include <functional>

#include "mq/v1/namesrv.grpc.pb.h"
#include "namesrv/kv_config_store.h"
#include "namesrv/route_table.h"

namespace mq::namesrv {

class NamesrvService final : public mq::v1::NameServer::CallbackService {
 public:
  using ConfigProvider = std::function<std::map<std::string, std::string>()>;
  NamesrvService(RouteTable* routes, KvConfigStore* kv, ConfigProvider config);

  grpc::ServerReadReactor<mq::v1::RegisterBrokerChunk>* RegisterBroker(
      grpc::CallbackServerContext* ctx, mq::v1::RegisterBrokerResponse* response) override;
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* ctx,
                                      const mq::v1::BrokerHeartbeatRequest* request,
                                      mq::v1::BrokerHeartbeatResponse* response) override;
  grpc::ServerUnaryReactor* UnregisterBroker(grpc::CallbackServerContext* ctx,
                                             const mq::v1::UnregisterBrokerRequest* request,
                                             mq::v1::UnregisterBrokerResponse* response) override;
  grpc::ServerUnaryReactor* QueryRoute(grpc::CallbackServerContext* ctx,
                                       const mq::v1::QueryRouteRequest* request,
                                       mq::v1::QueryRouteResponse* response) override;
  grpc::ServerUnaryReactor* GetClusterInfo(grpc::CallbackServerContext* ctx,
                                           const mq::v1::GetClusterInfoRequest* request,
                                           mq::v1::GetClusterInfoResponse* response) override;
  grpc::ServerUnaryReactor* GetAllTopics(grpc::CallbackServerContext* ctx,
                                         const mq::v1::GetAllTopicsRequest* request,
                                         mq::v1::GetAllTopicsResponse* response) override;
  grpc::ServerUnaryReactor* DeleteTopic(grpc::CallbackServerContext* ctx,
                                        const mq::v1::DeleteTopicRequest* request,
                                        mq::v1::DeleteTopicResponse* response) override;
  grpc::ServerUnaryReactor* WipeWritePerm(grpc::CallbackServerContext* ctx,
                                          const mq::v1::WritePermRequest* request,
                                          mq::v1::WritePermResponse* response) override;
  grpc::ServerUnaryReactor* AddWritePerm(grpc::CallbackServerContext* ctx,
                                         const mq::v1::WritePermRequest* request,
                                         mq::v1::WritePermResponse* response) override;
  grpc::ServerUnaryReactor* PutKvConfig(grpc::CallbackServerContext* ctx,
                                        const mq::v1::KvConfigRequest* request,
                                        mq::v1::KvConfigResponse* response) override;
  grpc::ServerUnaryReactor* GetKvConfig(grpc::CallbackServerContext* ctx,
                                        const mq::v1::KvConfigRequest* request,
                                        mq::v1::KvConfigResponse* response) override;
  grpc::ServerUnaryReactor* DeleteKvConfig(grpc::CallbackServerContext* ctx,
                                           const mq::v1::KvConfigRequest* request,
                                           mq::v1::KvConfigResponse* response) override;
  grpc::ServerUnaryReactor* GetKvList(grpc::CallbackServerContext* ctx,
                                      const mq::v1::GetKvListRequest* request,
                                      mq::v1::GetKvListResponse* response) override;
  grpc::ServerUnaryReactor* GetNamesrvConfig(grpc::CallbackServerContext* ctx,
                                             const mq::v1::GetNamesrvConfigRequest* request,
                                             mq::v1::GetNamesrvConfigResponse* response) override;

 private:
  RouteTable* routes_;
  KvConfigStore* kv_;
  ConfigProvider config_;
};

}  // namespace mq::namesrv
