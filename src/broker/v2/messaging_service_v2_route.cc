// MessagingServiceV2's routes: QueryRoute and QueryAssignment, answered from the NameServers'
// routes (any broker's v2 port answers for the whole cluster) or, for a topic this broker just
// auto-created, from its own table.
#include <fmt/format.h>

#include "broker/meta/subscription_group_manager.h"
#include "broker/meta/topic_config_manager.h"
#include "broker/v2/call_context.h"
#include "broker/v2/messaging_service_v2.h"
#include "broker/v2/route_convert.h"
#include "broker/v2/rpc_prologue.h"
#include "broker/v2/v2_status.h"
#include "common/naming.h"

namespace mq::broker::v2 {
namespace pb = apache::rocketmq::v2;
namespace {

pb::Status RouteFailure(const Status& s, const std::string& topic) {
  if (s.code() == StatusCode::kNotFound) {
    return MakeStatus(pb::Code::TOPIC_NOT_FOUND, fmt::format("topic: '{}' does not exist", topic));
  }
  if (s.code() == StatusCode::kInvalidArgument) return MakeStatus(pb::Code::ILLEGAL_TOPIC, s.message());
  return MakeStatus(pb::Code::INTERNAL_SERVER_ERROR, s.message());
}

}  // namespace

Result<mq::v1::TopicRouteData> MessagingServiceV2::LocalRoute(const std::string& stored_topic,
                                                              bool auto_create) {
  const BrokerConfig& c = *deps_.ctx.config;
  if (IsSlave(c)) return Status::NotFound(fmt::format("topic: '{}' has no route known here", stored_topic));
  std::optional<mq::v1::TopicConfig> topic = deps_.ctx.topics->Get(stored_topic);
  if (!topic && auto_create && c.autoCreateTopicEnable) {
    MQ_ASSIGN_OR_RETURN(mq::v1::TopicConfig created,
                        deps_.ctx.topics->CreateOnSend(stored_topic, c.defaultTopicQueueNums));
    topic = std::move(created);
  }
  if (!topic) return Status::NotFound(fmt::format("topic: '{}' does not exist", stored_topic));
  mq::v1::TopicRouteData route;
  auto* q = route.add_queue_datas();
  q->set_broker_name(c.brokerName);
  q->set_read_queue_nums(topic->read_queue_nums());
  q->set_write_queue_nums(topic->write_queue_nums());
  q->set_perm(topic->perm() & deps_.ctx.runtime->broker_permission.load());
  auto type = topic->attributes().find(kMessageTypeAttribute);
  if (type != topic->attributes().end()) q->set_message_type(type->second);
  auto* b = route.add_broker_datas();
  b->set_cluster(c.brokerClusterName);
  b->set_broker_name(c.brokerName);
  (*b->mutable_broker_addrs())[0] = HostPort{c.brokerIP1, static_cast<uint16_t>(c.listenPort)}.ToString();
  (*b->mutable_v2_addrs())[0] = v2_addr();
  return route;
}

void MessagingServiceV2::ResolveRoute(const std::string& stored_topic, bool auto_create, RouteDone done) {
  if (routes_->empty()) return done(LocalRoute(stored_topic, auto_create));
  routes_->QueryRoute(stored_topic, [this, stored_topic, auto_create,
                                     done = std::move(done)](Result<mq::v1::TopicRouteData> route) {
    if (route.ok()) {
      // Registered brokers without a v2 port give no queue; fall back to this broker's own.
      if (!ToMessageQueues(*route, pb::Resource()).empty()) return done(std::move(route));
      auto local = LocalRoute(stored_topic, false);
      return done(local.ok() ? std::move(local) : std::move(route));
    }
    if (route.status().code() == StatusCode::kInvalidArgument) return done(std::move(route));
    // Unknown to the NameServers (or none reachable): a topic of this broker not registered
    // yet, or one to auto-create here. Its route then names this broker only, which is
    // exactly what the NameServers will say once the registration (triggered by the
    // creation) lands.
    auto local = LocalRoute(stored_topic, auto_create && route.status().code() == StatusCode::kNotFound);
    if (local.ok() || route.status().code() == StatusCode::kNotFound) return done(std::move(local));
    done(std::move(route));
  });
}

grpc::ServerUnaryReactor* MessagingServiceV2::QueryRoute(grpc::CallbackServerContext* ctx,
                                                         const pb::QueryRouteRequest* request,
                                                         pb::QueryRouteResponse* response) {
  CallContext call;
  if (!ReadCall(*ctx, &call, response->mutable_status())) return Done(ctx);
  std::string stored;
  if (!ReadTopic(call, request->topic(), &stored, response->mutable_status())) return Done(ctx);
  auto* reactor = ctx->DefaultReactor();
  pb::Resource bare;
  bare.set_resource_namespace(NamespaceOf(call, request->topic()));
  bare.set_name(request->topic().name());
  ResolveRoute(
      stored, /*auto_create=*/true, [reactor, response, bare, stored](Result<mq::v1::TopicRouteData> route) {
        if (!route.ok()) {
          *response->mutable_status() = RouteFailure(route.status(), bare.name());
          return reactor->Finish(grpc::Status::OK);
        }
        for (auto& mq : ToMessageQueues(*route, bare)) *response->add_message_queues() = std::move(mq);
        if (response->message_queues_size() == 0) {
          SetStatus(response->mutable_status(), pb::Code::TOPIC_NOT_FOUND,
                    fmt::format("topic: '{}' is on no broker serving apache.rocketmq.v2", bare.name()));
        } else {
          SetOk(response->mutable_status());
        }
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* MessagingServiceV2::QueryAssignment(grpc::CallbackServerContext* ctx,
                                                              const pb::QueryAssignmentRequest* request,
                                                              pb::QueryAssignmentResponse* response) {
  CallContext call;
  if (!ReadCall(*ctx, &call, response->mutable_status())) return Done(ctx);
  std::string stored;
  if (!ReadTopic(call, request->topic(), &stored, response->mutable_status())) return Done(ctx);
  if (request->group().name().empty()) {
    SetStatus(response->mutable_status(), pb::Code::ILLEGAL_CONSUMER_GROUP, "group.name: required");
    return Done(ctx);
  }
  auto* reactor = ctx->DefaultReactor();
  pb::Resource bare;
  bare.set_resource_namespace(NamespaceOf(call, request->topic()));
  bare.set_name(request->topic().name());
  ResolveRoute(
      stored, /*auto_create=*/false, [reactor, response, bare](Result<mq::v1::TopicRouteData> route) {
        if (!route.ok()) {
          *response->mutable_status() = RouteFailure(route.status(), bare.name());
          return reactor->Finish(grpc::Status::OK);
        }
        for (auto& a : ToAssignments(*route, bare)) *response->add_assignments() = std::move(a);
        if (response->assignments_size() == 0) {
          SetStatus(response->mutable_status(), pb::Code::FORBIDDEN,
                    fmt::format("topic: '{}' has no readable queue on a broker serving apache.rocketmq.v2",
                                bare.name()));
        } else {
          SetOk(response->mutable_status());
        }
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

}  // namespace mq::broker::v2
