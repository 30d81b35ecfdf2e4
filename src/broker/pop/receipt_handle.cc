#include "broker/pop/receipt_handle.h"

#include <fmt/format.h>

#include <charconv>
#include <vector>

#include "common/crc32c.h"
#include "common/naming.h"

namespace mq::broker::pop {
namespace {

constexpr std::string_view kVersion = "P1";
constexpr size_t kFields = 10;
constexpr size_t kMaxHandleSize = 1024;

Status Bad(std::string_view why) { return Status::InvalidArgument(fmt::format("receipt_handle: {}", why)); }

template <typename T>
bool ParseNumber(std::string_view s, T* out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size() && *out >= 0;
}

}  // namespace

std::string ReceiptHandle::Encode() const {
  std::string body = fmt::format("{} {} {} {} {} {} {} {} {}", kVersion, broker_name, topic, queue_id,
                                 queue_offset, epoch, pop_time_ms, deadline_ms, commit_log_offset);
  return fmt::format("{} {:08x}", body, crc32c::Value(body));
}

Result<ReceiptHandle> ReceiptHandle::Parse(std::string_view text) {
  if (text.empty()) return Bad("is empty");
  if (text.size() > kMaxHandleSize) return Bad(fmt::format("is {} bytes long, not a handle", text.size()));
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (parts.size() <= kFields) {
    const size_t end = text.find(' ', start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  if (parts.size() != kFields || parts[0] != kVersion) return Bad("is not a handle this broker issued");
  const std::string_view body = text.substr(0, text.rfind(' '));
  uint32_t crc = 0;
  const std::string_view crc_text = parts[9];
  auto [ptr, ec] = std::from_chars(crc_text.data(), crc_text.data() + crc_text.size(), crc, 16);
  if (ec != std::errc() || ptr != crc_text.data() + crc_text.size() || crc_text.size() != 8 ||
      crc != crc32c::Value(body)) {
    return Bad("is damaged (checksum mismatch)");
  }
  ReceiptHandle h;
  h.broker_name = std::string(parts[1]);
  h.topic = std::string(parts[2]);
  if (h.broker_name.empty() || !ValidateName("topic", h.topic).ok() || !ParseNumber(parts[3], &h.queue_id) ||
      !ParseNumber(parts[4], &h.queue_offset) || !ParseNumber(parts[5], &h.epoch) ||
      !ParseNumber(parts[6], &h.pop_time_ms) || !ParseNumber(parts[7], &h.deadline_ms) ||
      !ParseNumber(parts[8], &h.commit_log_offset)) {
    return Bad("has a malformed field");
  }
  return h;
}

}  // namespace mq::broker::pop
