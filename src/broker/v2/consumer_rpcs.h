// ConsumerRpcs: the seam between the v2 gRPC front (MessagingServiceV2, which owns the call and its
// metadata) and the pop-consumption implementation of the four consumer RPCs. The front parses and
// checks the call's metadata into a CallContext, then hands the call over; the implementation owns
// the returned reactor from then on. Implementations are called on gRPC callback threads and must not
// block them. The front holds a non-owning pointer, set before the server starts; BrokerController
// owns the implementation and keeps it alive until the v2 server has shut down.
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>

#include "apache/rocketmq/v2/service.grpc.pb.h"

namespace mq::broker::v2 {

// What the v2 adapter reads from a call's metadata (x-mq-client-id, x-mq-namespace, ...).
struct CallContext {
  std::string client_id;       // x-mq-client-id
  std::string name_space;      // x-mq-namespace ("" when absent)
  std::string request_id;      // x-mq-request-id
  std::string language;        // x-mq-language
  std::string client_version;  // x-mq-client-version
};

// Consumer-side RPCs of apache.rocketmq.v2.MessagingService, implemented over pop consumption.
class ConsumerRpcs {
 public:
  virtual ~ConsumerRpcs() = default;

  virtual grpc::ServerWriteReactor<apache::rocketmq::v2::ReceiveMessageResponse>* ReceiveMessage(
      grpc::CallbackServerContext* ctx, const apache::rocketmq::v2::ReceiveMessageRequest* request,
      const CallContext& call) = 0;
  virtual grpc::ServerUnaryReactor* AckMessage(grpc::CallbackServerContext* ctx,
                                               const apache::rocketmq::v2::AckMessageRequest* request,
                                               apache::rocketmq::v2::AckMessageResponse* response,
                                               const CallContext& call) = 0;
  virtual grpc::ServerUnaryReactor* ChangeInvisibleDuration(
      grpc::CallbackServerContext* ctx, const apache::rocketmq::v2::ChangeInvisibleDurationRequest* request,
      apache::rocketmq::v2::ChangeInvisibleDurationResponse* response, const CallContext& call) = 0;
  virtual grpc::ServerUnaryReactor* ForwardMessageToDeadLetterQueue(
      grpc::CallbackServerContext* ctx,
      const apache::rocketmq::v2::ForwardMessageToDeadLetterQueueRequest* request,
      apache::rocketmq::v2::ForwardMessageToDeadLetterQueueResponse* response, const CallContext& call) = 0;

  // A v2 client of `group` sent Heartbeat or Settings (keeps its auto-renewed messages invisible).
  virtual void OnClientAlive(const std::string& client_id, const std::string& group) = 0;
  // NotifyClientTermination: the client's held auto-renewed messages become visible within ~1 s.
  virtual void OnClientGone(const std::string& client_id, const std::string& group) = 0;
};

}  // namespace mq::broker::v2
