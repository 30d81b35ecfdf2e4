#include "namesrv/namesrv_service.h"

#include <fmt/format.h>

#include "common/rpc/status_convert.h"
#include "common/rpc/unary_reply.h"
#include "namesrv/proto_convert.h"

namespace mq::namesrv {

using rpc::Reply;
using rpc::ReplyWith;
namespace {

void SetMaster(const MasterInfo& master, std::string* addr, std::string* ha) {
  *addr = master.master_addr;
  *ha = master.ha_server_addr;
}

// Client-streaming registration: gathers every chunk, then applies the set atomically.
class RegisterReactor final : public grpc::ServerReadReactor<mq::v1::RegisterBrokerChunk> {
 public:
  RegisterReactor(RouteTable* routes, mq::v1::RegisterBrokerResponse* response)
      : routes_(routes), response_(response) {
    StartRead(&chunk_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client closed its side: all chunks are here
      Finish(rpc::ToGrpcStatus(Complete()));
      return;
    }
    Status s = Accept();
    if (!s.ok()) {
      Finish(rpc::ToGrpcStatus(s));
      return;
    }
    chunk_.Clear();
    StartRead(&chunk_);
  }

  void OnDone() override { delete this; }

 private:
  Status Accept() {
    if (chunks_ == 0) {
      if (!chunk_.has_broker())
        return Status::InvalidArgument("broker: the first chunk must carry the broker identity");
      if (chunk_.total_topics() < 0 || chunk_.total_topics() > kMaxTopicsPerBroker) {
        return Status::InvalidArgument(fmt::format("total_topics: {} is out of range [0, {}]",
                                                   chunk_.total_topics(), kMaxTopicsPerBroker));
      }
      registration_.broker = FromProto(chunk_.broker());
      registration_.data_version = FromProto(chunk_.data_version());
      expected_topics_ = chunk_.total_topics();
      registration_.topics.reserve(static_cast<size_t>(expected_topics_));
    } else if (chunk_.has_broker()) {
      return Status::InvalidArgument("broker: only the first chunk may carry the broker identity");
    }
    ++chunks_;
    if (static_cast<int64_t>(registration_.topics.size()) + chunk_.topic_configs_size() > expected_topics_) {
      return Status::InvalidArgument(
          fmt::format("topic_configs: more topics than total_topics={} announced", expected_topics_));
    }
    for (const auto& t : chunk_.topic_configs()) registration_.topics.push_back(FromProto(t));
    return Status::OK();
  }

  Status Complete() {
    if (chunks_ == 0) return Status::InvalidArgument("broker: empty registration stream");
    if (static_cast<int64_t>(registration_.topics.size()) != expected_topics_) {
      return Status::InvalidArgument(
          fmt::format("topic_configs: received {} topics but total_topics={} announced",
                      registration_.topics.size(), expected_topics_));
    }
    auto master = routes_->RegisterBroker(registration_);
    if (!master.ok()) return master.status();
    SetMaster(*master, response_->mutable_master_addr(), response_->mutable_ha_server_addr());
    response_->set_topics_registered(static_cast<int32_t>(registration_.topics.size()));
    return Status::OK();
  }

  RouteTable* routes_;
  mq::v1::RegisterBrokerResponse* response_;
  mq::v1::RegisterBrokerChunk chunk_;
  BrokerRegistration registration_;
  int64_t expected_topics_ = 0;
  int64_t chunks_ = 0;
};

}  // namespace

NamesrvService::NamesrvService(RouteTable* routes, KvConfigStore* kv, ConfigProvider config)
    : routes_(routes), kv_(kv), config_(std::move(config)) {}

grpc::ServerReadReactor<mq::v1::RegisterBrokerChunk>* NamesrvService::RegisterBroker(
    grpc::CallbackServerContext*, mq::v1::RegisterBrokerResponse* response) {
  return new RegisterReactor(routes_, response);
}

grpc::ServerUnaryReactor* NamesrvService::Heartbeat(grpc::CallbackServerContext* ctx,
                                                    const mq::v1::BrokerHeartbeatRequest* request,
                                                    mq::v1::BrokerHeartbeatResponse* response) {
  if (!request->has_broker()) return Reply(ctx, Status::InvalidArgument("broker: is required"));
  auto result = routes_->Heartbeat(FromProto(request->broker()), FromProto(request->data_version()));
  if (!result.ok()) return Reply(ctx, result.status());
  response->set_need_full_registration(result->need_full_registration);
  SetMaster(result->master, response->mutable_master_addr(), response->mutable_ha_server_addr());
  return Reply(ctx, Status::OK());
}

grpc::ServerUnaryReactor* NamesrvService::UnregisterBroker(grpc::CallbackServerContext* ctx,
                                                           const mq::v1::UnregisterBrokerRequest* request,
                                                           mq::v1::UnregisterBrokerResponse*) {
  if (!request->has_broker()) return Reply(ctx, Status::InvalidArgument("broker: is required"));
  return Reply(ctx, routes_->UnregisterBroker(FromProto(request->broker())));
}

grpc::ServerUnaryReactor* NamesrvService::QueryRoute(grpc::CallbackServerContext* ctx,
                                                     const mq::v1::QueryRouteRequest* request,
                                                     mq::v1::QueryRouteResponse* response) {
  auto route = routes_->PickRoute(request->topic());
  if (!route.ok()) return Reply(ctx, route.status());
  ToProto(*route, response->mutable_route());
  return Reply(ctx, Status::OK());
}

grpc::ServerUnaryReactor* NamesrvService::GetClusterInfo(grpc::CallbackServerContext* ctx,
                                                         const mq::v1::GetClusterInfoRequest*,
                                                         mq::v1::GetClusterInfoResponse* response) {
  ToProto(routes_->GetClusterInfo(), response);
  return Reply(ctx, Status::OK());
}

grpc::ServerUnaryReactor* NamesrvService::GetAllTopics(grpc::CallbackServerContext* ctx,
                                                       const mq::v1::GetAllTopicsRequest* request,
                                                       mq::v1::GetAllTopicsResponse* response) {
  auto topics = routes_->GetAllTopics(request->cluster());
  if (!topics.ok()) return Reply(ctx, topics.status());
  response->mutable_topics()->Reserve(static_cast<int>(topics->size()));
  for (auto& t : *topics) response->add_topics(std::move(t));
  return Reply(ctx, Status::OK());
}

grpc::ServerUnaryReactor* NamesrvService::DeleteTopic(grpc::CallbackServerContext* ctx,
                                                      const mq::v1::DeleteTopicRequest* request,
                                                      mq::v1::DeleteTopicResponse*) {
  return Reply(ctx, routes_->DeleteTopic(request->topic(), request->cluster()));
}

grpc::ServerUnaryReactor* NamesrvService::WipeWritePerm(grpc::CallbackServerContext* ctx,
                                                        const mq::v1::WritePermRequest* request,
                                                        mq::v1::WritePermResponse* response) {
  auto changed = routes_->WipeWritePerm(request->broker_name());
  if (changed.ok()) response->set_topics_changed(*changed);
  return Reply(ctx, changed.status());
}

grpc::ServerUnaryReactor* NamesrvService::AddWritePerm(grpc::CallbackServerContext* ctx,
                                                       const mq::v1::WritePermRequest* request,
                                                       mq::v1::WritePermResponse* response) {
  auto changed = routes_->AddWritePerm(request->broker_name());
  if (changed.ok()) response->set_topics_changed(*changed);
  return Reply(ctx, changed.status());
}

grpc::ServerUnaryReactor* NamesrvService::PutKvConfig(grpc::CallbackServerContext* ctx,
                                                      const mq::v1::KvConfigRequest* request,
                                                      mq::v1::KvConfigResponse*) {
  return Reply(ctx, kv_->Put(request->namespace_(), request->key(), request->value()));
}

grpc::ServerUnaryReactor* NamesrvService::GetKvConfig(grpc::CallbackServerContext* ctx,
                                                      const mq::v1::KvConfigRequest* request,
                                                      mq::v1::KvConfigResponse* response) {
  auto value = kv_->Get(request->namespace_(), request->key());
  if (value.ok()) response->set_value(*value);
  return Reply(ctx, value.status());
}

grpc::ServerUnaryReactor* NamesrvService::DeleteKvConfig(grpc::CallbackServerContext* ctx,
                                                         const mq::v1::KvConfigRequest* request,
                                                         mq::v1::KvConfigResponse*) {
  return Reply(ctx, kv_->Delete(request->namespace_(), request->key()));
}

grpc::ServerUnaryReactor* NamesrvService::GetKvList(grpc::CallbackServerContext* ctx,
                                                    const mq::v1::GetKvListRequest* request,
                                                    mq::v1::GetKvListResponse* response) {
  auto entries = kv_->List(request->namespace_());
  if (!entries.ok()) return Reply(ctx, entries.status());
  for (const auto& [k, v] : *entries) (*response->mutable_entries())[k] = v;
  return Reply(ctx, Status::OK());
}

grpc::ServerUnaryReactor* NamesrvService::GetNamesrvConfig(grpc::CallbackServerContext* ctx,
                                                           const mq::v1::GetNamesrvConfigRequest*,
                                                           mq::v1::GetNamesrvConfigResponse* response) {
  for (const auto& [k, v] : config_()) (*response->mutable_config())[k] = v;
  return Reply(ctx, Status::OK());
}

}  // namespace mq::namesrv
