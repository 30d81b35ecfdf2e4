// The tag subscription expression ("*", "TagA", "TagA || TagB"), parsed the same way by the
// broker (which filters pulls by it) and the client (which filters again on delivery), so
// both accept and refuse exactly the same strings. Pure function, thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace mq {

// "TagA || TagB" -> {"TagA", "TagB"}; "*", "" or blanks -> {} (every message). Tags are
// trimmed of spaces and tabs as RocketMQ's FilterAPI does; an empty alternative or one holding
// '|' or '*' is refused with an InvalidArgument naming the "subscription" field.
Result<std::vector<std::string>> ParseTagExpression(std::string_view expression);

}  // namespace mq
