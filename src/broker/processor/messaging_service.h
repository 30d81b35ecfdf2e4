// MessagingService: the gRPC adapter of mq.v1.Messaging (callback API). It converts between
// gRPC and the processors and nothing else. Sends and parked pulls finish their reactor from
// the store's or the executor's threads; no handler blocks.
// Owns the send-request budget (sendRequestMemoryQuota): a send's request bytes are leased
// until gRPC is done with the call, since gRPC's ResourceQuota stops counting them once read.
// BrokerController owns the processors and outlives the server.
#pragma once

#include <atomic>
#include <cstdint>

#include "broker/processor/byte_budget.h"
#include "broker/processor/client_processor.h"
#include "broker/processor/end_transaction_check_streams.h"
#include "broker/processor/end_transaction_processor.h"
#include "broker/processor/pull_processor.h"
#include "broker/processor/recall_processor.h"
#include "broker/processor/send_back_processor.h"
#include "broker/processor/send_processor.h"
#include "mq/v1/broker.grpc.pb.h"

namespace mq::broker {

// SendMessage takes the request's bytes (raw method): plain sends are read and answered in their
// wire form (SendProcessor::TrySendWire), the rest parsed here and sent as protobuf.
class MessagingService final
    : public mq::v1::Messaging::WithRawCallbackMethod_SendMessage<mq::v1::Messaging::CallbackService> {
 public:
  MessagingService(SendProcessor* send, PullProcessor* pull, ClientProcessor* client,
                   int64_t send_memory_quota, SendBackProcessor* send_back = nullptr,
                   RecallProcessor* recall = nullptr)
      : send_(send),
        pull_(pull),
        client_(client),
        recall_(recall),
        send_budget_(send_memory_quota),
        send_back_(send_back) {}

  grpc::ServerUnaryReactor* SendMessage(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* PullMessage(grpc::CallbackServerContext* ctx,
                                        const mq::v1::PullMessageRequest* request,
                                        mq::v1::PullMessageResponse* response) override;
  grpc::ServerUnaryReactor* QueryConsumerOffset(grpc::CallbackServerContext* ctx,
                                                const mq::v1::QueryConsumerOffsetRequest* request,
                                                mq::v1::QueryConsumerOffsetResponse* response) override;
  grpc::ServerUnaryReactor* UpdateConsumerOffset(grpc::CallbackServerContext* ctx,
                                                 const mq::v1::UpdateConsumerOffsetRequest* request,
                                                 mq::v1::UpdateConsumerOffsetResponse* response) override;
  grpc::ServerUnaryReactor* GetQueueOffsets(grpc::CallbackServerContext* ctx,
                                            const mq::v1::GetQueueOffsetsRequest* request,
                                            mq::v1::GetQueueOffsetsResponse* response) override;
  grpc::ServerUnaryReactor* SearchOffset(grpc::CallbackServerContext* ctx,
                                         const mq::v1::SearchOffsetRequest* request,
                                         mq::v1::SearchOffsetResponse* response) override;
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* ctx,
                                      const mq::v1::HeartbeatRequest* request,
                                      mq::v1::HeartbeatResponse* response) override;
  grpc::ServerUnaryReactor* UnregisterClient(grpc::CallbackServerContext* ctx,
                                             const mq::v1::UnregisterClientRequest* request,
                                             mq::v1::UnregisterClientResponse* response) override;
  grpc::ServerUnaryReactor* GetConsumerIds(grpc::CallbackServerContext* ctx,
                                           const mq::v1::GetConsumerIdsRequest* request,
                                           mq::v1::GetConsumerIdsResponse* response) override;
  grpc::ServerUnaryReactor* LockBatchQueues(grpc::CallbackServerContext* ctx,
                                            const mq::v1::LockBatchRequest* request,
                                            mq::v1::LockBatchResponse* response) override;
  grpc::ServerUnaryReactor* UnlockBatchQueues(grpc::CallbackServerContext* ctx,
                                              const mq::v1::LockBatchRequest* request,
                                              mq::v1::LockBatchResponse* response) override;
  grpc::ServerUnaryReactor* EndTransaction(grpc::CallbackServerContext* ctx,
                                           const mq::v1::EndTransactionRequest* request,
                                           mq::v1::EndTransactionResponse* response) override;
  grpc::ServerWriteReactor<mq::v1::TransactionCheck>* TransactionCheckStream(
      grpc::CallbackServerContext* ctx, const mq::v1::TransactionCheckStreamRequest* request) override;
  grpc::ServerUnaryReactor* QueryTransactionHalf(grpc::CallbackServerContext* ctx,
                                                 const mq::v1::QueryTransactionHalfRequest* request,
                                                 mq::v1::QueryTransactionHalfResponse* response) override;

  // The budget of send request bytes in progress (sendRequestMemoryQuota), which the fast send
  // port shares.
  ByteBudget* send_budget() { return &send_budget_; }

  // Before the server starts; both outlive the service.
  void SetTransactions(EndTransactionProcessor* end_transaction, TransactionCheckStreams* check_streams) {
    end_transaction_ = end_transaction;
    check_streams_ = check_streams;
  }
  grpc::ServerUnaryReactor* ConsumerSendMsgBack(grpc::CallbackServerContext* ctx,
                                                const mq::v1::ConsumerSendMsgBackRequest* request,
                                                mq::v1::ConsumerSendMsgBackResponse* response) override;
  grpc::ServerUnaryReactor* RecallMessage(grpc::CallbackServerContext* ctx,
                                          const mq::v1::RecallMessageRequest* request,
                                          mq::v1::RecallMessageResponse* response) override;

 private:
  SendProcessor* send_;
  PullProcessor* pull_;
  ClientProcessor* client_;
  RecallProcessor* recall_;  // null: RecallMessage is UNIMPLEMENTED
  ByteBudget send_budget_;
  EndTransactionProcessor* end_transaction_ = nullptr;
  TransactionCheckStreams* check_streams_ = nullptr;
  SendBackProcessor* send_back_;  // null: send-back answers UNIMPLEMENTED
};

}  // namespace mq::broker
