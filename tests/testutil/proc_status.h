// What /proc tells about a process: a field of /proc/<pid>/status in bytes (memory), the
// names of its threads and how often threads of one name woke up; this process's TCP
// connections to a port.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>

#include "common/file_util.h"

namespace mq::testing {

// ProcStatusBytes(pid, "RssAnon") (heap, stacks; not the mmapped store) or "VmRSS" (anonymous
// + mapped store pages); 0 when the process or the field is gone.
inline int64_t ProcStatusBytes(pid_t pid, std::string_view field) {
  auto status = ReadFileToString("/proc/" + std::to_string(pid) + "/status");
  if (!status.ok()) return 0;
  const std::string key = std::string(field) + ":";
  auto pos = status->find(key);
  return pos == std::string::npos ? 0 : std::stoll(status->substr(pos + key.size())) * 1024;
}

// Calls fn(task_dir, name) for each thread of `pid` (/proc/<pid>/task/*, name from comm); none
// when the process is gone.
template <typename Fn>
void ForEachThread(pid_t pid, Fn fn) {
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    auto comm = ReadFileToString(task.path().string() + "/comm");
    if (comm.ok()) fn(task.path().string(), comm->substr(0, comm->find('\n')));
  }
}

// How many threads of `pid` carry each name; empty when it is gone.
inline std::map<std::string, int> ThreadNames(pid_t pid) {
  std::map<std::string, int> names;
  ForEachThread(pid, [&](const std::string&, const std::string& name) { ++names[name]; });
  return names;
}

// Context switches (voluntary + involuntary) of the threads of `pid` named `name`, summed: how
// often they woke up. 0 when there are none.
inline int64_t ThreadSwitches(pid_t pid, const std::string& name) {
  int64_t total = 0;
  ForEachThread(pid, [&](const std::string& task, const std::string& thread_name) {
    if (thread_name != name) return;
    auto status = ReadFileToString(task + "/status");
    if (!status.ok()) return;
    for (std::string_view key : {"voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:"}) {
      auto pos = status->find(std::string("\n") + std::string(key));
      if (pos != std::string::npos) total += std::stoll(status->substr(pos + 1 + key.size()));
    }
  });
  return total;
}

// TCP connections of this process that are established to `port`: its client sockets to a
// local server on that port (/proc/net/tcp and tcp6: gRPC connects from dual-stack sockets).
inline int EstablishedConnectionsTo(uint16_t port) {
  std::set<std::string> inodes;  // of established sockets whose remote end is `port`
  for (const char* path : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    auto table = ReadFileToString(path);
    if (!table.ok()) continue;
    std::istringstream lines(*table);
    std::string line;
    std::getline(lines, line);  // header
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
      fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
      const auto colon = remote.rfind(':');
      if (state != "01" || colon == std::string::npos) continue;  // 01: ESTABLISHED
      if (std::stoul(remote.substr(colon + 1), nullptr, 16) == port) inodes.insert(inode);
    }
  }
  int mine = 0;
  std::error_code ec;
  for (const auto& fd : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    auto target = std::filesystem::read_symlink(fd.path(), ec);
    const std::string t = ec ? std::string() : target.string();
    if (t.rfind("socket:[", 0) == 0 && inodes.count(t.substr(8, t.size() - 9))) ++mine;
  }
  return mine;
}

}  // namespace mq::testing
