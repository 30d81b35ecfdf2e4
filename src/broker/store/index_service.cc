#include "broker/store/index_service.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "broker/store/message_format.h"
#include "common/coding.h"
#include "common/file_util.h"
#include "common/logging.h"

namespace mq::store {
namespace fs = std::filesystem;
namespace {

constexpr int32_t kHeaderSize = 40;
constexpr int32_t kSlotSize = 4;
constexpr int32_t kEntrySize = 20;

// The slot hash of "topic#key", the form RocketMQ's index files hash: the absolute value of its
// Java hashCode (0 for INT32_MIN), continued part by part: the dispatcher builds no string per key.
int32_t IndexKeyHash(std::string_view topic, std::string_view key) {
  const int32_t hash = JavaHashCode(key, JavaHashCode("#", JavaHashCode(topic)));
  if (hash == INT32_MIN) return 0;
  return hash < 0 ? -hash : hash;
}

}  // namespace

struct IndexService::File {
  std::shared_ptr<MappedFile> mapped;
  int32_t slot_num = 0;
  int32_t index_num = 0;
  // Bytes [0, dirty_end) hold every write since the last flush (0: none). Entries are appended
  // in order and the slots and header lie below them, so one bound covers all of it.
  int32_t dirty_end = 0;

  char* base() const { return const_cast<char*>(mapped->data()); }
  int64_t Get64(int32_t pos) const { return static_cast<int64_t>(DecodeFixed64BE(base() + pos)); }
  int32_t Get32(int32_t pos) const { return static_cast<int32_t>(DecodeFixed32BE(base() + pos)); }
  void Set64(int32_t pos, int64_t v) {
    EncodeFixed64BE(base() + pos, static_cast<uint64_t>(v));
    dirty_end = std::max(dirty_end, pos + 8);
  }
  void Set32(int32_t pos, int32_t v) {
    EncodeFixed32BE(base() + pos, static_cast<uint32_t>(v));
    dirty_end = std::max(dirty_end, pos + 4);
  }
  int64_t begin_ts() const { return Get64(0); }
  int64_t end_ts() const { return Get64(8); }
  int64_t begin_phy() const { return Get64(16); }
  int64_t end_phy() const { return Get64(24); }
  // Bounded by the geometry: a damaged header must not send lookups or appends past the file.
  int32_t index_count() const { return std::clamp(Get32(36), 1, index_num); }
  int32_t SlotPos(int32_t hash) const { return kHeaderSize + (hash % slot_num) * kSlotSize; }
  int32_t EntryPos(int32_t n) const { return kHeaderSize + slot_num * kSlotSize + n * kEntrySize; }
  bool IsFull() const { return index_count() >= index_num; }
};

IndexService::IndexService(const StoreOptions& options)
    : options_(options), dir_(options.store_path_root_dir + "/index") {}

Result<std::shared_ptr<IndexService::File>> IndexService::OpenFile(int64_t begin_phy, bool create) const {
  auto file = std::make_shared<File>();
  file->slot_num = options_.max_hash_slot_num;
  file->index_num = options_.max_index_num;
  int64_t size = kHeaderSize + int64_t{file->slot_num} * kSlotSize + int64_t{file->index_num} * kEntrySize;
  if (size > INT32_MAX) return Status::InvalidArgument("index file geometry exceeds 2 GiB");
  const FaultHook& hook = options_.fault_hook;
  MQ_ASSIGN_OR_RETURN(file->mapped, MappedFile::Open(dir_ + "/" + OffsetToFileName(begin_phy), begin_phy,
                                                     static_cast<int32_t>(size), create, hook));
  if (create) {
    MQ_RETURN_IF_ERROR(
        FsyncDirOfNewFile(dir_, hook).WithContext(fmt::format("new index file {}", file->mapped->path())));
  }
  file->mapped->SetWrotePosition(static_cast<int32_t>(size));
  int32_t stored_slots = file->Get32(32);
  if (stored_slots != 0 && stored_slots != file->slot_num) {
    return Status::Corruption(fmt::format("index file {} has {} slots, configured {}", file->mapped->path(),
                                          stored_slots, file->slot_num));
  }
  return file;
}

Status IndexService::Load() {
  MQ_ASSIGN_OR_RETURN(std::vector<int64_t> offsets, ListSegmentOffsets(dir_));
  std::lock_guard<std::mutex> lock(mu_);
  files_.clear();
  for (int64_t off : offsets) {
    MQ_ASSIGN_OR_RETURN(auto file, OpenFile(off, /*create=*/false));
    files_.push_back(std::move(file));
  }
  return Status::OK();
}

Status IndexService::Recover(int64_t commit_log_end, int64_t synced_below) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t trusted_below = std::min(commit_log_end, synced_below);
  // From the back: a file that starts at or after `trusted_below` was created after the index's
  // last sync (or indexes nothing that exists), and a file whose header was never written (the
  // process died between creating it and its first entry) holds nothing and would read as an
  // index ending at offset 0.
  while (!files_.empty() && files_.back()->mapped->from_offset() > 0 &&
         (files_.back()->mapped->from_offset() >= trusted_below || files_.back()->Get32(32) == 0)) {
    MQ_RETURN_IF_ERROR(files_.back()->mapped->Destroy());
    files_.pop_back();
  }
  for (auto& file : files_) {
    if (file->end_phy() > commit_log_end) file->Set64(24, commit_log_end);
  }
  // Only the last file can hold entries written after the last sync: every earlier one ended
  // before it started.
  if (synced_below < commit_log_end && !files_.empty()) RepairUnsyncedTail(*files_.back(), trusted_below);
  return Status::OK();
}

void IndexService::RepairUnsyncedTail(File& file, int64_t trusted_below) {
  // The kernel may have written back any page written since the last sync, in any order: the
  // header (a count and an end past the durable entries), a slot naming an entry that never
  // reached the disk (the bucket's chain ends there and hides its older entries), or neither.
  // Entries are appended in log order and the sync wrote every one below `trusted_below`, so the
  // durable ones are a prefix: find its end (zeros or an offset past the point), then rebuild
  // every slot from it. Re-dispatch indexes the records from `trusted_below` on again.
  if (file.Get32(32) == 0) return;  // never written
  int32_t lo = 1;
  int32_t hi = file.index_count();  // the first entry not kept lies in [lo, hi]
  auto kept = [&](int32_t n) {
    const int32_t pos = file.EntryPos(n);
    const bool zero = file.Get32(pos) == 0 && file.Get64(pos + 4) == 0 && file.Get32(pos + 16) == 0;
    return !zero && file.Get32(pos) >= 0 && file.Get64(pos + 4) < trusted_below;
  };
  while (lo < hi) {
    const int32_t mid = lo + (hi - lo) / 2;
    if (kept(mid)) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  const int32_t count = lo;
  MQ_LOG_INFO(Logger("store"),
              "index {}: keeping {} entries below offset {} (header said {}), rebuilding slots",
              file.mapped->path(), count - 1, trusted_below, file.index_count() - 1);
  for (int32_t i = 0; i < file.slot_num; ++i) file.Set32(kHeaderSize + i * kSlotSize, 0);
  for (int32_t n = 1; n < count; ++n) file.Set32(file.SlotPos(file.Get32(file.EntryPos(n))), n);
  file.Set32(36, count);
  file.Set64(24, std::min(file.end_phy(), trusted_below));
}

Status IndexService::PutKey(File& file, int32_t hash, int64_t phy, int64_t store_ts) {
  int32_t slot_pos = file.SlotPos(hash);
  int32_t prev = file.Get32(slot_pos);
  int32_t count = file.index_count();
  if (prev < 0 || prev >= count) prev = 0;
  if (file.Get32(32) == 0) {
    file.Set32(32, file.slot_num);
    file.Set64(0, store_ts);
  }
  int64_t diff = std::max<int64_t>(0, (store_ts - file.begin_ts()) / 1000);
  int32_t pos = file.EntryPos(count);
  file.Set32(pos, hash);
  file.Set64(pos + 4, phy);
  file.Set32(pos + 12, static_cast<int32_t>(std::min<int64_t>(diff, INT32_MAX)));
  file.Set32(pos + 16, prev);
  file.Set32(slot_pos, count);
  file.Set32(36, count + 1);
  file.Set64(8, store_ts);
  return Status::OK();
}

Status IndexService::BuildIndex(const IndexRequest& req) {
  if (req.uniq_key.empty() && req.keys.empty()) return Status::OK();
  std::lock_guard<std::mutex> lock(mu_);
  // Already indexed, or older than the last file: files hold ascending offsets from their name on.
  if (!files_.empty() &&
      (req.phy_offset < files_.back()->end_phy() || req.phy_offset < files_.back()->mapped->from_offset())) {
    return Status::OK();
  }
  Status status;
  bool file_full_of_record = false;
  auto put = [&](std::string_view key) {
    if (!status.ok() || file_full_of_record) return;
    if (files_.empty() || files_.back()->IsFull()) {
      // A file is named by the offset of its first record, so one record's keys that fill a whole
      // file (only with a tiny maxIndexNum) cannot go on in a file of the same name: the rest of
      // them stay unindexed rather than overwrite it.
      if (!files_.empty() && files_.back()->mapped->from_offset() == req.phy_offset) {
        file_full_of_record = true;
        return;
      }
      auto file = OpenFile(req.phy_offset, /*create=*/true);
      if (!file.ok()) {
        status = file.status();
        return;
      }
      if ((*file)->Get32(32) != 0) {
        status = Status::Corruption(fmt::format(
            "index file {} exists already with entries, past the index's end", (*file)->mapped->path()));
        return;
      }
      (*file)->Set64(16, req.phy_offset);
      files_.push_back(std::move(file).value());
    }
    status = PutKey(*files_.back(), IndexKeyHash(req.topic, key), req.phy_offset, req.store_timestamp);
  };
  if (!req.uniq_key.empty()) put(req.uniq_key);
  record::ForEachKey(req.keys, put);
  MQ_RETURN_IF_ERROR(status);
  files_.back()->Set64(24, req.phy_offset + req.size);
  return Status::OK();
}

std::vector<int64_t> IndexService::Query(std::string_view topic, std::string_view key, int max_num,
                                         int64_t begin_ms, int64_t end_ms) const {
  std::vector<int64_t> out;
  const int32_t hash = IndexKeyHash(topic, key);
  // Entries keep seconds, so an entry matches from one second before begin_ms; clamped, since
  // begin_ms comes from requests and may be as small as INT64_MIN.
  const int64_t from_ms = begin_ms > INT64_MIN + 999 ? begin_ms - 999 : INT64_MIN;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = files_.rbegin(); it != files_.rend() && static_cast<int>(out.size()) < max_num; ++it) {
    const File& file = **it;
    if (file.Get32(32) == 0 || file.end_ts() < begin_ms || file.begin_ts() > end_ms) continue;
    int32_t count = file.index_count();
    int32_t n = file.Get32(file.SlotPos(hash));
    for (int32_t steps = 0; n > 0 && n < count && steps < count && static_cast<int>(out.size()) < max_num;
         ++steps) {
      int32_t pos = file.EntryPos(n);
      int64_t ts = file.begin_ts() + int64_t{file.Get32(pos + 12)} * 1000;
      if (file.Get32(pos) == hash && ts >= from_ms && ts <= end_ms) {
        int64_t phy = file.Get64(pos + 4);
        if (std::find(out.begin(), out.end(), phy) == out.end()) out.push_back(phy);
      }
      int32_t prev = file.Get32(pos + 16);
      if (prev >= n) break;
      n = prev;
    }
  }
  return out;
}

int64_t IndexService::IndexedEnd() const {
  std::lock_guard<std::mutex> lock(mu_);
  return files_.empty() ? 0 : files_.back()->end_phy();
}

bool IndexService::empty() const {
  std::lock_guard<std::mutex> lock(mu_);
  return files_.empty();
}

Status IndexService::Flush() {
  std::vector<std::pair<std::shared_ptr<File>, int32_t>> dirty;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& file : files_) {
      if (file->dirty_end == 0) continue;
      dirty.emplace_back(file, file->dirty_end);
      file->dirty_end = 0;
    }
  }
  for (size_t i = 0; i < dirty.size(); ++i) {
    Status s = dirty[i].first->mapped->SyncRange(0, dirty[i].second, options_.fault_hook);
    if (!s.ok()) {
      // Not durable: this file and the ones not reached stay dirty for the next attempt.
      std::lock_guard<std::mutex> lock(mu_);
      for (size_t j = i; j < dirty.size(); ++j) {
        dirty[j].first->dirty_end = std::max(dirty[j].first->dirty_end, dirty[j].second);
      }
      return s;
    }
  }
  return Status::OK();
}

int IndexService::DeleteExpired(int64_t min_phy) {
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  while (files_.size() > 1 && files_.front()->end_phy() <= min_phy) {
    Status s = files_.front()->mapped->Destroy();
    if (!s.ok()) MQ_LOG_WARN(Logger("store"), "delete index file failed: {}", s.ToString());
    files_.erase(files_.begin());
    ++n;
  }
  return n;
}

}  // namespace mq::store
