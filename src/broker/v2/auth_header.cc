#include "broker/v2/auth_header.h"

#include <fmt/format.h>

#include "common/digest.h"

namespace mq::broker::v2 {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<AuthHeader> ParseAuthorization(std::string_view header) {
  header = Trim(header);
  if (header.substr(0, kAuthAlgorithm.size()) != kAuthAlgorithm ||
      (header.size() > kAuthAlgorithm.size() && header[kAuthAlgorithm.size()] != ' ')) {
    return Status::InvalidArgument(fmt::format("authorization: algorithm is not {}", kAuthAlgorithm));
  }
  std::string_view rest = header.substr(kAuthAlgorithm.size());
  AuthHeader out;
  bool seen_credential = false, seen_signed = false, seen_signature = false;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view part = Trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      return Status::InvalidArgument(fmt::format("authorization: '{}' is not key=value", part));
    }
    std::string_view key = Trim(part.substr(0, eq));
    std::string_view value = Trim(part.substr(eq + 1));
    if (key == "Credential") {
      out.access_key = std::string(value);
      seen_credential = true;
    } else if (key == "SignedHeaders") {
      out.signed_headers = std::string(value);
      seen_signed = true;
    } else if (key == "Signature") {
      out.signature = std::string(value);
      seen_signature = true;
    } else {
      return Status::InvalidArgument(fmt::format("authorization: unknown part '{}'", key));
    }
  }
  if (!seen_credential || out.access_key.empty())
    return Status::InvalidArgument("authorization: Credential is missing");
  if (!seen_signed || out.signed_headers.empty())
    return Status::InvalidArgument("authorization: SignedHeaders is missing");
  if (!seen_signature || out.signature.empty())
    return Status::InvalidArgument("authorization: Signature is missing");
  return out;
}

std::string ExpectedSignature(std::string_view secret_key, std::string_view date_time) {
  return HmacSha1UpperHex(secret_key, date_time);
}

}  // namespace mq::broker::v2
