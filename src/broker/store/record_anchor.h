// RecordAnchor: names the tail of a commit log so that two logs can check they share it (the
// replication handshake, docs/replication.md).
//
// The anchor of a log ending at `end` is its last MESSAGE record before `end`: the record's
// offset, size and the crc32c of all its bytes. Only a BLANK (the end-of-segment filler) may lie
// between that record and `end`. A record holds its own physical offset and store timestamp, so
// two logs with equal anchors hold the very same record at the same place, and since a replica
// only ever receives a master's log in order, the same bytes before it.
//
// Pure functions over a CommitLog; they take no lock of their own (CommitLog::ReadRecordAt
// pins each segment it reads), thread-safe like CommitLog reads.
#pragma once

#include <cstdint>

#include "common/result.h"

namespace mq::store {

class CommitLog;

struct RecordAnchor {
  int64_t offset = 0;   // where the last message record starts
  int32_t size = 0;     // its TOTALSIZE
  uint32_t crc32c = 0;  // crc32c of its `size` bytes
  int64_t end = 0;      // the log end it anchors (offset + size, or the end of a BLANK after it)

  bool operator==(const RecordAnchor&) const = default;
};

// Finds the anchor of the log prefix [.., end), `end` being a record boundary at or below the
// committed end. Walks the records of the segment holding end - 1, from its start or, when
// `known` anchors a shorter prefix of this log ending inside that segment, from known->end (so
// a replica can update its anchor per appended chunk without rescanning the segment).
// NotFound when end <= 0 or the segment is not stored; Corruption when `end` is not a record
// boundary or no message precedes it in its segment.
Result<RecordAnchor> FindRecordAnchor(const CommitLog& log, int64_t end, const RecordAnchor* known = nullptr);

// The anchor a log ending at `end` has if its last message starts at `offset`: reads the
// message at `offset` and requires that nothing or one BLANK lies between it and `end`.
// NotFound when `offset` is not stored; Corruption (naming what was found) otherwise.
Result<RecordAnchor> ReadRecordAnchor(const CommitLog& log, int64_t offset, int64_t end);

}  // namespace mq::store
