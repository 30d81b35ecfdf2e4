#include "common/tag_expression.h"

#include <fmt/format.h>

namespace mq {
namespace {

// Java's String.trim(), which FilterAPI applies: every character up to ' '.
std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && static_cast<unsigned char>(s.front()) <= ' ') s.remove_prefix(1);
  while (!s.empty() && static_cast<unsigned char>(s.back()) <= ' ') s.remove_suffix(1);
  return s;
}

}  // namespace

Result<std::vector<std::string>> ParseTagExpression(std::string_view expression) {
  std::vector<std::string> tags;
  std::string_view rest = TrimBlanks(expression);
  if (rest.empty() || rest == "*") return tags;
  while (true) {
    const size_t bar = rest.find("||");
    const std::string_view tag = TrimBlanks(rest.substr(0, bar));
    if (tag.find_first_of("|*") != std::string_view::npos) {
      return Status::InvalidArgument(
          fmt::format("subscription: '{}' is not '*' or 'TagA || TagB'", expression));
    }
    if (!tag.empty()) tags.emplace_back(tag);
    if (bar == std::string_view::npos) break;
    rest = rest.substr(bar + 2);
  }
  if (tags.empty()) {
    return Status::InvalidArgument(
        fmt::format("subscription: '{}' names no tag; '*' subscribes to every message", expression));
  }
  return tags;
}

}  // namespace mq
