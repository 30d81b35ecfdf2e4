// The pop journal: every change of pop state is stored as a record in the system topic
// rmq_sys_REVIVE_LOG_<cluster> (queue 0), RocketMQ's revive topic name, through the store, so
// it is as durable as a sent message under the broker's flush policy and survives kill -9.
// PopService replays it from the snapshot's offset at start (pop_state.h explains why replay
// may start early).
//
// Record body (big-endian), one record per pop / ack / change batch:
//
//   +------+---------+-----------+---------------------+
//   | 'J'  | version | count u32 | count x JournalEntry |
//   +------+---------+-----------+---------------------+
//   JournalEntry: type u8 | group str16 | topic str16 | queue_id i32 | offset i64 | epoch i64 |
//                 new_epoch i64 | deadline_ms i64 | attempt i32 | commit_log_offset i64 |
//                 first_pop_ms i64 | auto_renew u8 | client_id str16
//   str16 = length u16 + bytes.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "broker/pop/pop_state.h"
#include "common/result.h"

namespace mq::broker::pop {

// The journal's topic is this prefix and the cluster name. Only PopService writes it: the send
// path refuses every topic with the prefix, as replay applies whatever records it finds there.
inline constexpr std::string_view kJournalTopicPrefix = "rmq_sys_REVIVE_LOG_";

enum class JournalType : uint8_t {
  kPop = 'P',      // delivery `epoch` of `offset` (InFlight fields)
  kAdvance = 'N',  // next_offset = offset
  kAck = 'A',      // ack of delivery `epoch`
  kChange = 'C',   // delivery `epoch` becomes `new_epoch` with deadline_ms
  kRenew = 'R',    // delivery `epoch` gets deadline_ms
  kReset = 'S',    // an offset reset (mqadmin resetOffsetByTime): next_offset = offset, no deliveries
};

struct JournalEntry {
  JournalType type = JournalType::kPop;
  QueueKey key;
  int64_t offset = 0;
  int64_t epoch = 0;
  int64_t new_epoch = 0;
  int64_t deadline_ms = 0;
  int32_t attempt = 0;
  int64_t commit_log_offset = 0;
  int64_t first_pop_ms = 0;
  bool auto_renew = false;
  std::string client_id;
};

inline JournalEntry MakeJournalEntry(JournalType type, const QueueKey& key, int64_t offset, int64_t epoch) {
  JournalEntry e;
  e.type = type;
  e.key = key;
  e.offset = offset;
  e.epoch = epoch;
  return e;
}

std::string EncodeJournal(const std::vector<JournalEntry>& entries);
// Corruption for a body that is not a journal record of this version.
Result<std::vector<JournalEntry>> DecodeJournal(std::string_view body);

// Applies one entry to the table (the replay path; PopService applies the same way live).
// settled_epoch: the max epoch of the snapshot the replay started from (PopStateTable::ApplyPop).
void ApplyJournalEntry(const JournalEntry& entry, int64_t settled_epoch, PopStateTable* table);

}  // namespace mq::broker::pop
