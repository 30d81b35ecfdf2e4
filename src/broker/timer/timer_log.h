// TimerLog: the on-disk index of pending timers (RocketMQ's TimerLog, our layout). One fixed
// 56-byte unit per timer-topic record, appended in the order the records are read from the
// timer topic; the units of one wheel slot form a chain through prev_pos, newest first, whose
// head lives in TimerWheel. The commit log keeps the messages; this log only says which
// record is due in which slot, so memory stays bounded by the wheel however many are pending.
//
//  offset size field
//  ------ ---- -----------------------------------------------------------------
//     0    4   magic 0x54494D52 ("TIMR")
//     4    4   crc32c of bytes [8, 56)
//     8    8   prev_pos     previous unit of the same slot; -1 = first of its slot
//    16    8   slot_ms      wheel slot (TimerWheel)
//    24    8   deliver_ms   delivery time (TIMER_OUT_MS)
//    32    8   commit_log_offset of the parked record
//    40    4   size of the parked record
//    44    4   flags        1 = recall marker, 2 = roll (re-park instead of delivering)
//    48    8   cq_offset    the record's offset in rmq_sys_wheel_timer queue 0
//
// Files: <dir>/<20-digit start position>, units_per_segment units each, written with pwrite
// (a kill -9 keeps every completed unit; Sync() makes them survive power loss). Open() scans
// every unit and truncates at the first torn or corrupt one (and drops later segments): what
// follows is re-derived from the timer topic, which is the source of truth.
// Not thread-safe: owned by TimerService's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "common/result.h"

namespace mq::broker::timer {

struct TimerUnit {
  static constexpr int32_t kSize = 56;
  static constexpr uint32_t kMagic = 0x54494D52u;
  static constexpr int32_t kFlagRecall = 1;
  static constexpr int32_t kFlagRoll = 2;
  int64_t prev_pos = -1;
  int64_t slot_ms = 0;
  int64_t deliver_ms = 0;
  int64_t commit_log_offset = 0;
  int32_t size = 0;
  int32_t flags = 0;
  int64_t cq_offset = 0;
};

class TimerLog {
 public:
  TimerLog(std::string dir, int64_t units_per_segment);
  ~TimerLog();
  TimerLog(const TimerLog&) = delete;
  TimerLog& operator=(const TimerLog&) = delete;

  // Loads the segments, truncating a torn tail; `visit` sees every valid unit in order. With
  // `keep`, the log also ends before the first unit it refuses (a unit of a record the store
  // no longer has), as at a torn one.
  Status Open(const std::function<void(int64_t pos, const TimerUnit&)>& visit,
              const std::function<bool(const TimerUnit&)>& keep = nullptr);
  // Open() cut something off: a torn, corrupt or refused unit, or the segments after one.
  bool cut() const { return cut_; }
  Result<int64_t> Append(const TimerUnit& unit);  // returns the unit's position
  Result<TimerUnit> Read(int64_t pos) const;
  Status Sync();
  // Deletes the oldest segments whose units all have slot_ms < `done_before_ms` (the active
  // segment is kept). Returns how many were deleted.
  int DeleteDoneSegments(int64_t done_before_ms);

  int64_t end() const { return end_; }
  int64_t begin() const { return segments_.empty() ? end_ : segments_.begin()->first; }
  size_t segment_count() const { return segments_.size(); }

 private:
  struct Segment {
    int fd = -1;
    int64_t max_slot_ms = INT64_MIN;
  };
  std::string PathOf(int64_t start) const;
  Result<Segment*> SegmentFor(int64_t pos, bool create);

  const std::string dir_;
  const int64_t segment_bytes_;
  std::map<int64_t, Segment> segments_;  // by start position
  int64_t end_ = 0;                      // position of the next unit
  bool cut_ = false;
};

}  // namespace mq::broker::timer
