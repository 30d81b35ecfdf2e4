// ConsumerService: the consumer RPCs of apache.rocketmq.v2.MessagingService (ReceiveMessage,
// AckMessage, ChangeInvisibleDuration, ForwardMessageToDeadLetterQueue) over PopService. It
// only converts: v2 requests to PopService calls, PopService results and errors to v2
// responses and Status codes (the RocketMQ proxy's *Activity classes and error table,
// docs/protocol.md). Receives are always broker-wide: the Node SDK sends queue 0 whatever the
// route says, and the proxy pops with queue -1 too.
// Threads: called on gRPC callback threads; never blocks them. Each ReceiveMessage call is a
// reactor that writes its frames one at a time (Status, each Message, delivery_timestamp) from
// the thread that completes the pop, then finishes; it deletes itself in OnDone. Unary calls
// finish on the thread that completes the PopService call.
// Lifecycle: owned by BrokerController; must outlive the v2 server (it holds PopService*).
#pragma once

#include <cstdint>

#include "broker/pop/pop_service.h"
#include "broker/v2/consumer_rpcs.h"
#include "common/status.h"

namespace mq::broker::v2 {

struct ConsumerServiceOptions {
  // minInvisibleTimeMillsForRecv / maxInvisibleTimeMills (proxy keys): the invisible_duration
  // a non-auto-renew ReceiveMessage may ask for. Defaults: 10 s / 12 h.
  int64_t min_invisible_ms = 10000;
  int64_t max_invisible_ms = 43200000;
  // grpcClientConsumerMinLongPollingTimeoutMillis / ...Max...: long_polling_timeout is clamped
  // into [min, max], and never runs past the call's deadline. Defaults: 5 s / 20 s.
  int64_t min_long_polling_ms = 5000;
  int64_t max_long_polling_ms = 20000;
};

// The v2 Status code for a PopService error (its message starts with the field at fault).
apache::rocketmq::v2::Code ToV2Code(const Status& status);

class ConsumerService final : public ConsumerRpcs {
 public:
  ConsumerService(ConsumerServiceOptions options, pop::PopService* pop);
  ConsumerService(const ConsumerService&) = delete;
  ConsumerService& operator=(const ConsumerService&) = delete;

  grpc::ServerWriteReactor<apache::rocketmq::v2::ReceiveMessageResponse>* ReceiveMessage(
      grpc::CallbackServerContext* ctx, const apache::rocketmq::v2::ReceiveMessageRequest* request,
      const CallContext& call) override;
  grpc::ServerUnaryReactor* AckMessage(grpc::CallbackServerContext* ctx,
                                       const apache::rocketmq::v2::AckMessageRequest* request,
                                       apache::rocketmq::v2::AckMessageResponse* response,
                                       const CallContext& call) override;
  grpc::ServerUnaryReactor* ChangeInvisibleDuration(
      grpc::CallbackServerContext* ctx, const apache::rocketmq::v2::ChangeInvisibleDurationRequest* request,
      apache::rocketmq::v2::ChangeInvisibleDurationResponse* response, const CallContext& call) override;
  grpc::ServerUnaryReactor* ForwardMessageToDeadLetterQueue(
      grpc::CallbackServerContext* ctx,
      const apache::rocketmq::v2::ForwardMessageToDeadLetterQueueRequest* request,
      apache::rocketmq::v2::ForwardMessageToDeadLetterQueueResponse* response,
      const CallContext& call) override;
  void OnClientAlive(const std::string& client_id, const std::string& group) override;
  void OnClientGone(const std::string& client_id, const std::string& group) override;

 private:
  class ReceiveReactor;
  // The long-polling time for a call: the request's, clamped, and within the deadline.
  int64_t PollMillis(grpc::CallbackServerContext* ctx,
                     const apache::rocketmq::v2::ReceiveMessageRequest& r) const;

  const ConsumerServiceOptions options_;
  pop::PopService* const pop_;
};

}  // namespace mq::broker::v2
