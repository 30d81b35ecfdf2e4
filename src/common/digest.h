// Message digests the apache.rocketmq.v2 protocol puts on the wire: MD5 of a message body
// (SystemProperties.body_digest) and HMAC-SHA1 of the MQv2-HMAC-SHA1 authorization header.
// Both are rendered as uppercase hex, as the RocketMQ proxy does. Pure functions over OpenSSL's
// one-shot APIs; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace mq {

std::string Md5UpperHex(std::string_view data);
std::string HmacSha1UpperHex(std::string_view key, std::string_view data);
std::string ToUpperHex(const unsigned char* bytes, size_t size);

}  // namespace mq
