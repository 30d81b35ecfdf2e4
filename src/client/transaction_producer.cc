#include "mq/client/transaction_producer.h"

#include <cstdlib>

#include "common/logging.h"
#include "route_info.h"
#include "rpc_call.h"
#include "transaction_producer_access.h"
#include "transaction_producer_checks.h"

namespace mq::client {
namespace {

// offsetMsgId = store ip (8 hex) + port (8 hex) + commit log offset (16 hex), as RocketMQ's
// producer decodes it (MessageDecoder.decodeMessageId) to name the half message.
Result<int64_t> CommitLogOffsetOf(const std::string& offset_msg_id) {
  if (offset_msg_id.size() != 32)
    return Status::Internal("offset_msg_id: '" + offset_msg_id + "' is not 32 hex digits");
  const std::string hex = offset_msg_id.substr(16);
  char* end = nullptr;
  unsigned long long v = std::strtoull(hex.c_str(), &end, 16);
  if (end != hex.c_str() + hex.size())
    return Status::Internal("offset_msg_id: '" + offset_msg_id + "' is not hex");
  return static_cast<int64_t>(v);
}

}  // namespace

TransactionProducer::TransactionProducer(TransactionProducerOptions options,
                                         LocalTransactionExecutor executor, TransactionChecker checker)
    : options_(std::move(options)),
      executor_(std::move(executor)),
      producer_(options_.producer),
      checks_(std::make_shared<TransactionChecks>(&ProducerAccess::Client(producer_), options_.producer.group,
                                                  std::move(checker))) {}

TransactionProducer::~TransactionProducer() { Shutdown(); }

Status TransactionProducer::Start() {
  if (!executor_) return Status::InvalidArgument("executor: a local transaction executor is required");
  MQ_RETURN_IF_ERROR(producer_.Start());
  started_ = true;
  for (const auto& topic : options_.check_topics) {
    // Best effort: a topic without a route yet is picked up once the producer sends to it.
    auto queues = producer_.FetchPublishQueues(topic);
    if (!queues.ok()) {
      MQ_LOG_WARN(Logger("client"), "check topic {}: {}", topic, queues.status().ToString());
    }
  }
  checks_->Start();
  return Status::OK();
}

void TransactionProducer::Shutdown() {
  // Also from the checker: the producer's shutdown then goes on beside it (Producer::Shutdown),
  // and the destructor waits for it.
  if (!started_.exchange(false)) return;
  checks_->Shutdown();
  producer_.Shutdown();
}

Result<TransactionSendResult> TransactionProducer::SendMessageInTransaction(const Message& msg,
                                                                            const std::string& arg) {
  if (!started_) return Status::FailedPrecondition("producer: not started");
  if (msg.delay_level != 0) {
    return Status::InvalidArgument("delay_level: a transactional message cannot be delayed");
  }
  MQ_ASSIGN_OR_RETURN(SendResult half, ProducerAccess::SendHalf(producer_, msg));
  TransactionSendResult result;
  result.transaction_id = half.msg_id;
  result.send_result = half;
  try {
    result.local_state = executor_(msg, result.transaction_id, arg);
  } catch (const std::exception& e) {
    MQ_LOG_WARN(Logger("client"), "local transaction of txn={} threw: {}", result.transaction_id, e.what());
    result.local_state = LocalTransactionState::kUnknown;
  } catch (...) {
    MQ_LOG_WARN(Logger("client"), "local transaction of txn={} threw", result.transaction_id);
    result.local_state = LocalTransactionState::kUnknown;
  }
  if (result.local_state == LocalTransactionState::kUnknown) return result;

  ClientInstance& client = ProducerAccess::Client(producer_);
  auto offset = CommitLogOffsetOf(half.offset_msg_id);
  auto route = client.CachedRoute(msg.topic);
  std::string addr = route ? MasterAddress(*route, half.queue.broker_name) : std::string();
  if (!offset.ok()) {
    result.end_status = offset.status();
  } else if (addr.empty()) {
    result.end_status =
        Status::Unavailable("end transaction: no address of broker " + half.queue.broker_name);
  } else {
    mq::v1::EndTransactionRequest req;
    req.set_producer_group(options_.producer.group);
    req.set_transaction_id(result.transaction_id);
    req.set_commit_log_offset(*offset);
    req.set_resolution(result.local_state == LocalTransactionState::kCommitMessage
                           ? mq::v1::TRANSACTION_COMMIT
                           : mq::v1::TRANSACTION_ROLLBACK);
    auto stub = client.Broker(addr);
    auto r = BlockingCall<mq::v1::EndTransactionResponse>(
        client.options().rpc_timeout_ms,
        [&](auto* c, auto* resp) { return stub->EndTransaction(c, req, resp); });
    result.end_status = r.status();
  }
  if (!result.end_status.ok()) {
    // The broker's check-back settles it (RocketMQ sends END_TRANSACTION oneway for this reason).
    MQ_LOG_WARN(Logger("client"), "end of txn={} not delivered: {}", result.transaction_id,
                result.end_status.ToString());
  }
  return result;
}

size_t TransactionProducer::LiveCheckStreams() const { return checks_->Live(); }
int64_t TransactionProducer::ChecksAnswered() const { return checks_->Answered(); }

}  // namespace mq::client
