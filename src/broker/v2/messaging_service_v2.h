// MessagingServiceV2: apache.rocketmq.v2.MessagingService on grpcServerPort, the protocol of the
// official RocketMQ 5 SDKs, served by the broker itself (no proxy). A thin adapter: it reads
// the call's x-mq-* metadata (every RPC needs x-mq-client-id: CLIENT_ID_REQUIRED otherwise),
// applies the namespace, converts to mq.v1 and calls the processors the v1 service uses
// (SendProcessor, EndTransactionProcessor, RecallProcessor, ClientProcessor), then converts
// back. Business errors go in the response Status (gRPC OK), as the SDKs expect.
// Routes come from the NameServers (any broker answers for the whole cluster, each broker
// with its own v2 endpoint); a topic only this broker knows yet (just auto-created, or the
// NameServers unreachable) is answered from its own table.
// The consumer RPCs (Receive/Ack/ChangeInvisibleDuration/ForwardToDLQ) are delegated to a
// ConsumerRpcs (pop consumption); without one they answer NOT_IMPLEMENTED. So do, always, the
// pull-mode and lite consumer RPCs (PullMessage, UpdateOffset, GetOffset, QueryOffset,
// SyncLiteSubscription), with a message saying so.
// Threads: gRPC callback threads; sends finish on the store's threads, routes on gRPC client
// threads. No handler blocks. BrokerController owns the processors and outlives the server.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "apache/rocketmq/v2/service.grpc.pb.h"
#include "broker/broker_context.h"
#include "broker/v2/consumer_rpcs.h"
#include "broker/v2/namesrv_route_client.h"
#include "broker/v2/send_convert.h"
#include "broker/v2/telemetry.h"
#include "common/io_executor.h"

namespace mq::broker {
class SendProcessor;
class EndTransactionProcessor;
class RecallProcessor;
class ClientProcessor;
}  // namespace mq::broker

namespace mq::broker::v2 {

class MessagingServiceV2 final : public apache::rocketmq::v2::MessagingService::CallbackService {
 public:
  struct Deps {
    BrokerContext ctx;
    SendProcessor* send = nullptr;
    EndTransactionProcessor* end_transaction = nullptr;
    RecallProcessor* recall = nullptr;
    ClientProcessor* client = nullptr;
    IoExecutor* executor = nullptr;
    std::vector<std::string> namesrv_addrs;
  };

  explicit MessagingServiceV2(Deps deps);
  ~MessagingServiceV2() override;

  // This broker's advertised brokerIP1:grpcServerPort, known once the server has bound it
  // (before any client can have learnt the port).
  void set_v2_addr(std::string addr);
  std::string v2_addr() const;
  // Before the server starts; outlives it.
  void set_consumer_rpcs(ConsumerRpcs* rpcs) { consumer_rpcs_ = rpcs; }
  // The v2 side of orphaned-transaction checks.
  TelemetrySessions* telemetry() { return telemetry_.get(); }
  // Broker shutdown, before the server drains: finishes every Telemetry stream.
  void CloseStreams();

  grpc::ServerUnaryReactor* QueryRoute(grpc::CallbackServerContext* ctx,
                                       const apache::rocketmq::v2::QueryRouteRequest* request,
                                       apache::rocketmq::v2::QueryRouteResponse* response) override;
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* ctx,
                                      const apache::rocketmq::v2::HeartbeatRequest* request,
                                      apache::rocketmq::v2::HeartbeatResponse* response) override;
  grpc::ServerUnaryReactor* SendMessage(grpc::CallbackServerContext* ctx,
                                        const apache::rocketmq::v2::SendMessageRequest* request,
                                        apache::rocketmq::v2::SendMessageResponse* response) override;
  grpc::ServerUnaryReactor* QueryAssignment(grpc::CallbackServerContext* ctx,
                                            const apache::rocketmq::v2::QueryAssignmentRequest* request,
                                            apache::rocketmq::v2::QueryAssignmentResponse* response) override;
  grpc::ServerWriteReactor<apache::rocketmq::v2::ReceiveMessageResponse>* ReceiveMessage(
      grpc::CallbackServerContext* ctx, const apache::rocketmq::v2::ReceiveMessageRequest* request) override;
  grpc::ServerUnaryReactor* AckMessage(grpc::CallbackServerContext* ctx,
                                       const apache::rocketmq::v2::AckMessageRequest* request,
                                       apache::rocketmq::v2::AckMessageResponse* response) override;
  grpc::ServerUnaryReactor* ForwardMessageToDeadLetterQueue(
      grpc::CallbackServerContext* ctx,
      const apache::rocketmq::v2::ForwardMessageToDeadLetterQueueRequest* request,
      apache::rocketmq::v2::ForwardMessageToDeadLetterQueueResponse* response) override;
  grpc::ServerUnaryReactor* EndTransaction(grpc::CallbackServerContext* ctx,
                                           const apache::rocketmq::v2::EndTransactionRequest* request,
                                           apache::rocketmq::v2::EndTransactionResponse* response) override;
  grpc::ServerBidiReactor<apache::rocketmq::v2::TelemetryCommand, apache::rocketmq::v2::TelemetryCommand>*
  Telemetry(grpc::CallbackServerContext* ctx) override;
  grpc::ServerUnaryReactor* NotifyClientTermination(
      grpc::CallbackServerContext* ctx, const apache::rocketmq::v2::NotifyClientTerminationRequest* request,
      apache::rocketmq::v2::NotifyClientTerminationResponse* response) override;
  grpc::ServerUnaryReactor* ChangeInvisibleDuration(
      grpc::CallbackServerContext* ctx, const apache::rocketmq::v2::ChangeInvisibleDurationRequest* request,
      apache::rocketmq::v2::ChangeInvisibleDurationResponse* response) override;
  grpc::ServerUnaryReactor* RecallMessage(grpc::CallbackServerContext* ctx,
                                          const apache::rocketmq::v2::RecallMessageRequest* request,
                                          apache::rocketmq::v2::RecallMessageResponse* response) override;
  // Not served (NOT_IMPLEMENTED with a message): the pull-mode and lite consumer RPCs.
  grpc::ServerWriteReactor<apache::rocketmq::v2::PullMessageResponse>* PullMessage(
      grpc::CallbackServerContext* ctx, const apache::rocketmq::v2::PullMessageRequest* request) override;
  grpc::ServerUnaryReactor* UpdateOffset(grpc::CallbackServerContext* ctx,
                                         const apache::rocketmq::v2::UpdateOffsetRequest* request,
                                         apache::rocketmq::v2::UpdateOffsetResponse* response) override;
  grpc::ServerUnaryReactor* GetOffset(grpc::CallbackServerContext* ctx,
                                      const apache::rocketmq::v2::GetOffsetRequest* request,
                                      apache::rocketmq::v2::GetOffsetResponse* response) override;
  grpc::ServerUnaryReactor* QueryOffset(grpc::CallbackServerContext* ctx,
                                        const apache::rocketmq::v2::QueryOffsetRequest* request,
                                        apache::rocketmq::v2::QueryOffsetResponse* response) override;
  grpc::ServerUnaryReactor* SyncLiteSubscription(
      grpc::CallbackServerContext* ctx, const apache::rocketmq::v2::SyncLiteSubscriptionRequest* request,
      apache::rocketmq::v2::SyncLiteSubscriptionResponse* response) override;

 private:
  using RouteDone = std::function<void(Result<mq::v1::TopicRouteData>)>;
  // The cluster's route of `stored_topic` (NameServers, else this broker's own table);
  // auto-creates an unknown topic here when `auto_create` and autoCreateTopicEnable.
  void ResolveRoute(const std::string& stored_topic, bool auto_create, RouteDone done);
  Result<mq::v1::TopicRouteData> LocalRoute(const std::string& stored_topic, bool auto_create);
  SettingsOutcome OnSettings(const CallContext& call, const std::string& peer,
                             const apache::rocketmq::v2::Settings& settings);
  apache::rocketmq::v2::TelemetryCommand ToCheckCommand(const mq::v1::TransactionCheck& check,
                                                        const std::string& ns) const;
  SendLimits Limits() const;
  template <typename Response>
  grpc::ServerUnaryReactor* RefuseNotServed(grpc::CallbackServerContext* ctx, std::string_view rpc,
                                            Response* response);

  Deps deps_;
  std::unique_ptr<NamesrvRouteClient> routes_;
  std::unique_ptr<TelemetrySessions> telemetry_;
  ConsumerRpcs* consumer_rpcs_ = nullptr;
  mutable std::mutex mu_;
  std::string v2_addr_;  // GUARDED_BY(mu_)
};

}  // namespace mq::broker::v2
