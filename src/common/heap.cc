#include "common/heap.h"

#include <cstdlib>
#include <mutex>
#include <string>
#include <string_view>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace mq {
namespace {

#if defined(__GLIBC__)
void SetUnlessUserSet(int param, const char* legacy_env, const char* glibc_name, int value) {
  if (!UserSetMallocThreshold(std::getenv(legacy_env), std::getenv("GLIBC_TUNABLES"), glibc_name)) {
    mallopt(param, value);
  }
}
#endif

}  // namespace

bool UserSetMallocThreshold(const char* legacy_env_value, const char* tunables, const char* glibc_name) {
  if (legacy_env_value != nullptr) return true;
  if (tunables == nullptr) return false;
  // GLIBC_TUNABLES is "name=value:name=value".
  const std::string wanted = std::string("glibc.malloc.") + glibc_name + "=";
  std::string_view rest(tunables);
  while (!rest.empty()) {
    auto end = rest.find(':');
    if (rest.substr(0, end).substr(0, wanted.size()) == wanted) return true;
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  return false;
}

void TuneAllocatorForLargeMessages() {
#if defined(__GLIBC__)
  SetUnlessUserSet(M_MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_", "mmap_threshold", 1024 * 1024);
  SetUnlessUserSet(M_TRIM_THRESHOLD, "MALLOC_TRIM_THRESHOLD_", "trim_threshold", kKeptFreeTopBytes);
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 2);
#endif
}

void TuneAllocatorForClients() {
#if defined(__GLIBC__)
  static std::once_flag once;
  std::call_once(once, [] {
    SetUnlessUserSet(M_MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_", "mmap_threshold", 4 * 1024 * 1024);
    SetUnlessUserSet(M_TRIM_THRESHOLD, "MALLOC_TRIM_THRESHOLD_", "trim_threshold", kKeptFreeTopBytes);
  });
#endif
}

void ReleaseFreeHeap() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace mq
