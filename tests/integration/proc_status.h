// A field of /proc/<pid>/status in bytes, for tests that watch a daemon's memory.
#pragma once

#include <sys/types.h>

#include <cstdint>
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

}  // namespace mq::testing
