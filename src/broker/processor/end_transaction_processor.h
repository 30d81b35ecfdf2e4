// EndTransactionProcessor: the protocol-neutral entry for EndTransaction and QueryTransactionHalf
// (RocketMQ EndTransactionProcessor): refuses them on a slave or a broker without write
// permission, then hands them to the TransactionalMessageService. Stateless; thread-safe.
#pragma once

#include <functional>

#include "broker/broker_context.h"
#include "broker/transaction/transactional_message_service.h"
#include "common/result.h"
#include "mq/v1/broker.pb.h"

namespace mq::broker {

class EndTransactionProcessor {
 public:
  using Done = txn::TransactionalMessageService::EndDone;

  // `service` must outlive the processor.
  EndTransactionProcessor(BrokerContext ctx, txn::TransactionalMessageService* service)
      : ctx_(ctx), service_(service) {}

  void EndTransaction(const mq::v1::EndTransactionRequest& request, Done done);
  Result<mq::v1::QueryTransactionHalfResponse> QueryTransactionHalf(
      const mq::v1::QueryTransactionHalfRequest& request);

 private:
  BrokerContext ctx_;
  txn::TransactionalMessageService* const service_;
};

}  // namespace mq::broker
