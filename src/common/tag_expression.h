// The tag subscription expression ("*", "TagA", "TagA || TagB"), parsed the same way by the
// broker (which filters pulls by it) and the client (which filters again on delivery), so
// both accept and refuse exactly the same strings. Pure function, thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace mq {

// "TagA || TagB" -> {"TagA", "TagB"}; "*", "" or blanks -> {} (every message). As RocketMQ's
// FilterAPI does, tags are trimmed of whitespace and empty alternatives are skipped ("TagA ||"
// is "TagA"). Refused, with an InvalidArgument naming the "subscription" field, where FilterAPI
// would take a likely mistake literally: an alternative holding '|' or '*' ("TagA | TagB",
// "Tag*"), or no tag at all ("||", which would match nothing).
Result<std::vector<std::string>> ParseTagExpression(std::string_view expression);

}  // namespace mq
