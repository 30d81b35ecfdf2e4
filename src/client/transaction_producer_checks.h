// TransactionChecks: the producer end of check-back. Keeps one TransactionCheckStream call
// open to every master broker the client has a route to (a 1 s timer on the internal executor
// opens missing ones, so a restarted broker is reached again within about a second), runs the
// checker for each TransactionCheck on the callback executor and answers with
// EndTransaction(from_check=true) to the broker that asked.
// Threads: stream reactions on gRPC threads only record and hand off; the checker runs on
// callbacks(); the timer and EndTransaction completions on internal(). mu_ guards streams_,
// streams_alive_ and stopping_; never held across a gRPC call start or user code.
// Lifecycle: Start() after the client started; Shutdown() cancels every stream and waits for
// their completion before the client's executors stop.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "client_instance.h"
#include "mq/client/transaction_producer.h"

namespace mq::client {

class TransactionChecks : public std::enable_shared_from_this<TransactionChecks> {
 public:
  TransactionChecks(ClientInstance* client, std::string group, TransactionChecker checker)
      : client_(client), group_(std::move(group)), checker_(std::move(checker)) {}
  TransactionChecks(const TransactionChecks&) = delete;
  TransactionChecks& operator=(const TransactionChecks&) = delete;

  void Start();
  void Shutdown();
  size_t Live() const;
  bool Stopping() const;  // Shutdown() has begun
  int64_t Answered() const { return answered_.load(); }

  class Stream;

 private:
  friend class Stream;
  void OpenMissing();
  void OnStreamLive(const std::string& addr);
  void OnStreamDone(const std::string& addr, Stream* stream);  // before the stream is deleted
  void OnStreamGone();                                         // after
  void OnCheck(const std::string& addr, const mq::v1::TransactionCheck& check);

  ClientInstance* const client_;
  const std::string group_;
  const TransactionChecker checker_;
  std::atomic<int64_t> answered_{0};
  IoExecutor::TaskId timer_ = 0;

  mutable std::mutex mu_;
  std::condition_variable done_cv_;
  std::map<std::string, Stream*> streams_;  // GUARDED_BY(mu_): broker address -> open call
  std::map<std::string, bool> live_;        // GUARDED_BY(mu_): address -> initial metadata seen
  int streams_alive_ = 0;                   // GUARDED_BY(mu_): streams not deleted yet
  bool stopping_ = false;                   // GUARDED_BY(mu_)
};

}  // namespace mq::client
