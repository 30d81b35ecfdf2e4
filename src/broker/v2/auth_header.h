// The v2 SDKs' authorization header:
//   authorization: MQv2-HMAC-SHA1 Credential=<AK>, SignedHeaders=x-mq-date-time, Signature=<HEX>
// where Signature = uppercase hex of HMAC-SHA1(key = secret key, data = the x-mq-date-time
// value). The broker has no ACL yet: it parses the header (so a malformed one is noticed in
// the debug log) but authorizes every call. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace mq::broker::v2 {

inline constexpr std::string_view kAuthAlgorithm = "MQv2-HMAC-SHA1";

struct AuthHeader {
  std::string access_key;      // Credential
  std::string signed_headers;  // SignedHeaders (the SDKs sign x-mq-date-time only)
  std::string signature;       // Signature, uppercase hex
};

// InvalidArgument naming what is wrong ("authorization: ...") for anything but the format above.
Result<AuthHeader> ParseAuthorization(std::string_view header);
// The signature a client holding `secret_key` sends for `date_time` (x-mq-date-time).
std::string ExpectedSignature(std::string_view secret_key, std::string_view date_time);

}  // namespace mq::broker::v2
