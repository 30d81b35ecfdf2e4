// Names and record rewrites of transactional messages (RocketMQ TransactionalMessageUtil and
// TransactionalMessageBridge). Pure functions over store records; thread-safe.
//
// A prepared send is stored as a *half message*: topic RMQ_SYS_TRANS_HALF_TOPIC, queue 0, with
// the producer's topic and queue saved in REAL_TOPIC / REAL_QID, TRAN_MSG=true and PGROUP=group.
// Consumers never see it (the half topic is not in the topic table, so pulls are refused).
// Ending a transaction appends an *op* record to RMQ_SYS_TRANS_OP_HALF_TOPIC queue 0 (tag "d"),
// and COMMIT also re-puts the half message on its real topic/queue. Ops are the durable record
// of which transactions are over; the check service reads them back after a restart.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "broker/store/message_format.h"
#include "common/result.h"

namespace mq::broker::txn {

inline constexpr std::string_view kHalfTopic = "RMQ_SYS_TRANS_HALF_TOPIC";
inline constexpr std::string_view kOpHalfTopic = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
inline constexpr std::string_view kCheckMaxTimeTopic = "TRANS_CHECK_MAX_TIME_TOPIC";
inline constexpr std::string_view kOpTag = "d";

// MessageSysFlag transaction bits (bits 2-3).
inline constexpr int32_t kSysFlagTransactionMask = 0xC;
inline constexpr int32_t kSysFlagPrepared = 0x4;
inline constexpr int32_t kSysFlagCommit = 0x8;

// RocketMQ MessageConst names.
inline constexpr std::string_view kPropRealTopic = "REAL_TOPIC";
inline constexpr std::string_view kPropRealQid = "REAL_QID";
inline constexpr std::string_view kPropTranMsg = "TRAN_MSG";
inline constexpr std::string_view kPropProducerGroup = "PGROUP";
inline constexpr std::string_view kPropCheckTimes = "TRANSACTION_CHECK_TIMES";
inline constexpr std::string_view kPropCheckImmunity = "CHECK_IMMUNITY_TIME_IN_SECONDS";
// Ours: the store time (ms) of the first half record, carried by the copies the check service
// appends, so the first check stays due at prepared time + transactionTimeOut.
inline constexpr std::string_view kPropPreparedTs = "TRAN_PREPARED_TS";
// CHECK_IMMUNITY_TIME_IN_SECONDS is honoured up to an hour (RocketMQ 5's proxy caps it there
// too): a half waiting longer is copied again every transactionTimeOut meanwhile.
inline constexpr int64_t kMaxCheckImmunitySec = 3600;
// What a check's copy of a half adds (TRANSACTION_CHECK_TIMES and TRAN_PREPARED_TS, 57 bytes
// at most), rounded up: a half is stored only with this much room left under the limits, so
// no copy of it is ever refused for size.
inline constexpr int32_t kHalfCopyGrowthBytes = 64;

// Rewrites a producer's message (already addressed to its real topic/queue) into a half message.
void ToHalfMessage(store::MessageInput* msg, const std::string& producer_group);

// The facts of one stored half record the broker needs.
struct HalfInfo {
  std::string transaction_id;  // UNIQ_KEY
  std::string producer_group;
  std::string real_topic;
  int32_t real_queue_id = 0;
  int32_t check_times = 0;
  int64_t prepared_ts = 0;         // store time of the first half record
  int64_t check_immunity_ms = -1;  // CHECK_IMMUNITY_TIME_IN_SECONDS * 1000, or -1
};
// Corruption naming the property when the record is not a well-formed half message.
Result<HalfInfo> ParseHalf(const store::StoredMessage& half);

// The message to put on the real topic for a COMMIT (original properties and tags, sysflag
// COMMIT, PreparedTransactionOffset = the half's commit log offset); also the one moved to
// TRANS_CHECK_MAX_TIME_TOPIC (with topic/queue overridden by the caller).
store::MessageInput RestoreRealMessage(const store::StoredMessage& half, const HalfInfo& info);

// A copy of the half message to re-append behind the scan position, with check_times.
store::MessageInput RenewHalf(const store::StoredMessage& half, const HalfInfo& info, int32_t check_times);

// Op record: which transaction ended, how, and the half queue's end at that moment.
enum class Resolution { kCommit, kRollback, kDiscard };
std::string_view ResolutionName(Resolution r);
struct OpRecord {
  std::string transaction_id;
  Resolution resolution = Resolution::kRollback;
  int64_t half_queue_offset = 0;  // of the half record the end named
  int64_t half_max_offset = 0;    // half queue max offset when the op was written
};
store::MessageInput EncodeOp(const OpRecord& op);
Result<OpRecord> DecodeOp(const store::StoredMessage& stored);

}  // namespace mq::broker::txn
