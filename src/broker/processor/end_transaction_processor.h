// EndTransactionProcessor: the protocol-neutral entry for EndTransaction and QueryTransactionHalf
// (RocketMQ EndTransactionProcessor): refuses them on a slave or a broker without write
// permission, then hands them to the TransactionalMessageService. On a SYNC_MASTER a commit is
// answered once the in-sync slaves hold the committed message, or after syncFlushTimeout
// (answered OK either way, as RocketMQ's sendFinalMessage takes FLUSH_SLAVE_TIMEOUT and
// SLAVE_NOT_AVAILABLE as success; logged). Stateless; thread-safe.
#pragma once

#include <functional>

#include "broker/broker_context.h"
#include "broker/ha/ha_service.h"
#include "broker/transaction/transactional_message_service.h"
#include "common/result.h"
#include "mq/v1/broker.pb.h"

namespace mq::broker {

class EndTransactionProcessor {
 public:
  using Done = txn::TransactionalMessageService::EndDone;

  // `service` and `ha` (null: no replication wait) must outlive the processor.
  EndTransactionProcessor(BrokerContext ctx, txn::TransactionalMessageService* service,
                          ha::HaService* ha = nullptr)
      : ctx_(ctx), service_(service), ha_(ha) {}

  void EndTransaction(const mq::v1::EndTransactionRequest& request, Done done);
  Result<mq::v1::QueryTransactionHalfResponse> QueryTransactionHalf(
      const mq::v1::QueryTransactionHalfRequest& request);

 private:
  BrokerContext ctx_;
  txn::TransactionalMessageService* const service_;
  ha::HaService* const ha_;
};

}  // namespace mq::broker
