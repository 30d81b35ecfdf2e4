#include "broker/store/record_anchor.h"

#include <fmt/format.h>

#include <memory>

#include "broker/store/commit_log.h"
#include "common/crc32c.h"

namespace mq::store {
namespace {

const char* KindName(RecordKind kind) {
  switch (kind) {
    case RecordKind::kMessage:
      return "a message";
    case RecordKind::kBlank:
      return "a BLANK";
    case RecordKind::kEndOfData:
      break;
  }
  return "no record";
}

Status CheckEnd(const CommitLog& log, int64_t end) {
  if (end > log.committed_offset()) {
    return Status::InvalidArgument(
        fmt::format("anchor end {} is beyond the commit log end {}", end, log.committed_offset()));
  }
  return Status::OK();
}

}  // namespace

Result<RecordAnchor> FindRecordAnchor(const CommitLog& log, int64_t end, const RecordAnchor* known) {
  if (end <= 0) return Status::NotFound("an empty commit log has no last record");
  MQ_RETURN_IF_ERROR(CheckEnd(log, end));
  std::shared_ptr<MappedFile> segment = log.queue().FindByOffset(end - 1);
  if (!segment) {
    return Status::NotFound(
        fmt::format("commit log offset {} is not stored (min {})", end - 1, log.min_offset()));
  }
  RecordAnchor anchor;
  bool have = false;
  int64_t pos = segment->from_offset();
  if (known != nullptr && known->end > pos && known->end <= end) {
    anchor = *known;
    have = true;
    pos = known->end;
  }
  RecordRef last;  // keeps the segment of the last message alive until its CRC is taken
  int64_t last_offset = -1;
  while (pos < end) {
    MQ_ASSIGN_OR_RETURN(auto record, log.ReadRecordAt(pos, end, &segment));
    if (record.kind == RecordKind::kEndOfData) {
      return Status::Corruption(fmt::format("no record at commit log offset {} below the end {}", pos, end));
    }
    if (record.kind == RecordKind::kBlank) {
      if (record.next_offset != end) {
        return Status::Corruption(fmt::format("the BLANK at {} runs to {}, so {} is not a record boundary",
                                              pos, record.next_offset, end));
      }
      break;
    }
    last_offset = pos;
    pos = record.next_offset;
    last = std::move(record);
  }
  if (last_offset >= 0) {
    anchor.offset = last_offset;
    anchor.size = last.size;
    anchor.crc32c = crc32c::Value(last.bytes);
  } else if (!have) {
    return Status::Corruption(fmt::format("no message record in [{}, {})", segment->from_offset(), end));
  }
  anchor.end = end;
  return anchor;
}

Result<RecordAnchor> ReadRecordAnchor(const CommitLog& log, int64_t offset, int64_t end) {
  if (offset < 0 || offset >= end) {
    return Status::InvalidArgument(fmt::format("last record offset {} is not below the end {}", offset, end));
  }
  MQ_RETURN_IF_ERROR(CheckEnd(log, end));
  MQ_ASSIGN_OR_RETURN(auto record, log.ReadRecordAt(offset, end));
  if (record.kind != RecordKind::kMessage) {
    return Status::Corruption(
        fmt::format("commit log offset {} holds {}, not a message", offset, KindName(record.kind)));
  }
  RecordAnchor anchor{offset, record.size, crc32c::Value(record.bytes), end};
  if (record.next_offset < end) {
    MQ_ASSIGN_OR_RETURN(auto next, log.ReadRecordAt(record.next_offset, end, &record.holder));
    if (next.kind != RecordKind::kBlank || next.next_offset != end) {
      return Status::Corruption(
          fmt::format("the message at {} is followed by {} at {}, not by a BLANK ending at {}", offset,
                      KindName(next.kind), record.next_offset, end));
    }
  }
  return anchor;
}

}  // namespace mq::store
