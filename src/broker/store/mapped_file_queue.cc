#include "broker/store/mapped_file_queue.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "common/file_util.h"
#include "common/logging.h"
#include "common/thread_name.h"

namespace mq::store {
namespace fs = std::filesystem;

MappedFileQueue::MappedFileQueue(std::string dir, int32_t file_size, bool prepare_next, FaultHook hook,
                                 AppendOptions append)
    : dir_(std::move(dir)),
      file_size_(file_size),
      prepare_next_(prepare_next),
      hook_(std::move(hook)),
      append_(append) {
  if (prepare_next_) alloc_thread_ = StartNamedThread("mq-allocate", [this] { AllocatorLoop(); });
}

MappedFileQueue::~MappedFileQueue() {
  if (alloc_thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(alloc_mu_);
      alloc_stop_ = true;
    }
    alloc_cv_.notify_all();
    alloc_thread_.join();
    // The segment outlives the queue when a reader holds it; its wake-up must not.
    if (warm_file_) warm_file_->WakeWhenWrittenTo(0, nullptr);
  }
}

Status MappedFileQueue::Load() {
  MQ_ASSIGN_OR_RETURN(std::vector<int64_t> offsets, ListSegmentOffsets(dir_));
  std::vector<std::shared_ptr<MappedFile>> files;
  for (size_t i = 0; i < offsets.size(); ++i) {
    if (offsets[i] % file_size_ != 0) {
      return Status::Corruption(fmt::format("segment {}/{} is not aligned to the segment size {}", dir_,
                                            OffsetToFileName(offsets[i]), file_size_));
    }
    if (i > 0 && offsets[i] != offsets[i - 1] + file_size_) {
      return Status::Corruption(fmt::format("segment gap in {}: {} follows {}", dir_,
                                            OffsetToFileName(offsets[i]), OffsetToFileName(offsets[i - 1])));
    }
    std::error_code size_ec;
    auto on_disk = fs::file_size(dir_ + "/" + OffsetToFileName(offsets[i]), size_ec);
    if (!size_ec && on_disk < static_cast<uintmax_t>(file_size_)) {
      MQ_LOG_WARN(Logger("store"), "segment {}/{} is short ({} of {} bytes)", dir_,
                  OffsetToFileName(offsets[i]), on_disk, file_size_);
      if (first_short_segment_ < 0) first_short_segment_ = offsets[i];
    }
    MQ_ASSIGN_OR_RETURN(auto file, MappedFile::Open(dir_ + "/" + OffsetToFileName(offsets[i]), offsets[i],
                                                    file_size_, false, hook_, append_));
    file->SetWrotePosition(file_size_);
    file->SetFlushedPosition(file_size_);
    files.push_back(std::move(file));
  }
  std::lock_guard<std::mutex> lock(mu_);
  files_ = std::move(files);
  return Status::OK();
}

std::vector<std::shared_ptr<MappedFile>> MappedFileQueue::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return files_;
}

std::shared_ptr<MappedFile> MappedFileQueue::First() const {
  std::lock_guard<std::mutex> lock(mu_);
  return files_.empty() ? nullptr : files_.front();
}

std::shared_ptr<MappedFile> MappedFileQueue::Last() const {
  std::lock_guard<std::mutex> lock(mu_);
  return files_.empty() ? nullptr : files_.back();
}

bool MappedFileQueue::empty() const {
  std::lock_guard<std::mutex> lock(mu_);
  return files_.empty();
}

std::shared_ptr<MappedFile> MappedFileQueue::FindByOffset(int64_t offset) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (files_.empty() || offset < files_.front()->from_offset()) return nullptr;
  auto index = static_cast<size_t>((offset - files_.front()->from_offset()) / file_size_);
  if (index >= files_.size()) return nullptr;
  return files_[index];
}

Result<std::shared_ptr<MappedFile>> MappedFileQueue::CreateFile(int64_t from) {
  {
    std::unique_lock<std::mutex> lock(alloc_mu_);
    alloc_cv_.wait(lock, [&] { return !(alloc_busy_ && alloc_request_ == from); });
    if (prepared_ && prepared_->from_offset() == from) {
      auto file = std::move(prepared_);
      prepared_.reset();
      return file;
    }
  }
  return OpenNewFile(from);
}

Result<std::shared_ptr<MappedFile>> MappedFileQueue::OpenNewFile(int64_t from) const {
  MQ_ASSIGN_OR_RETURN(auto file, MappedFile::Open(dir_ + "/" + OffsetToFileName(from), from, file_size_, true,
                                                  hook_, append_));
  MQ_RETURN_IF_ERROR(FsyncDirOfNewFile(dir_, hook_).WithContext(fmt::format("new segment {}", file->path())));
  return file;
}

Result<std::shared_ptr<MappedFile>> MappedFileQueue::GetLastOrCreate(int64_t offset_if_empty) {
  int64_t from;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!files_.empty() && !files_.back()->IsFull()) return files_.back();
    from = files_.empty() ? offset_if_empty - offset_if_empty % file_size_
                          : files_.back()->from_offset() + file_size_;
  }
  MQ_ASSIGN_OR_RETURN(auto file, CreateFile(from));
  {
    std::lock_guard<std::mutex> lock(mu_);
    files_.push_back(file);
  }
  MQ_LOG_INFO(Logger("store"), "created segment file={} from_offset={}", file->path(), from);
  if (prepare_next_) {
    {
      std::lock_guard<std::mutex> lock(alloc_mu_);
      warm_file_ = file;
      warmed_to_ = 0;
      zero_wanted_ = true;
    }
    RequestPrealloc(from + file_size_);
  }
  return file;
}

Status MappedFileQueue::WarmActive(int64_t offset_if_empty) {
  if (!prepare_next_) return Status::OK();
  MQ_ASSIGN_OR_RETURN(auto file, GetLastOrCreate(offset_if_empty));
  {
    std::lock_guard<std::mutex> lock(alloc_mu_);
    warmed_to_ = file->wrote_position();
    warm_file_ = std::move(file);
    zero_wanted_ = true;
  }
  alloc_cv_.notify_all();
  return Status::OK();
}

void MappedFileQueue::RequestPrealloc(int64_t from) {
  {
    std::lock_guard<std::mutex> lock(alloc_mu_);
    alloc_request_ = from;
  }
  alloc_cv_.notify_all();
}

void MappedFileQueue::WantZeroing() {
  {
    std::lock_guard<std::mutex> lock(alloc_mu_);
    zero_wanted_ = true;
  }
  alloc_cv_.notify_all();
}

void MappedFileQueue::AllocatorLoop() {
  std::unique_lock<std::mutex> lock(alloc_mu_);
  while (true) {
    // No timeout: segment requests, a new segment to warm and the appender's use of the zeroed
    // lead all notify, so an idle store's allocator does not wake at all.
    alloc_cv_.wait(lock, [&] { return alloc_stop_ || (alloc_request_ && !alloc_busy_) || zero_wanted_; });
    if (alloc_stop_) return;
    if (alloc_request_ && !alloc_busy_) {
      int64_t from = *alloc_request_;
      if (prepared_ && prepared_->from_offset() == from) {
        alloc_request_.reset();
      } else {
        alloc_busy_ = true;
        lock.unlock();
        auto file = OpenNewFile(from);
        lock.lock();
        alloc_busy_ = false;
        if (alloc_request_ == from) alloc_request_.reset();
        if (file.ok()) {
          prepared_ = std::move(file).value();
        } else {
          MQ_LOG_WARN(Logger("store"), "pre-allocation of segment {} failed: {}", from,
                      file.status().ToString());
        }
        alloc_cv_.notify_all();
      }
    }
    zero_wanted_ = false;
    ZeroAheadOfAppender(lock);
  }
}

void MappedFileQueue::ZeroAheadOfAppender(std::unique_lock<std::mutex>& lock) {
  // 1 MiB per ZeroAhead call (in 64 KiB writes), re-reading the appender's position in between.
  while (warm_file_ && warm_file_->zero_ahead() && !zero_ahead_failed_ && !alloc_stop_) {
    auto file = warm_file_;
    int32_t target = static_cast<int32_t>(
        std::min<int64_t>(file->size(), int64_t{file->wrote_position()} + kWarmAheadBytes));
    int32_t from = std::max(warmed_to_, file->wrote_position());
    if (from >= target) {
      if (target >= file->size()) return;  // zeroed to its end: the next segment notifies
      const int32_t wake_at =
          target - kWarmAheadBytes + (file->zeros_to_disk() ? kZeroToDiskWakeStepBytes : kZeroWakeStepBytes);
      file->WakeWhenWrittenTo(wake_at, [this] { WantZeroing(); });
      if (file->wrote_position() < wake_at) return;
      continue;  // the appender passed it while we asked
    }
    // In int64: segments may be up to INT32_MAX bytes, so from + 1 MiB can pass it.
    const auto to = static_cast<int32_t>(std::min<int64_t>(target, int64_t{from} + (1 << 20)));
    lock.unlock();
    auto zeroed = file->ZeroAhead(to);
    if (!zeroed.ok()) {
      // The appends stay correct on unwritten extents, only their syncs get slower.
      MQ_LOG_WARN(Logger("store"), "zeroing ahead stopped: {}", zeroed.status().ToString());
      zero_ahead_failed_ = true;
    }
    lock.lock();
    if (warm_file_ == file) warmed_to_ = to;
  }
}

int64_t MappedFileQueue::MinOffset() const {
  std::lock_guard<std::mutex> lock(mu_);
  return files_.empty() ? 0 : files_.front()->from_offset();
}

int64_t MappedFileQueue::MaxWrotOffset() const {
  std::lock_guard<std::mutex> lock(mu_);
  return files_.empty() ? 0 : files_.back()->from_offset() + files_.back()->wrote_position();
}

int64_t MappedFileQueue::FlushedWhere() const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& file : files_) {
    if (file->flushed_position() < file_size_) return file->from_offset() + file->flushed_position();
  }
  return files_.empty() ? 0 : files_.back()->from_offset() + file_size_;
}

Status MappedFileQueue::Flush() {
  for (const auto& file : Snapshot()) {
    if (file->flushed_position() < file->wrote_position()) MQ_RETURN_IF_ERROR(file->Flush(hook_));
  }
  return Status::OK();
}

void MappedFileQueue::DropCache(int64_t from, int64_t to) const {
  for (const auto& file : Snapshot()) {
    const int64_t begin = std::max(from, file->from_offset());
    const int64_t end = std::min(to, file->from_offset() + file->flushed_position());
    if (end <= begin) continue;
    file->DropCache(static_cast<int32_t>(begin - file->from_offset()), static_cast<int32_t>(end - begin));
  }
}

Status MappedFileQueue::TruncateDirty(int64_t offset, bool zero_tail) {
  std::vector<std::shared_ptr<MappedFile>> doomed;
  std::shared_ptr<MappedFile> containing;
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (!files_.empty() && files_.back()->from_offset() > offset) {
      doomed.push_back(files_.back());
      files_.pop_back();
    }
    if (!files_.empty() && offset - files_.back()->from_offset() <= file_size_) containing = files_.back();
  }
  for (const auto& file : doomed) {
    MQ_LOG_INFO(Logger("store"), "truncate: deleting segment {} beyond offset {}", file->path(), offset);
    MQ_RETURN_IF_ERROR(file->Destroy());
  }
  if (containing) {
    auto pos = static_cast<int32_t>(offset - containing->from_offset());
    if (zero_tail && pos < file_size_) MQ_RETURN_IF_ERROR(containing->ZeroFrom(pos, hook_));
    containing->SetWrotePosition(pos);
    containing->SetFlushedPosition(pos);
  }
  if (!doomed.empty()) return FsyncDir(dir_);
  return Status::OK();
}

int MappedFileQueue::DeleteLeading(const std::function<bool(const MappedFile&)>& pred, int max_files) {
  // The predicate runs without mu_: it may read whole segments (retention's timestamps after a
  // restart, seconds per GiB from a cold disk), and appends, flushes and readers take mu_.
  std::vector<std::shared_ptr<MappedFile>> candidates;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i + 1 < files_.size() && static_cast<int>(i) < max_files; ++i) {
      candidates.push_back(files_[i]);
    }
  }
  size_t n = 0;
  while (n < candidates.size() && pred(*candidates[n])) ++n;
  std::vector<std::shared_ptr<MappedFile>> doomed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    size_t k = 0;  // the leading files that are still the ones judged (and never the last)
    while (k < n && k + 1 < files_.size() && files_[k] == candidates[k]) ++k;
    doomed.assign(files_.begin(), files_.begin() + static_cast<std::ptrdiff_t>(k));
    files_.erase(files_.begin(), files_.begin() + static_cast<std::ptrdiff_t>(k));
  }
  for (const auto& file : doomed) {
    MQ_LOG_INFO(Logger("store"), "retention: deleting segment {}", file->path());
    Status s = file->Destroy();
    if (!s.ok()) MQ_LOG_WARN(Logger("store"), "delete {} failed: {}", file->path(), s.ToString());
  }
  return static_cast<int>(doomed.size());
}

Status MappedFileQueue::DestroyAll() {
  std::vector<std::shared_ptr<MappedFile>> doomed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    doomed.swap(files_);
  }
  for (const auto& file : doomed) MQ_RETURN_IF_ERROR(file->Destroy());
  return Status::OK();
}

}  // namespace mq::store
