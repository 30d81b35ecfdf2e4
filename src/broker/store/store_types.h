// Result types of the MessageStore API (RocketMQ PutMessageStatus / GetMessageStatus) and
// the sticky error latch. Value types; ErrorLatch is thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace mq::store {

enum class PutStatus {
  kOk,
  kFlushDiskTimeout,        // appended, but not durable within syncFlushTimeout
  kFlushSlaveTimeout,       // reserved for the HA layer
  kSlaveNotAvailable,       // reserved for the HA layer
  kServiceNotAvailable,     // store not running, read-only after an I/O error, or disk full
  kCreateMappedFileFailed,  // a new segment could not be created
  kMessageIllegal,          // bad topic / queue id / size
  kPropertiesSizeExceeded,  // properties > 32767 bytes
  kOsPageCacheBusy,         // reserved
  kUnknownError,
};
std::string_view PutStatusName(PutStatus status);

struct PutResult {
  PutStatus status = PutStatus::kUnknownError;
  std::string error;            // empty when kOk
  int64_t physical_offset = 0;  // commit log offset of the first message
  int32_t wrote_bytes = 0;
  int64_t queue_offset = 0;  // queue offset of the first message
  int32_t msg_num = 0;
  int64_t store_timestamp = 0;
  std::string offset_msg_id;              // offsetMsgId of the first message
  std::vector<int64_t> physical_offsets;  // commit log offset of every message, in order
  bool ok() const { return status == PutStatus::kOk; }
};
using PutCallback = std::function<void(const PutResult&)>;

enum class GetMessageStatus {
  kFound,
  kNoMatchedMessage,
  kMessageWasRemoving,
  kOffsetFoundNull,
  kOffsetOverflowBadly,
  kOffsetOverflowOne,
  kOffsetTooSmall,
  kNoMatchedLogicQueue,
  kNoMessageInQueue,
};
std::string_view GetMessageStatusName(GetMessageStatus status);

struct GetMessageResult {
  GetMessageStatus status = GetMessageStatus::kNoMatchedLogicQueue;
  int64_t next_begin_offset = 0;
  int64_t min_offset = 0;
  int64_t max_offset = 0;
  std::vector<std::string> messages;  // encoded records (see message_format.h)
  std::vector<int64_t> queue_offsets;
  int64_t buffer_total_size = 0;
  int64_t last_phy_offset = -1;  // commit log offset of the last record returned; -1: none
};

// Called as (topic, queue_id, max_queue_offset) when messages become readable.
using ArrivalListener = std::function<void(const std::string&, int32_t, int64_t)>;

// Sticky background error, leveldb RecordBackgroundError style: the first failure wins and
// the store stays read-only until restarted.
class ErrorLatch {
 public:
  bool ok() const { return !set_.load(std::memory_order_acquire); }
  void Set(const Status& s) {
    std::lock_guard<std::mutex> lock(mu_);
    if (set_.load()) return;
    status_ = s;
    set_.store(true, std::memory_order_release);
  }
  Status status() const {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }

 private:
  std::atomic<bool> set_{false};
  mutable std::mutex mu_;
  Status status_;  // GUARDED_BY(mu_)
};

}  // namespace mq::store
