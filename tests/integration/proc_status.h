// What /proc tells about a daemon: a field of /proc/<pid>/status in bytes (memory) and the
// names of its threads.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
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

// How many threads of `pid` carry each name (/proc/<pid>/task/*/comm); empty when it is gone.
inline std::map<std::string, int> ThreadNames(pid_t pid) {
  std::map<std::string, int> names;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    auto comm = ReadFileToString(task.path().string() + "/comm");
    if (comm.ok()) ++names[comm->substr(0, comm->find('\n'))];
  }
  return names;
}

}  // namespace mq::testing
