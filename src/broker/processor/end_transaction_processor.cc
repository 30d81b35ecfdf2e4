#include "broker/processor/end_transaction_processor.h"

#include <fmt/format.h>

#include "broker/store/message_store.h"
#include "common/logging.h"
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
  if (ha_ == nullptr || config.brokerRole != "SYNC_MASTER") return service_->End(request, std::move(done));
  service_->End(request,
                [ha = ha_, store = ctx_.store, timeout = std::chrono::milliseconds(config.syncFlushTimeout),
                 done = std::move(done)](const Status& s, const mq::v1::EndTransactionResponse& r) {
                  // Only a commit stores a message (a rollback, an unknown or a repeated end does not).
                  if (!s.ok() || r.msg_id().empty() || r.duplicate()) return done(s, r);
                  // The committed message and its op record end the log, or nearly: wait for what is there.
                  const int64_t end = store->MaxPhyOffset();
                  ha->WaitForSlaves(end, timeout, [done, r](store::PutStatus replicated) {
                    if (replicated != store::PutStatus::kOk) {
                      MQ_LOG_WARN(Logger("broker"), "txn={} committed; the slaves did not confirm it: {}",
                                  r.msg_id(), store::PutStatusName(replicated));
                    }
                    done(Status::OK(), r);
                  });
                });
}

Result<mq::v1::QueryTransactionHalfResponse> EndTransactionProcessor::QueryTransactionHalf(
    const mq::v1::QueryTransactionHalfRequest& request) {
  if (IsSlave(*ctx_.config)) {
    return Status::FailedPrecondition("broker: a SLAVE does not track transactions; ask the master");
  }
  return service_->QueryHalf(request);
}

}  // namespace mq::broker
