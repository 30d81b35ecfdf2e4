#include "broker/timer/timer_log.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/coding.h"
#include "common/crc32c.h"
#include "common/file_util.h"
#include "common/logging.h"

namespace mq::broker::timer {
namespace {

void EncodeUnit(const TimerUnit& u, char* p) {
  EncodeFixed32BE(p, TimerUnit::kMagic);
  EncodeFixed64BE(p + 8, static_cast<uint64_t>(u.prev_pos));
  EncodeFixed64BE(p + 16, static_cast<uint64_t>(u.slot_ms));
  EncodeFixed64BE(p + 24, static_cast<uint64_t>(u.deliver_ms));
  EncodeFixed64BE(p + 32, static_cast<uint64_t>(u.commit_log_offset));
  EncodeFixed32BE(p + 40, static_cast<uint32_t>(u.size));
  EncodeFixed32BE(p + 44, static_cast<uint32_t>(u.flags));
  EncodeFixed64BE(p + 48, static_cast<uint64_t>(u.cq_offset));
  EncodeFixed32BE(p + 4, crc32c::Value(p + 8, TimerUnit::kSize - 8));
}

// NotFound for an all-zero (never written) unit, Corruption for a torn or foreign one.
Result<TimerUnit> DecodeUnit(const char* p) {
  if (DecodeFixed32BE(p) != TimerUnit::kMagic) {
    for (int i = 0; i < TimerUnit::kSize; ++i) {
      if (p[i] != 0) return Status::Corruption("timer log unit: bad magic");
    }
    return Status::NotFound("timer log unit: not written");
  }
  if (DecodeFixed32BE(p + 4) != crc32c::Value(p + 8, TimerUnit::kSize - 8)) {
    return Status::Corruption("timer log unit: crc mismatch");
  }
  TimerUnit u;
  u.prev_pos = static_cast<int64_t>(DecodeFixed64BE(p + 8));
  u.slot_ms = static_cast<int64_t>(DecodeFixed64BE(p + 16));
  u.deliver_ms = static_cast<int64_t>(DecodeFixed64BE(p + 24));
  u.commit_log_offset = static_cast<int64_t>(DecodeFixed64BE(p + 32));
  u.size = static_cast<int32_t>(DecodeFixed32BE(p + 40));
  u.flags = static_cast<int32_t>(DecodeFixed32BE(p + 44));
  u.cq_offset = static_cast<int64_t>(DecodeFixed64BE(p + 48));
  return u;
}

Status Errno(const std::string& what) {
  return Status::IoError(fmt::format("{}: {}", what, strerror(errno)));
}

}  // namespace

TimerLog::TimerLog(std::string dir, int64_t units_per_segment)
    : dir_(std::move(dir)), segment_bytes_(units_per_segment * TimerUnit::kSize) {}

TimerLog::~TimerLog() {
  for (auto& [start, seg] : segments_) ::close(seg.fd);
}

std::string TimerLog::PathOf(int64_t start) const { return dir_ + "/" + OffsetToFileName(start); }

Status TimerLog::Open(const std::function<void(int64_t, const TimerUnit&)>& visit,
                      const std::function<bool(const TimerUnit&)>& keep) {
  MQ_ASSIGN_OR_RETURN(std::vector<int64_t> starts, ListSegmentOffsets(dir_));
  bool torn = false;
  for (int64_t start : starts) {
    const std::string path = PathOf(start);
    if (torn || start % segment_bytes_ != 0 || (!segments_.empty() && start != end_)) {
      // After a torn unit (or a gap / foreign size) nothing later can be trusted.
      MQ_LOG_WARN(Logger("broker"), "timer log: dropping segment {} after the recovered end {}", path, end_);
      std::filesystem::remove(path);
      torn = true;
      continue;
    }
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return Errno("timer log: open " + path);
    Segment& seg = segments_[start];
    seg.fd = fd;
    // Read in chunks: a segment may be large, recovery memory should not be.
    constexpr int64_t kChunk = 4096 * TimerUnit::kSize;
    std::string buf(static_cast<size_t>(kChunk), '\0');
    int64_t pos = 0;
    int64_t n = 0;  // bytes of the file seen so far
    while (!torn) {
      ssize_t got = ::pread(fd, buf.data(), buf.size(), pos);
      if (got < 0) return Errno("timer log: read " + path);
      if (got == 0) break;
      n = pos + got;
      int64_t i = 0;
      for (; i + TimerUnit::kSize <= got; i += TimerUnit::kSize) {
        auto unit = DecodeUnit(buf.data() + i);
        if (!unit.ok()) {
          if (unit.status().code() != StatusCode::kNotFound) {
            MQ_LOG_WARN(Logger("broker"), "timer log: {} at {}; truncating there", unit.status().message(),
                        start + pos + i);
          }
          torn = true;
          break;
        }
        if (keep && !keep(*unit)) {
          MQ_LOG_WARN(Logger("broker"),
                      "timer log: the unit at {} is of a record the store no longer has "
                      "(queue offset {}); truncating there",
                      start + pos + i, unit->cq_offset);
          torn = true;
          break;
        }
        seg.max_slot_ms = std::max(seg.max_slot_ms, unit->slot_ms);
        visit(start + pos + i, *unit);
      }
      pos += i;
      if (i < got) break;
    }
    if (pos < n) {
      torn = true;  // a partial unit at the end
    }
    if (::ftruncate(fd, pos) != 0) return Errno("timer log: truncate " + path);
    end_ = start + pos;
  }
  cut_ = torn;
  return Status::OK();
}

Result<TimerLog::Segment*> TimerLog::SegmentFor(int64_t pos, bool create) {
  const int64_t start = pos - pos % segment_bytes_;
  auto it = segments_.find(start);
  if (it != segments_.end()) return &it->second;
  if (!create) return Status::NotFound(fmt::format("timer log: no segment holds position {}", pos));
  MQ_RETURN_IF_ERROR(CreateDirectoriesDurably(dir_));
  const std::string path = PathOf(start);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("timer log: create " + path);
  // The finished segment is made durable before its successor exists.
  if (!segments_.empty()) ::fdatasync(segments_.rbegin()->second.fd);
  MQ_RETURN_IF_ERROR(FsyncDir(dir_));
  Segment& seg = segments_[start];
  seg.fd = fd;
  return &seg;
}

Result<int64_t> TimerLog::Append(const TimerUnit& unit) {
  MQ_ASSIGN_OR_RETURN(Segment * seg, SegmentFor(end_, /*create=*/true));
  char buf[TimerUnit::kSize] = {};
  EncodeUnit(unit, buf);
  const int64_t pos = end_;
  ssize_t n = ::pwrite(seg->fd, buf, sizeof(buf), pos % segment_bytes_);
  if (n != static_cast<ssize_t>(sizeof(buf))) return Errno("timer log: write");
  seg->max_slot_ms = std::max(seg->max_slot_ms, unit.slot_ms);
  end_ += TimerUnit::kSize;
  return pos;
}

Result<TimerUnit> TimerLog::Read(int64_t pos) const {
  if (pos < 0 || pos >= end_ || pos % TimerUnit::kSize != 0) {
    return Status::InvalidArgument(fmt::format("timer log: position {} is not a unit below {}", pos, end_));
  }
  auto it = segments_.find(pos - pos % segment_bytes_);
  if (it == segments_.end()) return Status::NotFound(fmt::format("timer log: position {} was deleted", pos));
  char buf[TimerUnit::kSize];
  ssize_t n = ::pread(it->second.fd, buf, sizeof(buf), pos % segment_bytes_);
  if (n != static_cast<ssize_t>(sizeof(buf))) return Errno("timer log: read");
  return DecodeUnit(buf);
}

Status TimerLog::Sync() {
  if (segments_.empty()) return Status::OK();
  if (::fdatasync(segments_.rbegin()->second.fd) != 0) return Errno("timer log: fdatasync");
  return Status::OK();
}

int TimerLog::DeleteDoneSegments(int64_t done_before_ms) {
  int deleted = 0;
  while (segments_.size() > 1) {
    auto it = segments_.begin();
    if (it->second.max_slot_ms >= done_before_ms) break;
    ::close(it->second.fd);
    std::filesystem::remove(PathOf(it->first));
    segments_.erase(it);
    ++deleted;
  }
  return deleted;
}

}  // namespace mq::broker::timer
