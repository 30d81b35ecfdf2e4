#include "broker/store/commit_log.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "common/check.h"
#include "common/coding.h"
#include "common/logging.h"

namespace mq::store {
namespace {

std::string QueueKey(std::string_view topic, int32_t queue_id) {
  std::string key(topic);
  key.push_back('-');
  key.append(std::to_string(queue_id));
  return key;
}

AppendOptions CommitLogAppendOptions(bool sync) {
  // Every append goes by pwrite. With SYNC_FLUSH each sync cleans the tail page, and a memcpy
  // into it would fault. With ASYNC_FLUSH a memcpy faults each new page in writable, and the
  // periodic flush then write-protects it again with a TLB shootdown (an IPI to every other
  // CPU running the broker): even single messages are cheaper written (docs/store.md §6).
  return AppendOptions{.by_write = true,
                       .zero_ahead = true,
                       // Only a sync per ack repays writing every byte twice.
                       .zeros_to_disk = sync};
}

}  // namespace

CommitLog::CommitLog(const StoreOptions& options, Clock* clock)
    : clock_(clock),
      queue_(options.store_path_root_dir + "/commitlog", options.mapped_file_size_commit_log,
             options.preallocate_next_segment, options.fault_hook,
             CommitLogAppendOptions(options.flush_disk_type == FlushDiskType::kSyncFlush)),
      stage_capacity_(options.flush_disk_type == FlushDiskType::kSyncFlush ? options.sync_flush_stage_bytes
                                                                           : 0) {}

Status CommitLog::Load() { return queue_.Load(); }

Result<int64_t> CommitLog::Recover(bool clean_shutdown, int64_t checkpoint_offset) {
  auto files = queue_.Snapshot();
  if (files.empty()) {
    committed_.store(0);
    MQ_RETURN_IF_ERROR(queue_.WarmActive(0));
    return int64_t{0};
  }
  int64_t min = files.front()->from_offset();
  int64_t max_end = files.back()->from_offset() + queue_.file_size();
  bool checkpoint_valid = checkpoint_offset >= min && checkpoint_offset <= max_end;
  int64_t end;
  const int64_t short_segment = queue_.first_short_segment();
  const bool trusted = clean_shutdown && checkpoint_valid && short_segment < 0;
  if (trusted) {
    end = checkpoint_offset;
  } else {
    int64_t start = checkpoint_valid ? checkpoint_offset : min;
    if (short_segment >= 0) start = std::min(start, short_segment);
    MQ_LOG_WARN(Logger("store"), "commit log recovery: validating records from offset {} (clean={})", start,
                clean_shutdown);
    end = ScanValid(start);
  }
  MQ_RETURN_IF_ERROR(queue_.TruncateDirty(end, /*zero_tail=*/!trusted));
  committed_.store(end, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(append_mu_);
    write_file_.reset();
  }
  MQ_RETURN_IF_ERROR(queue_.WarmActive(end));
  MQ_LOG_INFO(Logger("store"), "commit log recovered min_offset={} end_offset={}", queue_.MinOffset(), end);
  return end;
}

int64_t CommitLog::ScanValid(int64_t start) {
  int64_t pos = start;
  while (true) {
    auto file = queue_.FindByOffset(pos);
    if (!file) break;
    auto rel = static_cast<int32_t>(pos - file->from_offset());
    auto avail = file->View(rel, file->size() - rel);
    auto probe = ProbeRecord(avail);
    if (!probe.ok()) {
      MQ_LOG_WARN(Logger("store"), "commit log recovery: bad record at {}: {}", pos,
                  probe.status().ToString());
      break;
    }
    if (probe->kind == RecordKind::kEndOfData) break;
    if (probe->kind == RecordKind::kBlank) {
      pos = file->from_offset() + file->size();
      continue;
    }
    auto rec = DecodeRecord(avail.substr(0, static_cast<size_t>(probe->size)), true, pos);
    if (!rec.ok()) {
      MQ_LOG_WARN(Logger("store"), "commit log recovery: bad record at {}: {}", pos, rec.status().ToString());
      break;
    }
    file->UpdateMaxStoreTimestamp(rec->store_timestamp);
    pos += probe->size;
  }
  return pos;
}

namespace {

// One record to append: its encoded bytes (finalized in place) and its queue.
struct RecordToAppend {
  char* data;
  int32_t size;
  std::string_view topic;
  int32_t queue_id;
  std::string_view deleted_topic;  // see PendingRecord
};

}  // namespace

AppendResult CommitLog::Append(std::vector<PendingRecord>* records) {
  return AppendEach(records->size(), [records](size_t i) {
    PendingRecord& rec = (*records)[i];
    return RecordToAppend{rec.bytes.data(), static_cast<int32_t>(rec.bytes.size()), rec.topic, rec.queue_id,
                          rec.deleted_topic};
  });
}

AppendResult CommitLog::Append(RecordBatch* batch) {
  // Frame the records first: a size that does not add up is refused before anything is written.
  std::vector<RecordToAppend> records;
  for (size_t pos = 0; pos < batch->bytes.size();) {
    const std::string_view left = std::string_view(batch->bytes).substr(pos);
    auto probe = ProbeRecord(left);
    if (!probe.ok() || probe->kind != RecordKind::kMessage) {
      AppendResult bad;
      bad.status = Status::InvalidArgument(
          fmt::format("batch: no message record {} at byte {} ({} bytes left){}", records.size(), pos,
                      left.size(), probe.ok() ? "" : ": " + probe.status().message()));
      return bad;
    }
    const int32_t size = probe->size;
    char* data = batch->bytes.data() + pos;
    EncodeFixed32BE(data + record::kQueueIdPos, static_cast<uint32_t>(batch->queue_id));
    records.push_back(RecordToAppend{data, size, batch->topic, batch->queue_id, {}});
    pos += static_cast<size_t>(size);
  }
  return AppendEach(records.size(), [&records](size_t i) { return records[i]; });
}

template <typename RecordAt>
AppendResult CommitLog::AppendEach(size_t count, const RecordAt& record_at) {
  AppendResult result;
  std::lock_guard<std::mutex> lock(append_mu_);
  if (appends_stopped_) {
    result.status = Status::Unavailable("store is shutting down");
    return result;
  }
  int64_t now = clock_->NowMillis();
  result.store_timestamp = now;
  result.physical_offsets.reserve(count);
  // The records bound for one segment are staged or go in one write, and are published together.
  std::vector<std::string_view> parts;
  parts.reserve(count);
  int32_t gathered = 0;
  auto write_gathered = [&] {
    if (parts.empty()) return;
    if (!StageLocked(parts, gathered)) {
      DrainStageLocked();
      write_file_->AppendGathered(parts);
      committed_.store(write_file_->from_offset() + write_file_->wrote_position(), std::memory_order_release);
    }
    write_file_->UpdateMaxStoreTimestamp(now);
    append_pos_ += gathered;
    parts.clear();
    gathered = 0;
  };
  // A batch goes to one queue: its offset slot is looked up once, not per record.
  int64_t* next_queue_offset = nullptr;
  std::string_view slot_topic;
  int32_t slot_queue = -1;
  for (size_t i = 0; i < count; ++i) {
    const RecordToAppend rec = record_at(i);
    const int32_t len = rec.size;
    if (len + kEndFileMinBlankLength > queue_.file_size()) {
      write_gathered();
      result.status = Status::InvalidArgument(
          fmt::format("record of {} bytes cannot fit a {}-byte segment", len, queue_.file_size()));
      return result;
    }
    while (true) {
      if (!write_file_ || append_pos_ >= write_file_->size()) {
        // A full segment's staged bytes were drained by the roll below.
        auto file_or = queue_.GetLastOrCreate(committed_.load(std::memory_order_relaxed));
        if (!file_or.ok()) {
          result.status = file_or.status();
          return result;
        }
        write_file_ = std::move(file_or).value();
        append_pos_ = write_file_->wrote_position();
      }
      const auto& file = write_file_;
      if (len + kEndFileMinBlankLength > file->size() - append_pos_ - gathered) {
        write_gathered();
        DrainStageLocked();
        const int32_t pos = append_pos_;
        char blank[kEndFileMinBlankLength];
        EncodeBlank(blank, file->size() - pos);
        file->WriteAt(pos, blank, kEndFileMinBlankLength);
        file->SetWrotePosition(file->size());
        append_pos_ = file->size();
        committed_.store(file->from_offset() + file->size(), std::memory_order_release);
        continue;
      }
      if (next_queue_offset == nullptr || rec.queue_id != slot_queue || rec.topic != slot_topic) {
        next_queue_offset = &topic_queue_table_[QueueKey(rec.topic, rec.queue_id)];
        slot_topic = rec.topic;
        slot_queue = rec.queue_id;
      }
      int64_t phy = file->from_offset() + append_pos_ + gathered;
      FinalizeRecord(rec.data, len, *next_queue_offset, phy, now);
      parts.emplace_back(rec.data, static_cast<size_t>(len));
      gathered += len;
      if (result.msg_num == 0) {
        result.wrote_offset = phy;
        result.queue_offset = *next_queue_offset;
      }
      result.physical_offsets.push_back(phy);
      ++*next_queue_offset;
      ++result.msg_num;
      result.wrote_bytes += len;
      if (!rec.deleted_topic.empty()) {
        ForgetTopicLocked(rec.deleted_topic);
        next_queue_offset = nullptr;
      }
      break;
    }
  }
  write_gathered();
  result.end_offset = write_file_ ? write_file_->from_offset() + append_pos_ : committed_offset();
  return result;
}

bool CommitLog::StageLocked(const std::vector<std::string_view>& parts, int32_t n) {
  if (n > stage_capacity_) return false;  // also when staging is off (capacity 0)
  const auto capacity = static_cast<uint64_t>(stage_capacity_);
  if (stage_end_ + static_cast<uint64_t>(n) - stage_written_.load(std::memory_order_acquire) > capacity) {
    DrainStageLocked();  // the flush thread is behind: write the ring out here, as without staging
  }
  if (!stage_) stage_ = std::make_unique<char[]>(capacity);
  for (auto part : parts) {
    while (!part.empty()) {
      const auto at = static_cast<size_t>(stage_end_ % capacity);
      const size_t k = std::min(part.size(), static_cast<size_t>(capacity) - at);
      std::memcpy(stage_.get() + at, part.data(), k);
      part.remove_prefix(k);
      stage_end_ += k;
    }
  }
  return true;
}

void CommitLog::DrainStageLocked() {
  if (stage_written_.load(std::memory_order_acquire) == stage_end_) return;
  std::lock_guard<std::mutex> commit(commit_mu_);  // after the flush thread's write in flight, if any
  const uint64_t from = stage_claimed_;
  stage_claimed_ = stage_end_;
  WriteStaged(write_file_.get(), from, stage_end_);
}

bool CommitLog::CommitStaged() {
  std::unique_lock<std::mutex> lock(append_mu_);
  if (stage_claimed_ == stage_end_) return false;
  std::lock_guard<std::mutex> commit(commit_mu_);
  const std::shared_ptr<MappedFile> file = write_file_;
  const uint64_t from = stage_claimed_;
  const uint64_t to = stage_end_;
  stage_claimed_ = to;
  lock.unlock();  // puts stage behind the claimed range while it is written
  WriteStaged(file.get(), from, to);
  return true;
}

void CommitLog::WriteStaged(MappedFile* file, uint64_t from, uint64_t to) {
  if (from < to) {
    const auto capacity = static_cast<uint64_t>(stage_capacity_);
    const auto at = static_cast<size_t>(from % capacity);
    const auto n = static_cast<size_t>(to - from);
    const size_t first = std::min(n, static_cast<size_t>(capacity) - at);
    std::vector<std::string_view> parts{{stage_.get() + at, first}};
    if (first < n) parts.emplace_back(stage_.get(), n - first);
    // Staged bytes were placed after the append position, inside the segment: they fit.
    MQ_CHECK(file->AppendGathered(parts), "staged bytes do not fit segment {}", file->path());
    committed_.store(file->from_offset() + file->wrote_position(), std::memory_order_release);
  }
  stage_written_.store(to, std::memory_order_release);
}

void CommitLog::StopAppends() {
  std::lock_guard<std::mutex> lock(append_mu_);
  appends_stopped_ = true;
}

Status CommitLog::ReplicaAppend(int64_t offset, std::string_view data) {
  std::lock_guard<std::mutex> lock(append_mu_);
  if (appends_stopped_) return Status::Unavailable("store is shutting down");
  if (write_file_) DrainStageLocked();
  int64_t committed = committed_.load(std::memory_order_relaxed);
  if (offset != committed) {
    return Status::FailedPrecondition(
        fmt::format("replica append at {} but the local commit log ends at {}", offset, committed));
  }
  write_file_.reset();
  while (!data.empty()) {
    MQ_ASSIGN_OR_RETURN(auto file, queue_.GetLastOrCreate(committed));
    if (file->from_offset() + file->wrote_position() != committed) {
      return Status::Internal(fmt::format("segment {} does not end at {}", file->path(), committed));
    }
    auto n = static_cast<int32_t>(std::min<size_t>(data.size(), static_cast<size_t>(file->remaining())));
    file->Append(data.data(), n);
    data.remove_prefix(static_cast<size_t>(n));
    committed += n;
    committed_.store(committed, std::memory_order_release);
  }
  return Status::OK();
}

Result<RecordRef> CommitLog::ReadRecordAt(int64_t offset, int64_t limit,
                                          const std::shared_ptr<MappedFile>* hint) const {
  RecordRef ref;
  if (offset >= limit) return ref;
  std::shared_ptr<MappedFile> file;
  if (hint != nullptr && *hint && offset >= (*hint)->from_offset() &&
      offset < (*hint)->from_offset() + (*hint)->size()) {
    file = *hint;
  } else {
    file = queue_.FindByOffset(offset);
  }
  if (!file) {
    return Status::NotFound(fmt::format("commit log offset {} is not stored (min {})", offset, min_offset()));
  }
  auto rel = static_cast<int32_t>(offset - file->from_offset());
  auto avail = file->View(rel, file->size() - rel);
  MQ_ASSIGN_OR_RETURN(auto probe, ProbeRecord(avail));
  ref.kind = probe.kind;
  ref.size = probe.size;
  if (probe.kind == RecordKind::kBlank) {
    ref.next_offset = file->from_offset() + file->size();
  } else if (probe.kind == RecordKind::kMessage) {
    if (offset + probe.size > limit) {
      return Status::Corruption(
          fmt::format("record at {} of {} bytes crosses the readable end {}", offset, probe.size, limit));
    }
    ref.next_offset = offset + probe.size;
    ref.bytes = avail.substr(0, static_cast<size_t>(probe.size));
  }
  ref.holder = std::move(file);
  return ref;
}

Result<StoredMessage> CommitLog::LookMessage(int64_t offset, int64_t limit) const {
  MQ_ASSIGN_OR_RETURN(auto ref, ReadRecordAt(offset, limit));
  if (ref.kind != RecordKind::kMessage) {
    return Status::NotFound(fmt::format("no message at commit log offset {}", offset));
  }
  MQ_ASSIGN_OR_RETURN(auto view, DecodeRecord(ref.bytes, true, offset));
  return ToStoredMessage(view, ref.bytes);
}

Result<std::shared_ptr<MappedFile>> CommitLog::CommittedSegment(int64_t offset, int32_t size) const {
  if (offset < 0 || size < 0 || offset > committed_offset() - size) {
    return Status::InvalidArgument(
        fmt::format("read [{}, +{}) beyond the committed end {}", offset, size, committed_offset()));
  }
  auto file = queue_.FindByOffset(offset);
  if (!file) return Status::NotFound(fmt::format("commit log offset {} is not stored", offset));
  return file;
}

Result<int32_t> CommitLog::CopyOut(int64_t offset, int32_t size, std::string* out) const {
  MQ_ASSIGN_OR_RETURN(auto file, CommittedSegment(offset, size));
  auto rel = static_cast<int32_t>(offset - file->from_offset());
  const int32_t n = std::min(size, file->size() - rel);
  const size_t at = out->size();
  out->resize(at + static_cast<size_t>(n));
  file->CopyOut(rel, n, out->data() + at);
  return n;
}

Result<RecordRef> CommitLog::Read(int64_t offset, int32_t size) const {
  MQ_ASSIGN_OR_RETURN(auto file, CommittedSegment(offset, size));
  auto rel = static_cast<int32_t>(offset - file->from_offset());
  if (rel + size > file->size()) return Status::InvalidArgument("read crosses a segment boundary");
  RecordRef ref;
  ref.kind = RecordKind::kMessage;
  ref.size = size;
  ref.next_offset = offset + size;
  ref.bytes = file->View(rel, size);
  ref.holder = std::move(file);
  return ref;
}

Status CommitLog::Flush() { return queue_.Flush(); }

int64_t CommitLog::DropPageCacheBehind(int64_t keep_bytes, int64_t read_to) {
  const int64_t to = std::min(flushed_offset(), read_to) - keep_bytes;
  // Nothing below the log's first byte is cached; a first call starts there, not at 0.
  const int64_t from = std::max(page_cache_dropped_to_, queue_.MinOffset());
  if (to - from < kPageCacheDropStepBytes) return page_cache_dropped_to_;
  queue_.DropCache(from, to);
  page_cache_dropped_to_ = to;
  return to;
}

void CommitLog::ForgetTopicLocked(std::string_view topic) {
  std::erase_if(topic_queue_table_, [topic](const auto& entry) {
    std::string_view key = entry.first;
    // QueueKey(topic, id): the topic, '-', then only digits (a topic may hold '-' itself).
    if (key.size() <= topic.size() + 1 || key.substr(0, topic.size()) != topic || key[topic.size()] != '-')
      return false;
    key.remove_prefix(topic.size() + 1);
    return std::all_of(key.begin(), key.end(), [](char c) { return c >= '0' && c <= '9'; });
  });
}

void CommitLog::SetNextQueueOffset(const std::string& topic, int32_t queue_id, int64_t next) {
  std::lock_guard<std::mutex> lock(append_mu_);
  topic_queue_table_[QueueKey(topic, queue_id)] = next;
}

}  // namespace mq::store
