// UTF-8 checks for text that leaves the process in a protobuf `string` field, which protobuf's
// parsers (the SDKs') refuse unless it is valid UTF-8: a message that quotes bytes a client sent
// (a damaged handle, say) must not make the whole response unreadable. Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace mq {

// Whether `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF),
// the rule protobuf applies to proto3 strings.
bool IsValidUtf8(std::string_view s);

// `s` with each byte that is not part of a well-formed UTF-8 sequence written as the four
// characters \xNN; valid text comes back unchanged.
std::string EscapeInvalidUtf8(std::string_view s);

// For quoting a value a peer sent in an error message, whose size the peer chose (a status message
// travels in gRPC's trailing metadata, 8 KiB at most by default: a longer one loses the whole
// status): `s` itself when it has at most `max_bytes`, else its first `max_bytes` or fewer, cut
// before a character, then "...(N bytes)".
std::string ClipText(std::string_view s, size_t max_bytes = 128);

}  // namespace mq
