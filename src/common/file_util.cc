#include "common/file_util.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace mq {
namespace {

Status Errno(std::string_view what, const std::string& path) {
  const int err = errno;
  std::string m = fmt::format("{} '{}': {}", what, path, std::strerror(err));
  if (IsPassingShortage(err)) return Status::ResourceExhausted(std::move(m));
  return Status::IoError(std::move(m));
}

}  // namespace

bool IsPassingShortage(int err) { return err == ENOSPC || err == EDQUOT || err == EMFILE || err == ENFILE; }

std::string OffsetToFileName(int64_t offset) { return fmt::format("{:020d}", offset); }

Status CreateDirectoriesDurably(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<fs::path> created;  // deepest first
  for (fs::path p = fs::path(dir).lexically_normal(); !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
    created.push_back(p);
    if (p == p.parent_path()) break;
  }
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError(fmt::format("create dir '{}': {}", dir, ec.message()));
  // A new directory's name is an entry of its parent, durable only once the parent is fsynced.
  for (const auto& p : created) {
    fs::path parent = p.has_parent_path() ? p.parent_path() : fs::path(".");
    if (parent.empty()) parent = ".";
    MQ_RETURN_IF_ERROR(FsyncDir(parent.string()));
  }
  return Status::OK();
}

Result<std::vector<int64_t>> ListSegmentOffsets(const std::string& dir) {
  MQ_RETURN_IF_ERROR(CreateDirectoriesDurably(dir));
  std::error_code ec;
  std::vector<int64_t> offsets;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.size() != 20 || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    offsets.push_back(std::stoll(name));
  }
  if (ec) {
    std::string m = fmt::format("list dir '{}': {}", dir, ec.message());
    return IsPassingShortage(ec.value()) ? Status::ResourceExhausted(std::move(m))
                                         : Status::IoError(std::move(m));
  }
  std::sort(offsets.begin(), offsets.end());
  return offsets;
}

Status FsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return Errno("open dir", dir);
  int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? Status::OK() : Errno("fsync dir", dir);
}

Status WriteFileAtomically(const std::string& path, std::string_view content, std::optional<mode_t> mode) {
  std::filesystem::path target(path);
  // A directory created here must be as durable as the file renamed into it.
  if (target.has_parent_path()) MQ_RETURN_IF_ERROR(CreateDirectoriesDurably(target.parent_path().string()));
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("open", tmp);
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status s = Errno("write", tmp);
      ::close(fd);
      return s;
    }
    done += static_cast<size_t>(n);
  }
  if (mode && ::fchmod(fd, *mode) != 0) {
    Status s = Errno("fchmod", tmp);
    ::close(fd);
    return s;
  }
  if (::fsync(fd) != 0) {
    Status s = Errno("fsync", tmp);
    ::close(fd);
    return s;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Errno("rename", tmp);
  return FsyncDir(target.has_parent_path() ? target.parent_path().string() : ".");
}

Result<std::string> ReadFileToString(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound(fmt::format("'{}' does not exist", path));
    return Errno("open", path);
  }
  std::string out;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      Status s = Errno("read", path);
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace mq
