// Validation of user-supplied names and addresses, shared by NameServer, broker, client and
// mqadmin so every entry point rejects the same things with the same words.
// Error messages start with the field name, e.g. "topic: ...". Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace mq {

// RocketMQ's TopicValidator / group rule: ^[%|a-zA-Z0-9_-]+$, at most 127 characters.
inline constexpr size_t kMaxNameLength = 127;

// Validates a topic, consumer/producer group, cluster or broker name. `field` names the
// argument in the error ("topic", "broker_name", ...).
Status ValidateName(std::string_view field, std::string_view value);

// A consumer group that sends messages back: a valid name short enough that its retry topic
// ("%RETRY%" + group) is one too (at most 120 characters).
inline constexpr size_t kMaxRetryingGroupLength = kMaxNameLength - 7;
Status ValidateRetryingGroup(std::string_view field, std::string_view group);

// A message id (UNIQ_KEY, the v2 message_id) a client chose: at most 128 bytes of UTF-8 without
// control characters, the RocketMQ proxy's rule. It comes back in protobuf strings (SendResult,
// RecallMessage) and inside recall handles, so what one protocol stores every other can return.
inline constexpr size_t kMaxMessageIdBytes = 128;
Status ValidateMessageId(std::string_view field, std::string_view id);

// Whether `s` holds an ASCII control character (below 0x20, or DEL).
bool HasControlChar(std::string_view s);

// Splits "a;b;;c" at `sep` into its non-empty parts {"a", "b", "c"}; nothing is trimmed.
// The format of NameServer lists ("host:port;host:port") and deleteWhen ("01;02").
std::vector<std::string> SplitList(std::string_view value, char sep = ';');

// This host's first non-loopback IPv4 address in host byte order (127.0.0.1 when it has
// none): the default advertised broker address and part of unique message ids.
uint32_t FirstNonLoopbackIpv4();
// 0x7F000001 -> "127.0.0.1".
std::string Ipv4ToString(uint32_t ip);

struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const;
};

// Parses "host:port" or "[v6]:port". Port must be 1..65535 unless allow_zero_port.
Result<HostPort> ParseHostPort(std::string_view field, std::string_view value, bool allow_zero_port = false);

}  // namespace mq
