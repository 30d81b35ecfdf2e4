#include "broker/store/mapped_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

#include "common/check.h"
#include "common/file_util.h"

namespace mq::store {
namespace {

Status Errno(std::string_view what, const std::string& path, int err) {
  std::string m = fmt::format("{} '{}': {}", what, path, std::strerror(err));
  if (IsPassingShortage(err)) return Status::ResourceExhausted(std::move(m));
  return Status::IoError(std::move(m));
}

// Unlike a failed open or fallocate, a failed msync may have lost written data: always an
// I/O error, whatever errno says, so the store latches.
Status WritebackError(const std::string& path, int err) {
  return Status::IoError(fmt::format("msync '{}': {}", path, std::strerror(err)));
}

constexpr int64_t kPageSize = 4096;

}  // namespace

Status FsyncDirOfNewFile(const std::string& dir, const FaultHook& hook) {
  if (hook) MQ_RETURN_IF_ERROR(hook("fsync_dir", dir));
  return FsyncDir(dir);
}

Result<std::shared_ptr<MappedFile>> MappedFile::Open(const std::string& path, int64_t from_offset,
                                                     int32_t size, bool preallocate, const FaultHook& hook,
                                                     AppendOptions append) {
  if (hook) MQ_RETURN_IF_ERROR(hook("create", path));
  bool created = true;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0 && errno == EEXIST) {
    created = false;
    fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  }
  if (fd < 0) return Errno("open", path, errno);
  // A file this call created and could not size is removed again, so a failed roll on a full
  // disk leaves no empty segment behind for the next start to trip over.
  auto fail = [&](std::string_view what, int err) -> Status {
    ::close(fd);
    if (created) ::unlink(path.c_str());
    return Errno(what, path, err);
  };
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail("fstat", errno);
  if (st.st_size > size) {
    ::close(fd);
    return Status::Corruption(
        fmt::format("segment '{}' has {} bytes, more than the configured {}", path, st.st_size, size));
  }
  if (preallocate) {
    int rc = ::posix_fallocate(fd, 0, size);
    if (rc != 0 && rc != EOPNOTSUPP && rc != EINVAL) return fail("fallocate", rc);
  }
  if (st.st_size < size && ::ftruncate(fd, size) != 0) return fail("ftruncate", errno);
  void* addr = ::mmap(nullptr, static_cast<size_t>(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED) return fail("mmap", errno);
  return std::shared_ptr<MappedFile>(
      new MappedFile(path, from_offset, size, fd, static_cast<char*>(addr), append));
}

MappedFile::MappedFile(std::string path, int64_t from_offset, int32_t size, int fd, char* data,
                       AppendOptions append)
    : path_(std::move(path)),
      from_offset_(from_offset),
      size_(size),
      fd_(fd),
      data_(data),
      by_write_(append.by_write),
      zero_ahead_(append.by_write && append.zero_ahead),
      zeros_to_disk_(zero_ahead_ && append.zeros_to_disk),
      zeroed_to_(zero_ahead_ ? 0 : size) {}

MappedFile::~MappedFile() {
  ::munmap(data_, static_cast<size_t>(size_));
  ::close(fd_);
}

bool MappedFile::Append(const char* data, int32_t n) {
  int32_t pos = wrote_.load(std::memory_order_relaxed);
  if (n < 0 || n > size_ - pos) return false;
  WriteBytes(pos, data, n);
  Publish(pos + n);
  return true;
}

void MappedFile::Publish(int32_t end) {
  wrote_.store(end, std::memory_order_release);
  // Pairs with the fence in WakeWhenWrittenTo: the allocator sees this end or we see its ask.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (end < wake_at_.load(std::memory_order_relaxed)) return;
  std::function<void()> wake;
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    if (end < wake_at_.load(std::memory_order_relaxed)) return;
    wake_at_.store(std::numeric_limits<int32_t>::max(), std::memory_order_relaxed);
    wake.swap(wake_);
  }
  if (wake) wake();
}

void MappedFile::WakeWhenWrittenTo(int32_t at, std::function<void()> wake) {
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    wake_ = std::move(wake);
    wake_at_.store(wake_ ? at : std::numeric_limits<int32_t>::max(), std::memory_order_relaxed);
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

bool MappedFile::AppendGathered(const std::vector<std::string_view>& parts) {
  int32_t pos = wrote_.load(std::memory_order_relaxed);
  size_t total = 0;
  for (auto part : parts) total += part.size();
  if (total > static_cast<size_t>(size_ - pos)) return false;
  const auto n = static_cast<int32_t>(total);
  ClaimForWrite(pos, n);
  if (!by_write_) {
    for (auto part : parts) {
      std::memcpy(data_ + pos, part.data(), part.size());
      pos += static_cast<int32_t>(part.size());
    }
    Publish(pos);
    return true;
  }
  // Written in chunks of IOV_MAX parts; a short write resumes inside the part it stopped in.
  std::vector<iovec> iov;
  size_t next = 0;
  int32_t at = pos;
  while (at < pos + n) {
    iov.clear();
    for (size_t i = next; i < parts.size() && iov.size() < IOV_MAX; ++i) {
      iov.push_back({const_cast<char*>(parts[i].data()), parts[i].size()});
    }
    ssize_t w = ::pwritev(fd_, iov.data(), static_cast<int>(iov.size()), at);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      RecordWriteError(w < 0 ? errno : EIO);
      for (size_t i = next; i < parts.size(); ++i) {
        std::memcpy(data_ + at, parts[i].data(), parts[i].size());
        at += static_cast<int32_t>(parts[i].size());
      }
      break;
    }
    at += static_cast<int32_t>(w);
    auto left = static_cast<size_t>(w);
    while (next < parts.size() && left >= parts[next].size()) left -= parts[next++].size();
    if (left > 0) {
      // Short write inside parts[next]: its tail goes by the single-buffer path.
      WriteBytes(at, parts[next].data() + left, static_cast<int32_t>(parts[next].size() - left));
      at += static_cast<int32_t>(parts[next].size() - left);
      ++next;
    }
  }
  Publish(pos + n);
  return true;
}

void MappedFile::RecordWriteError(int err) {
  int expected = 0;
  write_errno_.compare_exchange_strong(expected, err);
}

void MappedFile::WriteAt(int32_t pos, const char* data, int32_t n) {
  MQ_CHECK(pos >= 0 && n >= 0 && pos + n <= size_, "WriteAt out of range pos={} n={}", pos, n);
  WriteBytes(pos, data, n);
}

void MappedFile::ClaimForWrite(int32_t pos, int32_t n) {
  if (pos + n <= zeroed_to_.load(std::memory_order_acquire)) return;
  std::lock_guard<std::mutex> lock(zero_mu_);
  claimed_to_ = std::max(claimed_to_, pos + n);
}

void MappedFile::WriteBytes(int32_t pos, const char* data, int32_t n) {
  ClaimForWrite(pos, n);
  if (!by_write_) {
    std::memcpy(data_ + pos, data, static_cast<size_t>(n));
    return;
  }
  int32_t done = 0;
  while (done < n) {
    ssize_t w = ::pwrite(fd_, data + done, static_cast<size_t>(n - done), pos + done);
    if (w > 0) {
      done += static_cast<int32_t>(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    RecordWriteError(w < 0 ? errno : EIO);
    std::memcpy(data_ + pos + done, data + done, static_cast<size_t>(n - done));
    return;
  }
}

void MappedFile::SetWrotePosition(int32_t pos) {
  MQ_CHECK(pos >= 0 && pos <= size_, "wrote position {} out of [0,{}]", pos, size_);
  wrote_.store(pos, std::memory_order_release);
  if (flushed_.load() > pos) flushed_.store(pos, std::memory_order_release);
}

void MappedFile::SetFlushedPosition(int32_t pos) {
  MQ_CHECK(pos >= 0 && pos <= wrote_position(), "flushed {} beyond wrote {}", pos, wrote_position());
  flushed_.store(pos, std::memory_order_release);
}

std::string_view MappedFile::View(int32_t pos, int32_t len) const {
  MQ_CHECK(pos >= 0 && len >= 0 && pos + len <= size_, "View out of range pos={} len={}", pos, len);
  return {data_ + pos, static_cast<size_t>(len)};
}

void MappedFile::CopyOut(int32_t pos, int32_t len, char* out) const {
  MQ_CHECK(pos >= 0 && len >= 0 && pos + len <= size_, "CopyOut out of range pos={} n={}", pos, len);
  int32_t done = 0;
  while (done < len) {
    ssize_t r = ::pread(fd_, out + done, static_cast<size_t>(len - done), pos + done);
    if (r > 0) {
      done += static_cast<int32_t>(r);
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    break;  // the mapping holds the same bytes
  }
  if (done < len) std::memcpy(out + done, data_ + pos + done, static_cast<size_t>(len - done));
}

Status MappedFile::Flush(const FaultHook& hook) {
  int32_t wrote = wrote_position();
  int32_t flushed = flushed_position();
  if (flushed >= wrote) return Status::OK();
  MQ_RETURN_IF_ERROR(SyncRange(flushed, wrote - flushed, hook));
  flushed_.store(wrote, std::memory_order_release);
  return Status::OK();
}

Status MappedFile::SyncRange(int32_t pos, int32_t len, const FaultHook& hook) const {
  MQ_CHECK(pos >= 0 && len >= 0 && pos + len <= size_, "SyncRange out of range pos={} len={}", pos, len);
  if (len == 0) return Status::OK();
  if (hook) MQ_RETURN_IF_ERROR(hook("flush", path_));
  if (int err = write_errno_.load(std::memory_order_relaxed); err != 0) return WritebackError(path_, err);
  int64_t start = (pos / kPageSize) * kPageSize;
  if (::msync(data_ + start, static_cast<size_t>(pos + len - start), MS_SYNC) != 0) {
    return WritebackError(path_, errno);
  }
  return Status::OK();
}

void MappedFile::DropCache(int32_t pos, int32_t len) const {
  MQ_CHECK(pos >= 0 && len >= 0 && pos + len <= flushed_position(),
           "DropCache of unflushed bytes pos={} len={}", pos, len);
  const int64_t start = (int64_t{pos} + kPageSize - 1) / kPageSize * kPageSize;
  const int64_t end = (int64_t{pos} + len) / kPageSize * kPageSize;
  if (end <= start) return;
  // Both are hints whose failure loses nothing (the bytes stay on disk and in the file); the
  // mapping's pages go first, or the page cache would keep them for the mapping's sake.
  (void)::madvise(data_ + start, static_cast<size_t>(end - start), MADV_DONTNEED);
  (void)::posix_fadvise(fd_, start, end - start, POSIX_FADV_DONTNEED);
}

Status MappedFile::ZeroFrom(int32_t pos, const FaultHook& hook) {
  if (pos >= size_) return Status::OK();
  const off_t len = size_ - pos;
  // Whatever zeroes the tail, the range must end up backed by disk blocks: an append through
  // the mapping into an unbacked page of a full disk is a SIGBUS, not an error we can report.
  auto reserve = [&]() -> Status {
    if (hook) MQ_RETURN_IF_ERROR(hook("fallocate", path_));
    int rc = ::posix_fallocate(fd_, pos, len);
    if (rc != 0) return Errno("fallocate (re-reserve the zeroed tail of)", path_, rc);
    return Status::OK();
  };
  if (::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, pos, len) == 0) return reserve();
  // No hole punching: reserve first (a sparse tail, e.g. of a segment extended by Load(), has
  // no blocks yet), then write zeros through the mapping and sync them.
  MQ_RETURN_IF_ERROR(reserve());
  std::memset(data_ + pos, 0, static_cast<size_t>(len));
  int64_t start = (pos / kPageSize) * kPageSize;
  if (::msync(data_ + start, static_cast<size_t>(size_ - start), MS_SYNC) != 0) {
    return WritebackError(path_, errno);
  }
  return Status::OK();
}

void MappedFile::PopulateForReaders(int32_t from, int32_t to) {
  // Pages written only by pwrite() are in the page cache but not in this process's page tables:
  // the dispatcher's and the pull path's first read of each 64 KiB took a page fault. Mapped
  // here in one call per MiB, read-only (so their writeback still needs no TLB shootdown).
  static std::atomic<bool> unsupported{false};
  if (unsupported.load(std::memory_order_relaxed)) return;
  const int64_t start = (int64_t{from} / kPageSize) * kPageSize;
  const int64_t end = std::min<int64_t>(size_, (int64_t{to} + kPageSize - 1) / kPageSize * kPageSize);
  if (end <= start) return;
  if (::madvise(data_ + start, static_cast<size_t>(end - start), MADV_POPULATE_READ) != 0 &&
      errno == EINVAL) {
    unsupported.store(true, std::memory_order_relaxed);  // a kernel before 5.14
  }
}

Result<int32_t> MappedFile::ZeroAhead(int32_t to) {
  // 64 KiB per write: ext4 holds the file's inode lock for a whole buffered write, and the
  // appender's own pwrite waited (spinning) for 1 MiB ones; a source this size also stays in cache.
  static const std::vector<char> kZeros(64 << 10, 0);
  to = std::min(to, size_);
  int32_t from;
  {
    std::lock_guard<std::mutex> lock(zero_mu_);
    from = std::max({zeroed_to_.load(std::memory_order_relaxed), claimed_to_, wrote_position()});
    if (from >= to) return zeroed_to_.load(std::memory_order_relaxed);
    for (int32_t pos = from; pos < to;) {
      auto n = static_cast<size_t>(std::min<int64_t>(to - pos, static_cast<int64_t>(kZeros.size())));
      ssize_t w = ::pwrite(fd_, kZeros.data(), n, pos);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return Errno("pwrite (zeros ahead of the appender into)", path_, w < 0 ? errno : EIO);
      pos += static_cast<int32_t>(w);
    }
    zeroed_to_.store(to, std::memory_order_release);
  }
  PopulateForReaders(from, to);
  if (!zeros_to_disk_) return to;
  // Starting the zeros' writeback now converts the extents while nobody waits on a sync (the
  // appender is kWarmAheadBytes behind); waiting for it would only slow the allocator down.
  if (::sync_file_range(fd_, from, to - from, SYNC_FILE_RANGE_WRITE) != 0) {
    return Errno("sync_file_range (zeros ahead of the appender in)", path_, errno);
  }
  return to;
}

Status MappedFile::Destroy() {
  if (::unlink(path_.c_str()) != 0 && errno != ENOENT) return Errno("unlink", path_, errno);
  return Status::OK();
}

void MappedFile::UpdateMaxStoreTimestamp(int64_t ts) {
  int64_t cur = max_store_ts_.load(std::memory_order_relaxed);
  while (ts > cur && !max_store_ts_.compare_exchange_weak(cur, ts, std::memory_order_relaxed)) {
  }
}

}  // namespace mq::store
