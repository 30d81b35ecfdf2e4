// RocketMQ 5 topic attributes on the command line: updateTopic -a "+message.type=FIFO,-key"
// ("+key=value" adds or changes, "-key" removes). Parsing and applying are pure functions so
// they are unit tested; thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace mq::admin {

// key -> new value, or nullopt to remove it. InvalidArgument naming the entry for anything
// else (no sign, empty key, "+key" without "=", a value for "-key", a bad message.type).
using AttributeChanges = std::map<std::string, std::optional<std::string>>;
Result<AttributeChanges> ParseAttributeChanges(std::string_view spec);

// Applies `changes` to a topic's current attributes.
void ApplyAttributeChanges(const AttributeChanges& changes, std::map<std::string, std::string>* attributes);

}  // namespace mq::admin
