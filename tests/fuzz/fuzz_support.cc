#include "fuzz_support.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "common/logging.h"

namespace mq::fuzz {

void Fail(const char* condition, const std::string& detail, const char* file, int line) {
  std::fprintf(stderr, "\nFUZZ CHECK FAILED at %s:%d: %s\n  %s\n", file, line, condition, detail.c_str());
  std::fflush(stderr);
  std::abort();
}

void QuietLogging() {
  static const bool done = [] {
    LogOptions options;
    options.level = "off";
    options.to_stderr = false;
    Status s = InitLogging(options);
    if (!s.ok()) Fail("InitLogging", s.ToString(), __FILE__, __LINE__);
    return true;
  }();
  (void)done;
}

void CheckClearError(const Status& status, std::string_view what) {
  if (status.ok()) return;
  MQ_FUZZ_CHECK(!status.message().empty(),
                fmt::format("{}: status {} has no message", what, static_cast<int>(status.code())));
}

ScratchDir::ScratchDir() {
  std::error_code ec;
  std::string base = std::filesystem::is_directory("/dev/shm", ec) ? "/dev/shm" : "/tmp";
  if (const char* tmp = std::getenv("MQ_FUZZ_TMPDIR")) base = tmp;
  std::string templ = base + "/mq-fuzz-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) Fail("mkdtemp", templ, __FILE__, __LINE__);
  path_ = templ;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void ScratchDir::Clear() const {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(path_, ec)) {
    std::filesystem::remove_all(entry.path(), ec);
  }
}

void WriteFileOrDie(const std::string& path, std::string_view bytes) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) Fail("open", path + ": " + std::strerror(errno), __FILE__, __LINE__);
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) Fail("write", path + ": " + std::strerror(errno), __FILE__, __LINE__);
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  ::close(fd);
}

}  // namespace mq::fuzz
