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

}  // namespace mq
