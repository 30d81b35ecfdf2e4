// ChildProcess: runs one of the real daemons (mqnamesrv, mqbroker) for integration tests.
// stdout/stderr go to a log file that is printed when a test fails to start the process.
// The destructor SIGKILLs a child that is still running, so a failing test never leaks one;
// a child started from the main thread is also SIGKILLed when the test process dies.
// Not thread-safe; owned by one test.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace mq::testing {

// Path of a built executable, e.g. BinaryPath("mqnamesrv").
std::string BinaryPath(const std::string& name);

class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts `binary args...` with output appended to log_path. Returns false on fork/exec failure.
  bool Start(const std::string& binary, const std::vector<std::string>& args, const std::string& log_path);
  bool running();
  pid_t pid() const { return pid_; }
  void Signal(int sig);
  // Waits for exit; returns the raw wait status, or nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  // SIGKILL and reap.
  void Kill();
  std::string ReadLog() const;

 private:
  pid_t pid_ = -1;
  std::string log_path_;
};

// Waits for a non-empty file (a daemon's --ready-file) and returns its trimmed content.
std::optional<std::string> WaitForReadyFile(const std::string& path, std::chrono::milliseconds timeout);

}  // namespace mq::testing
