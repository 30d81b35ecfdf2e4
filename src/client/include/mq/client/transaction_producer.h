// TransactionProducer: sends transactional messages (RocketMQ TransactionMQProducer).
//
// SendMessageInTransaction() stores a half message (invisible to consumers), runs the local
// transaction executor, then tells the broker COMMIT (the message becomes visible), ROLLBACK
// (it never does) or nothing for UNKNOWN. Whenever the outcome stays unknown (UNKNOWN, a
// crash, a lost EndTransaction) the broker asks a live producer of the same group through the
// checker, first transactionTimeOut (6 s) after the send, then every transactionCheckInterval,
// at most transactionCheckMax times (the message then goes to TRANS_CHECK_MAX_TIME_TOPIC).
// A producer is live for checks while it keeps a TransactionCheckStream open to the broker:
// it opens one to every master of the topics it has routes for (see check_topics), reopened
// within about a second after a broker restart.
//
// Threads: SendMessageInTransaction() may be called from any threads concurrently; the
// executor runs on the calling thread, the checker on the library's callback threads (both
// may run concurrently with themselves). An exception from either counts as UNKNOWN.
// Shutdown() (also run by the destructor) closes the check streams, then stops the producer.
// The checker may call it ("stop once this is settled"): it returns at once, the producer's
// shutdown goes on beside it, and the destructor (never run in the checker) waits for it.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/status.h"
#include "mq/client/producer.h"

namespace mq::client {

// RocketMQ LocalTransactionState (COMMIT_MESSAGE, ROLLBACK_MESSAGE, UNKNOW).
enum class LocalTransactionState { kCommitMessage, kRollbackMessage, kUnknown };

// Runs the local transaction of a half message that is stored; `transaction_id` is the
// message id the broker will show once committed.
using LocalTransactionExecutor = std::function<LocalTransactionState(
    const Message& msg, const std::string& transaction_id, const std::string& arg)>;
// Answers the broker's question about a half message whose outcome is unknown
// (msg.msg_id is the transaction id; msg.message.topic the real topic).
using TransactionChecker = std::function<LocalTransactionState(const ReceivedMessage& msg)>;

struct TransactionProducerOptions {
  ProducerOptions producer;  // producer.group is the group the broker checks back
  // Topics whose brokers this producer answers checks for from Start() on, even before it
  // sent to them (e.g. halves left by a previous instance). Brokers of topics it sends to are
  // added on their own.
  std::vector<std::string> check_topics;
};

struct TransactionSendResult {
  SendResult send_result;  // of the half message
  std::string transaction_id;
  LocalTransactionState local_state = LocalTransactionState::kUnknown;
  // How telling the broker the outcome went. Not OK: the outcome is left to the check-back.
  Status end_status;
};

class TransactionChecks;

class TransactionProducer {
 public:
  TransactionProducer(TransactionProducerOptions options, LocalTransactionExecutor executor,
                      TransactionChecker checker);
  ~TransactionProducer();
  TransactionProducer(const TransactionProducer&) = delete;
  TransactionProducer& operator=(const TransactionProducer&) = delete;

  Status Start();
  void Shutdown();

  // Errors are those of the half message's send (nothing was stored then and the executor did
  // not run) and kInvalidArgument for a delayed message (transactions cannot be delayed).
  Result<TransactionSendResult> SendMessageInTransaction(const Message& msg, const std::string& arg = "");

  // Brokers with an established check stream (for monitoring and tests).
  size_t LiveCheckStreams() const;
  // Checks answered so far (checker calls).
  int64_t ChecksAnswered() const;

 private:
  const TransactionProducerOptions options_;
  const LocalTransactionExecutor executor_;
  Producer producer_;
  std::shared_ptr<TransactionChecks> checks_;
  std::atomic<bool> started_{false};
};

}  // namespace mq::client
