// ProcessPause: SIGSTOPs child processes (a broker that hangs, or a network that drops
// everything to it) and returns once every thread of them is stopped (the signal is
// asynchronous); SIGCONTs them when resumed or destroyed (a stopped process would ignore the
// fixture's SIGTERM). Not thread-safe; one per pause.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "common/file_util.h"
#include "testutil/proc_status.h"
#include "testutil/process.h"
#include "testutil/wait.h"

namespace mq::testing {

// Whether every thread of a process is stopped ('T' in /proc/<pid>/task/<tid>/stat): a group
// stop reaches the threads one by one. False when the process is gone.
inline bool AllThreadsStopped(pid_t pid) {
  bool any = false;
  bool stopped = true;
  ForEachThread(pid, [&](const std::string& task, const std::string&) {
    any = true;
    auto stat = ReadFileToString(task + "/stat");
    const size_t paren = stat.ok() ? stat->rfind(')') : std::string::npos;
    if (paren == std::string::npos || paren + 2 >= stat->size() || (*stat)[paren + 2] != 'T') stopped = false;
  });
  return any && stopped;
}

class ProcessPause {
 public:
  explicit ProcessPause(std::vector<ChildProcess*> processes) : processes_(std::move(processes)) {
    for (auto* p : processes_) p->Signal(SIGSTOP);
    for (auto* p : processes_) {
      EXPECT_TRUE(WaitUntil([p] { return AllThreadsStopped(p->pid()); }, std::chrono::seconds(10)));
    }
  }
  ~ProcessPause() { Resume(); }
  ProcessPause(const ProcessPause&) = delete;
  ProcessPause& operator=(const ProcessPause&) = delete;
  void Resume() {
    for (auto* p : processes_) p->Signal(SIGCONT);
    processes_.clear();
  }

 private:
  std::vector<ChildProcess*> processes_;
};

}  // namespace mq::testing
