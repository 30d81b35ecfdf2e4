// MQ_CHECK(cond, fmt, args...): aborts with a logged message when an invariant is broken.
// Only for programming errors; expected failures return a Status.
#pragma once

#include <fmt/format.h>

namespace mq::internal {
[[noreturn]] void CheckFailed(const char* file, int line, const char* cond, const std::string& message);
}  // namespace mq::internal

#define MQ_CHECK(cond, ...)                                                               \
  do {                                                                                    \
    if (!(cond)) [[unlikely]] {                                                           \
      ::mq::internal::CheckFailed(__FILE__, __LINE__, #cond, ::fmt::format(__VA_ARGS__)); \
    }                                                                                     \
  } while (0)
