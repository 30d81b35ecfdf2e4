#include "broker/processor/end_transaction_processor.h"

#include <fmt/format.h>

#include "common/perm.h"

namespace mq::broker {

void EndTransactionProcessor::EndTransaction(const mq::v1::EndTransactionRequest& request, Done done) {
  const BrokerConfig& config = *ctx_.config;
  if (IsSlave(config)) {
    return done(Status::PermissionDenied(
                    fmt::format("broker: {} (brokerId {}) is a SLAVE; end transactions on the master",
                                config.brokerName, config.brokerId)),
                {});
  }
  if (!IsWritable(ctx_.runtime->broker_permission.load())) {
    return done(
        Status::PermissionDenied(fmt::format("broker: brokerPermission {} of {} forbids writes",
                                             ctx_.runtime->broker_permission.load(), config.brokerName)),
        {});
  }
  service_->End(request, std::move(done));
}

Result<mq::v1::QueryTransactionHalfResponse> EndTransactionProcessor::QueryTransactionHalf(
    const mq::v1::QueryTransactionHalfRequest& request) {
  if (IsSlave(*ctx_.config)) {
    return Status::FailedPrecondition("broker: a SLAVE does not track transactions; ask the master");
  }
  return service_->QueryHalf(request);
}

}  // namespace mq::broker
