#include "topic_attributes.h"

#include <fmt/format.h>

namespace mq::admin {
namespace {

// The values RocketMQ 5's TopicMessageType takes (what the v2 front enforces).
bool ValidMessageType(std::string_view v) {
  return v == "NORMAL" || v == "FIFO" || v == "DELAY" || v == "TRANSACTION" || v == "MIXED";
}

}  // namespace

Result<AttributeChanges> ParseAttributeChanges(std::string_view spec) {
  AttributeChanges changes;
  size_t pos = 0;
  while (pos <= spec.size()) {
    size_t comma = spec.find(',', pos);
    std::string_view entry =
        spec.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    pos = comma == std::string_view::npos ? spec.size() + 1 : comma + 1;
    if (entry.empty()) continue;
    const char sign = entry.front();
    std::string_view body = entry.substr(1);
    size_t eq = body.find('=');
    std::string key(body.substr(0, eq));
    if ((sign != '+' && sign != '-') || key.empty()) {
      return Status::InvalidArgument(
          fmt::format("attributes: '{}' is not +key=value (add or change) or -key (remove)", entry));
    }
    if (sign == '-') {
      if (eq != std::string_view::npos) {
        return Status::InvalidArgument(
            fmt::format("attributes: '{}' removes a key and takes no value", entry));
      }
      changes[key] = std::nullopt;
      continue;
    }
    if (eq == std::string_view::npos) {
      return Status::InvalidArgument(fmt::format("attributes: '{}' needs a value (+key=value)", entry));
    }
    std::string value(body.substr(eq + 1));
    if (key == "message.type" && !ValidMessageType(value)) {
      return Status::InvalidArgument(fmt::format(
          "attributes: message.type '{}' is not one of NORMAL, FIFO, DELAY, TRANSACTION, MIXED", value));
    }
    changes[key] = std::move(value);
  }
  if (changes.empty()) return Status::InvalidArgument("attributes: no +key=value or -key given");
  return changes;
}

void ApplyAttributeChanges(const AttributeChanges& changes, std::map<std::string, std::string>* attributes) {
  for (const auto& [key, value] : changes) {
    if (value) {
      (*attributes)[key] = *value;
    } else {
      attributes->erase(key);
    }
  }
}

}  // namespace mq::admin
