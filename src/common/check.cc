#include "common/check.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>

namespace mq::internal {

void CheckFailed(const char* file, int line, const char* cond, const std::string& message) {
  std::string text = fmt::format("check failed at {}:{}: ({}) {}", file, line, cond, message);
  spdlog::critical("{}", text);
  // Flush, but do not spdlog::shutdown(): it joins the periodic flusher thread, which does not
  // exist in a forked child (death tests) and would hang.
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->flush(); });
  std::fprintf(stderr, "%s\n", text.c_str());
  std::abort();
}

}  // namespace mq::internal
