#include "common/thread_name.h"

#include <pthread.h>

namespace mq {

namespace {
constexpr size_t kMaxNameBytes = 15;  // TASK_COMM_LEN - 1
}

void SetCurrentThreadName(std::string_view name) {
  const std::string cut(name.substr(0, kMaxNameBytes));
  pthread_setname_np(pthread_self(), cut.c_str());
}

std::string CurrentThreadName() {
  char buf[kMaxNameBytes + 1] = {};
  if (pthread_getname_np(pthread_self(), buf, sizeof(buf)) != 0) return "";
  return buf;
}

}  // namespace mq
