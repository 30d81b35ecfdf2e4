#include "common/digest.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace mq {

std::string ToUpperHex(const unsigned char* bytes, size_t size) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[bytes[i] >> 4]);
    out.push_back(kDigits[bytes[i] & 0xF]);
  }
  return out;
}

std::string Md5UpperHex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // EVP_Digest cannot fail for MD5 with the default provider; an empty string would only
  // show up as a digest mismatch on the client, never as a crash.
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr) != 1) return {};
  return ToUpperHex(md, len);
}

std::string HmacSha1UpperHex(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len) == nullptr) {
    return {};
  }
  return ToUpperHex(md, len);
}

}  // namespace mq
