// MessageStore's read side: pulls (GetMessages, with read verification) and the queries by
// offset, time, key and unique key. Any thread; see message_store.h.
#include <fmt/format.h>

#include <limits>
#include <unordered_set>

#include "broker/store/message_store.h"
#include "common/coding.h"
#include "common/logging.h"

namespace mq::store {

MessageFilter MakeTagFilter(const std::vector<std::string>& tags) {
  std::unordered_set<int64_t> codes;
  for (const auto& tag : tags) {
    if (tag == "*") return {};
    codes.insert(TagsCode(tag));
  }
  if (codes.empty()) return {};
  return [codes = std::move(codes)](int64_t code) { return codes.count(code) > 0; };
}

namespace {

// A consume queue unit is only a pointer: a damaged unit, or a damaged record behind a good
// one, must not reach a consumer. The record must pass its CRCs and be the message the queue
// says sits at this position.
// The record's decoded view when it is the one the queue unit points at.
Result<RecordView> VerifyQueueRecord(std::string_view record, int64_t phy_offset, const std::string& topic,
                                     int32_t queue_id, int64_t queue_offset) {
  MQ_ASSIGN_OR_RETURN(RecordView view, DecodeRecord(record, /*verify_crc=*/true, phy_offset));
  if (view.topic != topic || view.queue_id != queue_id || view.queue_offset != queue_offset) {
    return Status::Corruption(fmt::format("record belongs to {}-{} at queue offset {}", view.topic,
                                          view.queue_id, view.queue_offset));
  }
  return view;
}

// A unit's size decides how much a pull reads and reserves, and a damaged unit can name most of a
// segment: a unit over this many bytes is read only once its record's TOTALSIZE agrees with it.
constexpr int32_t kCheckedUnitBytes = 64 * 1024;

// What GetMessages returns of `units` at most, by its count and byte bounds (a hint: large units
// are left out until read).
size_t ExpectedBytes(const std::vector<CqUnit>& units, int32_t max_count, int32_t max_bytes,
                     const MessageFilter& filter) {
  int64_t bytes = 0;
  int32_t count = 0;
  for (const CqUnit& u : units) {
    if (count >= max_count || (count > 0 && bytes + u.size > max_bytes)) break;
    if (u.size <= 0 || (filter && !filter(u.tags_code))) continue;
    if (u.size <= kCheckedUnitBytes) bytes += u.size;
    ++count;
  }
  return static_cast<size_t>(bytes);
}

}  // namespace

Status MessageStore::ReadRun(const std::vector<CqUnit>& units, size_t first, int32_t budget,
                             int32_t max_units, const MessageFilter& filter, std::string* run) const {
  if (units[first].size > kCheckedUnitBytes) {
    // Peeked through the mapping: one touch, for a record too large for it to matter.
    MQ_ASSIGN_OR_RETURN(RecordRef head, commit_log_->Read(units[first].phy_offset, 4));
    if (const auto total = static_cast<int32_t>(DecodeFixed32BE(head.bytes.data()));
        total != units[first].size) {
      return Status::Corruption(
          fmt::format("the record there is {} bytes, not {}", total, units[first].size));
    }
  }
  int64_t bytes = units[first].size;
  for (size_t j = first + 1; j < units.size() && static_cast<int64_t>(j - first) < max_units; ++j) {
    const CqUnit& next = units[j];
    if (next.size <= 0 || next.phy_offset != units[first].phy_offset + bytes || bytes + next.size > budget ||
        (filter && !filter(next.tags_code))) {
      break;
    }
    bytes += next.size;
  }
  run->clear();
  return commit_log_->CopyOut(units[first].phy_offset, static_cast<int32_t>(bytes), run).status();
}

GetMessageResult MessageStore::GetMessages(std::string_view group, const std::string& topic, int32_t queue_id,
                                           int64_t offset, int32_t max_count, int32_t max_bytes,
                                           const MessageFilter& filter, const PropertyFilter& property_filter,
                                           std::string* records_out) const {
  (void)group;
  GetMessageResult r;
  auto cq = queues_ ? queues_->Find(topic, queue_id) : nullptr;
  if (!cq) {
    r.status = GetMessageStatus::kNoMatchedLogicQueue;
    r.next_begin_offset = 0;
    return r;
  }
  // Read before the queue's bounds: once every appended record is dispatched, the bounds read
  // next include all of them.
  const bool dispatch_behind =
      dispatcher_ && dispatcher_->dispatched_offset() < commit_log_->committed_offset();
  r.min_offset = cq->min_offset();
  r.max_offset = cq->max_offset();
  if (r.max_offset == 0) {
    r.status = GetMessageStatus::kNoMessageInQueue;
    r.next_begin_offset = 0;
  } else if (offset < r.min_offset) {
    r.status = GetMessageStatus::kOffsetTooSmall;
    r.next_begin_offset = r.min_offset;
  } else if (offset == r.max_offset) {
    r.status = GetMessageStatus::kOffsetOverflowOne;
    r.next_begin_offset = offset;
  } else if (offset > r.max_offset && dispatch_behind) {
    // The log holds records the consume queues do not show yet, and the position may be one of
    // them: a consumer that read a replica which dispatched first asks here next. Not an
    // overflow yet (answering one would rewind it, to 0 when min is 0).
    r.status = GetMessageStatus::kOffsetOverflowOne;
    r.next_begin_offset = offset;
  } else if (offset > r.max_offset) {
    r.status = GetMessageStatus::kOffsetOverflowBadly;
    r.next_begin_offset = r.min_offset == 0 ? r.min_offset : r.max_offset;
  } else {
    int32_t scan = std::max(max_count, 16000 / kCqUnitSize);
    auto units = cq->Read(offset, scan);
    if (units.empty()) {
      int64_t per_file = options_.mapped_file_size_consume_queue / kCqUnitSize;
      r.status = GetMessageStatus::kOffsetFoundNull;
      r.next_begin_offset = offset + per_file - offset % per_file;
      return r;
    }
    r.status = GetMessageStatus::kNoMatchedMessage;
    int64_t min_phy = commit_log_->min_offset();
    // The records are read by pread, several at a time where they follow each other in the log
    // (a batch, a busy queue): this process's mapping of a page costs a page walk at its first
    // touch, which for a fresh record cost more than its CRC pass and copy together
    // (docs/benchmarks.md, thirty-seventh session). Each is verified in `run` before it is
    // returned.
    std::string run;
    int64_t run_from = 0;
    if (records_out)
      records_out->reserve(records_out->size() + ExpectedBytes(units, max_count, max_bytes, filter));
    size_t i = 0;
    for (; i < units.size(); ++i) {
      const CqUnit& u = units[i];
      const size_t count = r.queue_offsets.size();
      if (static_cast<int32_t>(count) >= max_count) break;
      if (count > 0 && r.buffer_total_size + u.size > max_bytes) break;
      if (u.size <= 0) continue;  // hole
      if (filter && !filter(u.tags_code)) continue;
      if (u.phy_offset < min_phy) {
        if (r.queue_offsets.empty()) r.status = GetMessageStatus::kMessageWasRemoving;
        continue;
      }
      if (u.phy_offset < run_from || u.phy_offset - run_from > std::ssize(run) - u.size) {
        run_from = u.phy_offset;
        const auto budget = static_cast<int32_t>(std::max<int64_t>(u.size, max_bytes - r.buffer_total_size));
        const int32_t max_units = max_count - static_cast<int32_t>(count);
        Status read = ReadRun(units, i, budget, max_units, filter, &run);
        if (read.code() == StatusCode::kCorruption) {
          run.clear();
          MQ_LOG_ERROR(Logger("store"),
                       "consume queue {}-{}: dropping queue offset {} (commit log offset {}): {}", topic,
                       queue_id, offset + static_cast<int64_t>(i), u.phy_offset, read.ToString());
          continue;
        }
        if (!read.ok() || std::ssize(run) < u.size) {
          run.clear();
          if (r.queue_offsets.empty()) r.status = GetMessageStatus::kMessageWasRemoving;
          continue;
        }
      }
      const std::string_view record = std::string_view(run).substr(
          static_cast<size_t>(u.phy_offset - run_from), static_cast<size_t>(u.size));
      const int64_t queue_offset = offset + static_cast<int64_t>(i);
      auto view = VerifyQueueRecord(record, u.phy_offset, topic, queue_id, queue_offset);
      if (!view.ok()) {
        // Skipped like a hole, so consumers move past it; logged so the loss is visible.
        MQ_LOG_ERROR(Logger("store"),
                     "consume queue {}-{}: dropping queue offset {} (commit log offset {}, {} bytes): {}",
                     topic, queue_id, queue_offset, u.phy_offset, u.size, view.status().ToString());
        continue;
      }
      if (property_filter && !property_filter(view->properties)) continue;
      if (records_out) {
        records_out->append(record);
      } else {
        r.messages.emplace_back(record);
      }
      r.queue_offsets.push_back(queue_offset);
      r.buffer_total_size += u.size;
      r.last_phy_offset = u.phy_offset;
      r.status = GetMessageStatus::kFound;
    }
    r.next_begin_offset = offset + static_cast<int64_t>(i);
  }
  return r;
}

int64_t MessageStore::MinOffsetInQueue(const std::string& topic, int32_t queue_id) const {
  auto cq = queues_ ? queues_->Find(topic, queue_id) : nullptr;
  return cq ? cq->min_offset() : 0;
}

int64_t MessageStore::MaxOffsetInQueue(const std::string& topic, int32_t queue_id) const {
  auto cq = queues_ ? queues_->Find(topic, queue_id) : nullptr;
  return cq ? cq->max_offset() : 0;
}

Result<int64_t> MessageStore::GetOffsetByTimestamp(const std::string& topic, int32_t queue_id,
                                                   int64_t timestamp_ms) const {
  auto cq = queues_ ? queues_->Find(topic, queue_id) : nullptr;
  if (!cq) return Status::NotFound(fmt::format("no consume queue {}-{}", topic, queue_id));
  // A unit that does not lead to its own record (a hole, a damaged unit) reads as -1, as pulls
  // skip it: its size comes from the queue file, so the record is verified before any field
  // of it is read.
  auto store_ts = [&](int64_t queue_offset) -> int64_t {
    auto unit = cq->Get(queue_offset);
    if (!unit || unit->size <= 0) return -1;
    auto ref = commit_log_->Read(unit->phy_offset, unit->size);
    if (!ref.ok()) return -1;
    auto view = VerifyQueueRecord(ref->bytes, unit->phy_offset, topic, queue_id, queue_offset);
    return view.ok() ? view->store_timestamp : -1;
  };
  // The first readable unit whose time is at or after timestamp_ms, unreadable ones counting as
  // absent. time_from(o, &at): the time of the first readable unit at or after o (at = its
  // offset), or INT64_MAX with at = max when there is none.
  int64_t lo = cq->min_offset();
  int64_t hi = cq->max_offset();
  const int64_t max = hi;
  auto time_from = [&](int64_t queue_offset, int64_t* at) {
    for (*at = queue_offset; *at < max; ++*at) {
      if (const int64_t ts = store_ts(*at); ts >= 0) return ts;
    }
    return std::numeric_limits<int64_t>::max();
  };
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    int64_t at = mid;
    if (time_from(mid, &at) >= timestamp_ms) {
      hi = mid;
    } else {
      lo = at + 1;
    }
  }
  if (lo < max) time_from(lo, &lo);  // past unreadable units to the message itself
  return lo;
}

Result<StoredMessage> MessageStore::LookMessageByOffset(int64_t physical_offset) const {
  if (!commit_log_) return Status::Unavailable("store is not started");
  return commit_log_->LookMessage(physical_offset, ReadableLimit());
}

std::vector<StoredMessage> MessageStore::QueryMessageByKey(const std::string& topic, const std::string& key,
                                                           int max_num, int64_t begin_ms,
                                                           int64_t end_ms) const {
  std::vector<StoredMessage> out;
  if (!index_) return out;
  for (int64_t phy : index_->Query(topic, key, max_num, begin_ms, end_ms)) {
    auto msg = LookMessageByOffset(phy);
    if (!msg.ok() || msg->topic != topic) continue;
    bool match = msg->Property(kPropertyUniqKey) == key;
    std::string keys = msg->Property(kPropertyKeys);
    std::string_view rest(keys);
    while (!match && !rest.empty()) {
      size_t sp = rest.find(' ');
      match = rest.substr(0, sp) == key;
      rest.remove_prefix(sp == std::string_view::npos ? rest.size() : sp + 1);
    }
    if (match) out.push_back(std::move(msg).value());
  }
  return out;
}

Result<StoredMessage> MessageStore::QueryMessageByUniqueKey(const std::string& topic,
                                                            const std::string& uniq_key) const {
  for (auto& msg : QueryMessageByKey(topic, uniq_key, 32)) {
    if (msg.Property(kPropertyUniqKey) == uniq_key) return std::move(msg);
  }
  return Status::NotFound(fmt::format("no message with UNIQ_KEY '{}' in topic '{}'", uniq_key, topic));
}

}  // namespace mq::store
