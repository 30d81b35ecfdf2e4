// FanOut: the outcome of one mqadmin verb over several NameServers or brokers. The verb goes on
// with the others when one fails, so a NameServer or broker that is down does not keep a change
// from the rest (RocketMQ's wipeWritePerm reports each NameServer the same way), and it fails at
// the end naming every failure. Not thread-safe; one per verb.
#pragma once

#include <fmt/format.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace mq::admin {

class FanOut {
 public:
  explicit FanOut(size_t targets) : targets_(targets) {}

  // True when `s` is OK; otherwise keeps it for Result().
  bool Ok(const Status& s) {
    if (s.ok()) return true;
    failures_.push_back(s);
    return false;
  }
  // OK when nothing failed; a single target's failure as it is; else the first failure's code
  // with "<k> of <n> <what> failed: <each message>".
  Status Result(std::string_view what) const {
    if (failures_.empty()) return Status::OK();
    if (targets_ == 1 && failures_.size() == 1) return failures_.front();
    std::string messages;
    for (const auto& f : failures_) messages += (messages.empty() ? "" : "; ") + f.message();
    return Status(failures_.front().code(),
                  fmt::format("{} of {} {} failed: {}", failures_.size(), targets_, what, messages));
  }

 private:
  const size_t targets_;
  std::vector<Status> failures_;
};

}  // namespace mq::admin
