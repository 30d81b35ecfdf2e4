// TransactionalMessageService: the broker side of transactional messages (RocketMQ's
// TransactionalMessageService + EndTransactionProcessor logic + TransactionalMessageCheckService),
// independent of any wire protocol: the gRPC adapter (and later the RocketMQ 5 endpoint) calls
// End() and QueryHalf(); the send processor calls ToHalfMessage() (half_message.h).
//
// Check-back: a dedicated thread scans the half queue from a persisted position. Half records
// are in store order, so the scan stops at the first one that is not due yet; a due one whose
// transaction has not ended gets a copy appended with TRANSACTION_CHECK_TIMES + 1 (so the scan
// position moves past it: the cost of a round is the records it advances over, never the
// number pending) and a check sent to one live producer of its group. With no live producer the
// check still counts (RocketMQ does the same). After transactionCheckMax checks the message goes
// to TRANS_CHECK_MAX_TIME_TOPIC. Ops (ended transactions) are read from their own persisted
// position into a TransactionStateTable, so ended transactions are skipped; the scan waits at
// the half of a transaction whose End() is still putting.
// Due time: first check at prepared time + transactionTimeOut (or CHECK_IMMUNITY_TIME_IN_SECONDS),
// then transactionCheckInterval after each check.
//
// Files: <storePathRootDir>/config/transactionProgress (half and op queue positions),
// rewritten atomically at most once a second and at Shutdown(), and only with positions whose
// records (the copies of the halves passed, the ops read) are durable: a power cut that takes
// the commit log's tail then leaves the scan behind the lost records, never past them.
// Threads: End()/QueryHalf() from any thread (they never block: store callbacks finish them);
// the scan thread blocks on its own puts only. mu_ guards state_, ending_, last_copy_offset_
// and the positions; it is never held across a store call or a CheckSender call.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "broker/store/store_types.h"
#include "broker/transaction/check_sender.h"
#include "broker/transaction/half_message.h"
#include "broker/transaction/transaction_state.h"
#include "common/clock.h"
#include "common/durable_progress.h"
#include "common/result.h"
#include "mq/v1/broker.pb.h"

namespace mq::store {
class MessageStore;
}

namespace mq::broker {
class TopicConfigManager;
}

namespace mq::broker::txn {

struct TransactionOptions {
  int64_t transaction_timeout_ms = 6000;
  int64_t check_interval_ms = 30000;
  int32_t check_max = 15;
  std::string broker_name;
  std::string progress_path;  // the positions file
  // Bounds of one scan round (records read from each queue).
  int32_t max_halves_per_round = 4096;
  int32_t max_ops_per_round = 16384;
  // false: no scan thread; rounds run only through RunRoundForTest() (unit tests).
  bool run_thread = true;
};

class TransactionalMessageService {
 public:
  using EndDone = std::function<void(const Status&, const mq::v1::EndTransactionResponse&)>;

  // `store`, `topics` and `sender` must outlive the service.
  TransactionalMessageService(TransactionOptions options, store::MessageStore* store,
                              TopicConfigManager* topics, CheckSender* sender,
                              Clock* clock = SystemClock::Default());
  ~TransactionalMessageService();
  TransactionalMessageService(const TransactionalMessageService&) = delete;
  TransactionalMessageService& operator=(const TransactionalMessageService&) = delete;

  // Loads the positions and starts the scan thread (after the store started).
  Status Start();
  void Shutdown();

  // Validates and applies an end. COMMIT re-puts the message on its real topic/queue, then
  // records the op; ROLLBACK records the op; UNKNOWN changes nothing. Ending an ended
  // transaction the same way again answers OK with duplicate=true and does nothing; the other
  // way is FAILED_PRECONDITION. `done` runs once, inline or on a store thread.
  void End(const mq::v1::EndTransactionRequest& request, EndDone done);

  // Pending half messages (bounded scan from the check position).
  Result<mq::v1::QueryTransactionHalfResponse> QueryHalf(const mq::v1::QueryTransactionHalfRequest& request);

  // One scan round now (tests; the thread runs them periodically). Returns the half records
  // it looked at.
  int64_t RunRoundForTest() { return RunRound(); }

 private:
  void Loop();
  int64_t RunRound();
  void ReadOps();
  // Handles one half record; false when the scan must stop at it (not due yet).
  bool ScanHalf(const store::StoredMessage& half);
  // False when a put failed: the scan stops there and retries next round.
  bool CheckOrDiscard(const store::StoredMessage& half, const HalfInfo& info);
  // Puts and waits (scan thread only); the result's status says how it went.
  store::PutResult PutAndWait(store::MessageInput input);
  void PersistProgress(bool force);
  void Finish(const std::string& txn, Resolution resolution, int64_t half_queue_offset, int64_t half_max,
              std::function<void(const Status&, int64_t op_offset)> done);

  const TransactionOptions options_;
  store::MessageStore* const store_;
  TopicConfigManager* const topics_;
  CheckSender* const sender_;
  Clock* const clock_;

  std::mutex mu_;
  TransactionStateTable state_;    // GUARDED_BY(mu_)
  int64_t half_progress_ = 0;      // GUARDED_BY(mu_): next half queue offset to scan
  int64_t op_read_offset_ = 0;     // GUARDED_BY(mu_): next op queue offset to read
  int64_t last_copy_offset_ = -1;  // GUARDED_BY(mu_): queue offset of the scan's last copy
  // GUARDED_BY(mu_): transactions whose End() has not completed. The scan stops at their
  // halves instead of passing them as ended: an End whose put then fails leaves its half for
  // the checks, which a scan already past it would never reach again.
  std::set<std::string> ending_;
  int64_t persisted_half_ = -1;  // scan thread only
  int64_t persisted_op_ = -1;    // scan thread only
  int64_t last_persist_ms_ = 0;  // scan thread only
  // (half, op) positions held until the records they pass are durable; scan thread only.
  DurableProgress<std::pair<int64_t, int64_t>> durable_;

  std::mutex loop_mu_;
  std::condition_variable loop_cv_;
  bool stop_ = false;  // GUARDED_BY(loop_mu_)
  std::thread thread_;
  std::atomic<bool> started_{false};
};

}  // namespace mq::broker::txn
