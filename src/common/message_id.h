// Unique message ids (RocketMQ MessageClientIDSetter / UNIQ_KEY): 16 bytes as 32 uppercase
// hex digits: IPv4(4) + pid(2) + per-process random(4) + ms since the start of the current
// month(4) + counter(2). Producers set it before the first send attempt so retries keep it;
// the broker fills it for messages that arrive without one. Thread-safe.
#pragma once

#include <cstddef>
#include <string>

namespace mq {

inline constexpr size_t kUniqueMessageIdLength = 32;

std::string NewUniqueMessageId();
// A new id written to out[0, kUniqueMessageIdLength), with no string to allocate.
void WriteUniqueMessageId(char* out);

}  // namespace mq
