#include "broker/store/consume_queue.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <vector>

#include "common/coding.h"
#include "common/file_util.h"
#include "common/logging.h"

namespace mq::store {
namespace fs = std::filesystem;

ConsumeQueue::ConsumeQueue(std::string topic, int32_t queue_id, std::string dir, int32_t file_size,
                           FaultHook hook)
    : topic_(std::move(topic)),
      queue_id_(queue_id),
      queue_(std::move(dir), file_size, false, std::move(hook), AppendOptions{.by_write = true}) {}

Status ConsumeQueue::Load() { return queue_.Load(); }

CqUnit ConsumeQueue::UnitAt(const MappedFile& file, int32_t pos) const {
  const char* p = file.data() + pos;
  return CqUnit{static_cast<int64_t>(DecodeFixed64BE(p)), static_cast<int32_t>(DecodeFixed32BE(p + 8)),
                static_cast<int64_t>(DecodeFixed64BE(p + 12))};
}

Status ConsumeQueue::Recover(int64_t commit_log_min, int64_t commit_log_end) {
  auto files = queue_.Snapshot();
  if (files.empty()) return Status::OK();
  // The last segment ends at the first hole after a unit (leading holes come from a rebuild
  // that started mid-segment). Scanning forward touches only the written pages.
  const auto& last = files.back();
  const int32_t limit = last->size() - last->size() % kCqUnitSize;
  int32_t end = 0;
  bool seen = false;
  for (int32_t pos = 0; pos < limit; pos += kCqUnitSize) {
    if (UnitAt(*last, pos).size > 0) {
      seen = true;
      end = pos + kCqUnitSize;
    } else if (seen) {
      break;
    }
  }
  int64_t max_bytes = last->from_offset() + end;
  const int64_t scanned_end = max_bytes;
  // Drop units that point at or beyond the recovered commit log end.
  int64_t min_bytes = files.front()->from_offset();
  while (max_bytes > min_bytes) {
    auto file = queue_.FindByOffset(max_bytes - kCqUnitSize);
    CqUnit unit = UnitAt(*file, static_cast<int32_t>(max_bytes - kCqUnitSize - file->from_offset()));
    if (unit.EndsBy(commit_log_end)) break;
    max_bytes -= kCqUnitSize;
  }
  // Bytes past the scanned end were never written (or are overwritten before being
  // published), so the tail is zeroed only when units were actually dropped.
  MQ_RETURN_IF_ERROR(queue_.TruncateDirty(max_bytes, /*zero_tail=*/max_bytes < scanned_end));
  max_logic_bytes_.store(max_bytes, std::memory_order_release);
  min_logic_bytes_.store(min_bytes, std::memory_order_release);
  CorrectMinOffset(commit_log_min);
  damage_ = FindDamage(commit_log_min, commit_log_end);
  return Status::OK();
}

std::string ConsumeQueue::FindDamage(int64_t commit_log_min, int64_t commit_log_end) const {
  if (queue_.first_short_segment() >= 0) {
    return fmt::format("segment {} is short", OffsetToFileName(queue_.first_short_segment()));
  }
  // Like RocketMQ's recovery, look at the last three segments only (the rest was validated by
  // earlier starts): units are holes or point into the log in increasing order.
  auto files = queue_.Snapshot();
  const int64_t max_bytes = max_logic_bytes_.load();
  int64_t prev_end = -1;
  for (size_t i = files.size() > 3 ? files.size() - 3 : 0; i < files.size(); ++i) {
    const auto& file = files[i];
    const int64_t limit =
        std::min<int64_t>(file->size() - file->size() % kCqUnitSize, max_bytes - file->from_offset());
    for (int32_t pos = 0; pos < limit; pos += kCqUnitSize) {
      CqUnit unit = UnitAt(*file, pos);
      if (unit.size == 0 && unit.phy_offset == 0) continue;  // hole
      const int64_t at = (file->from_offset() + pos) / kCqUnitSize;
      if (!unit.EndsBy(commit_log_end) || unit.phy_offset < prev_end) {
        return fmt::format("unit at queue offset {} ({}+{}) is out of order or outside the log [{}, {})", at,
                           unit.phy_offset, unit.size, commit_log_min, commit_log_end);
      }
      prev_end = unit.phy_offset + unit.size;
    }
  }
  return "";
}

namespace {
void EncodeUnit(const CqUnit& unit, char* buf) {
  EncodeFixed64BE(buf, static_cast<uint64_t>(unit.phy_offset));
  EncodeFixed32BE(buf + 8, static_cast<uint32_t>(unit.size));
  EncodeFixed64BE(buf + 12, static_cast<uint64_t>(unit.tags_code));
}
}  // namespace

Status ConsumeQueue::Stage(int64_t queue_offset, const CqUnit& unit) {
  const int64_t end = max_logic_bytes_.load(std::memory_order_relaxed);
  if (queue_offset * kCqUnitSize == end + static_cast<int64_t>(staged_.size()) && !queue_.empty()) {
    if (staged_.empty()) {
      auto last = queue_.FindByOffset(end - 1);  // the segment the queue ends in
      if (last && last->from_offset() + last->wrote_position() == end) staged_file_ = std::move(last);
    }
    if (staged_file_ && static_cast<int64_t>(staged_.size()) + kCqUnitSize <= staged_file_->remaining()) {
      char buf[kCqUnitSize];
      EncodeUnit(unit, buf);
      staged_.append(buf, kCqUnitSize);
      return Status::OK();
    }
  }
  return Put(queue_offset, unit);
}

Status ConsumeQueue::Commit() {
  if (staged_.empty()) return Status::OK();
  const auto n = static_cast<int32_t>(staged_.size());
  const bool fits = staged_file_->Append(staged_.data(), n);
  staged_.clear();
  staged_file_.reset();
  if (!fits)
    return Status::Internal(
        fmt::format("consume queue {}-{}: staged units overran their segment", topic_, queue_id_));
  max_logic_bytes_.fetch_add(n, std::memory_order_release);
  return Status::OK();
}

Status ConsumeQueue::Put(int64_t queue_offset, const CqUnit& unit) {
  MQ_RETURN_IF_ERROR(Commit());
  char buf[kCqUnitSize];
  EncodeUnit(unit, buf);
  int64_t target = queue_offset * kCqUnitSize;
  int64_t max_bytes = max_logic_bytes_.load(std::memory_order_relaxed);
  if (target < max_bytes) {
    if (target < min_logic_bytes_.load()) return Status::OK();
    auto file = queue_.FindByOffset(target);
    if (!file) return Status::OK();
    auto pos = static_cast<int32_t>(target - file->from_offset());
    if (!(UnitAt(*file, pos) == unit)) {
      MQ_LOG_WARN(Logger("store"), "consume queue {}-{}: repairing unit at offset {}", topic_, queue_id_,
                  queue_offset);
      file->WriteAt(pos, buf, kCqUnitSize);
      // Below the segment's flushed position, which Flush() never syncs again, and the next
      // checkpoint will count this record as dispatched: the repair is durable before that.
      return file->SyncRange(pos, kCqUnitSize, queue_.hook());
    }
    return Status::OK();
  }
  bool was_empty = queue_.empty();
  if (target > max_bytes && !was_empty) {
    MQ_LOG_WARN(Logger("store"), "consume queue {}-{}: gap from {} to {}, filling holes", topic_, queue_id_,
                max_bytes / kCqUnitSize, queue_offset);
  }
  while (true) {
    MQ_ASSIGN_OR_RETURN(auto file, queue_.GetLastOrCreate(target));
    if (was_empty) {
      min_logic_bytes_.store(target, std::memory_order_release);
      was_empty = false;
    }
    int64_t file_end = file->from_offset() + file->size();
    if (target >= file_end) {
      file->SetWrotePosition(file->size());
      continue;
    }
    auto pos = static_cast<int32_t>(target - file->from_offset());
    if (file->wrote_position() < pos) file->SetWrotePosition(pos);
    file->Append(buf, kCqUnitSize);
    max_logic_bytes_.store(target + kCqUnitSize, std::memory_order_release);
    return Status::OK();
  }
}

int64_t ConsumeQueue::LastPhysicalEnd() const {
  int64_t max_bytes = max_logic_bytes_.load();
  if (max_bytes <= min_logic_bytes_.load()) return 0;
  auto unit = Get(max_bytes / kCqUnitSize - 1);
  return unit ? unit->phy_offset + unit->size : 0;
}

std::optional<CqUnit> ConsumeQueue::Get(int64_t queue_offset) const {
  auto units = Read(queue_offset, 1);
  if (units.empty()) return std::nullopt;
  return units.front();
}

std::vector<CqUnit> ConsumeQueue::Read(int64_t queue_offset, int32_t max_units) const {
  std::vector<CqUnit> out;
  int64_t bytes = queue_offset * kCqUnitSize;
  int64_t max_bytes = max_logic_bytes_.load(std::memory_order_acquire);
  if (queue_offset < min_offset() || bytes >= max_bytes) return out;
  auto file = queue_.FindByOffset(bytes);
  if (!file) return out;
  auto pos = static_cast<int32_t>(bytes - file->from_offset());
  int64_t limit = std::min<int64_t>(file->size(), max_bytes - file->from_offset());
  for (int32_t i = 0; i < max_units && pos + kCqUnitSize <= limit; ++i, pos += kCqUnitSize) {
    out.push_back(UnitAt(*file, pos));
  }
  return out;
}

void ConsumeQueue::CorrectMinOffset(int64_t min_phy) {
  int64_t bytes = min_logic_bytes_.load();
  int64_t max_bytes = max_logic_bytes_.load();
  auto first = queue_.First();
  if (!first) return;
  bytes = std::max(bytes, first->from_offset());
  while (bytes < max_bytes) {
    auto file = queue_.FindByOffset(bytes);
    if (!file) break;
    CqUnit unit = UnitAt(*file, static_cast<int32_t>(bytes - file->from_offset()));
    if (unit.size > 0 && unit.phy_offset >= min_phy) break;
    bytes += kCqUnitSize;
  }
  min_logic_bytes_.store(std::min(bytes, max_bytes), std::memory_order_release);
}

int ConsumeQueue::DeleteExpired(int64_t min_phy) {
  int64_t max_bytes = max_logic_bytes_.load();
  int n = queue_.DeleteLeading(
      [&](const MappedFile& file) {
        if (file.from_offset() + file.size() > max_bytes) return false;
        CqUnit last = UnitAt(file, file.size() - file.size() % kCqUnitSize - kCqUnitSize);
        return last.phy_offset <= min_phy - last.size;
      },
      1 << 20);
  CorrectMinOffset(min_phy);
  return n;
}

ConsumeQueueTable::ConsumeQueueTable(std::string root_dir, int32_t file_size, FaultHook hook)
    : root_dir_(std::move(root_dir)), file_size_(file_size), hook_(std::move(hook)) {}

namespace {

// The entries of `dir`. A listing that fails must fail the start: taken as empty, every queue
// in it would be re-created over its own files (units appended where reads never look).
Result<std::vector<fs::directory_entry>> ListDirectory(const fs::path& dir) {
  std::error_code ec;
  std::vector<fs::directory_entry> out;
  fs::directory_iterator it(dir, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) out.push_back(*it);
  if (ec)
    return Status::IoError(fmt::format("consume queues: cannot list {}: {}", dir.string(), ec.message()));
  return out;
}

}  // namespace

Status ConsumeQueueTable::LoadAll() {
  MQ_RETURN_IF_ERROR(CreateDirectoriesDurably(root_dir_));
  MQ_ASSIGN_OR_RETURN(auto topic_dirs, ListDirectory(root_dir_));
  for (const auto& topic_dir : topic_dirs) {
    if (!topic_dir.is_directory()) continue;
    std::string topic = topic_dir.path().filename().string();
    MQ_ASSIGN_OR_RETURN(auto queue_dirs, ListDirectory(topic_dir.path()));
    for (const auto& queue_dir : queue_dirs) {
      std::string name = queue_dir.path().filename().string();
      if (!queue_dir.is_directory() || name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit))
        continue;
      int32_t queue_id = -1;
      auto [end, parsed] = std::from_chars(name.data(), name.data() + name.size(), queue_id);
      if (parsed != std::errc() || end != name.data() + name.size()) {
        return Status::Corruption(
            fmt::format("consume queues: {} is not a queue id (at most {}); move it away",
                        queue_dir.path().string(), INT32_MAX));
      }
      auto cq = std::make_shared<ConsumeQueue>(topic, queue_id, queue_dir.path().string(), file_size_, hook_);
      MQ_RETURN_IF_ERROR(cq->Load());
      std::unique_lock<std::shared_mutex> lock(mu_);
      table_[topic][queue_id] = std::move(cq);
    }
  }
  return Status::OK();
}

std::shared_ptr<ConsumeQueue> ConsumeQueueTable::Find(const std::string& topic, int32_t queue_id) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = table_.find(topic);
  if (it == table_.end()) return nullptr;
  auto qit = it->second.find(queue_id);
  return qit == it->second.end() ? nullptr : qit->second;
}

Result<std::shared_ptr<ConsumeQueue>> ConsumeQueueTable::FindOrCreate(const std::string& topic,
                                                                      int32_t queue_id) {
  if (auto cq = Find(topic, queue_id)) return cq;
  std::unique_lock<std::shared_mutex> lock(mu_);
  auto& slot = table_[topic][queue_id];
  if (!slot) {
    auto cq = std::make_shared<ConsumeQueue>(
        topic, queue_id, fmt::format("{}/{}/{}", root_dir_, topic, queue_id), file_size_, hook_);
    Status s = cq->Load();
    if (!s.ok()) {
      table_[topic].erase(queue_id);
      return s;
    }
    slot = std::move(cq);
  }
  return slot;
}

bool IsQueueDirectoryName(std::string_view topic) {
  return !topic.empty() && topic != "." && topic != ".." &&
         topic.find_first_of(std::string_view("/\0", 2)) == std::string_view::npos;
}

bool ConsumeQueueTable::HasTopic(const std::string& topic) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = table_.find(topic);
  return it != table_.end() && !it->second.empty();
}

Status ConsumeQueueTable::DropTopic(const std::string& topic) {
  if (!IsQueueDirectoryName(topic)) {
    return Status::InvalidArgument(fmt::format("topic: '{}' is not a consume queue directory name", topic));
  }
  std::map<int32_t, std::shared_ptr<ConsumeQueue>> doomed;
  {
    std::unique_lock<std::shared_mutex> lock(mu_);
    if (auto it = table_.find(topic); it != table_.end()) {
      doomed.swap(it->second);
      table_.erase(it);
    }
  }
  for (const auto& [queue_id, cq] : doomed) MQ_RETURN_IF_ERROR(cq->Destroy());
  const std::string dir = fmt::format("{}/{}", root_dir_, topic);
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) return Status::IoError(fmt::format("remove {}: {}", dir, ec.message()));
  return FsyncDir(root_dir_);
}

std::vector<std::shared_ptr<ConsumeQueue>> ConsumeQueueTable::All() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::vector<std::shared_ptr<ConsumeQueue>> out;
  for (const auto& [topic, queues] : table_) {
    for (const auto& [id, cq] : queues) out.push_back(cq);
  }
  return out;
}

}  // namespace mq::store
