#include "common/naming.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>

#include "common/utf8.h"

namespace mq {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == '%' || c == '|';
}

}  // namespace

Status ValidateName(std::string_view field, std::string_view value) {
  if (value.empty()) return Status::InvalidArgument(fmt::format("{}: must not be empty", field));
  if (value.size() > kMaxNameLength) {
    return Status::InvalidArgument(fmt::format("{}: length {} exceeds the maximum of {} characters", field,
                                               value.size(), kMaxNameLength));
  }
  for (char c : value) {
    if (!IsNameChar(c)) {
      return Status::InvalidArgument(
          fmt::format("{}: '{}' contains an illegal character (allowed: letters, digits, '%', '|', '_', '-')",
                      field, value));
    }
  }
  return Status::OK();
}

Status ValidateRetryingGroup(std::string_view field, std::string_view group) {
  MQ_RETURN_IF_ERROR(ValidateName(field, group));
  if (group.size() > kMaxRetryingGroupLength) {
    return Status::InvalidArgument(fmt::format(
        "{}: length {} exceeds the maximum of {} characters for a consumer group (its retry topic "
        "%RETRY%<group> is a topic name too)",
        field, group.size(), kMaxRetryingGroupLength));
  }
  return Status::OK();
}

Status ValidateMessageId(std::string_view field, std::string_view id) {
  if (id.empty()) return Status::InvalidArgument(fmt::format("{}: must not be empty", field));
  if (id.size() > kMaxMessageIdBytes || HasControlChar(id) || !IsValidUtf8(id)) {
    return Status::InvalidArgument(
        fmt::format("{}: not a message id ({} bytes at most of UTF-8 without control characters)", field,
                    kMaxMessageIdBytes));
  }
  return Status::OK();
}

bool HasControlChar(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto b = static_cast<unsigned char>(c);
    return b < 0x20 || b == 0x7F;
  });
}

std::vector<std::string> SplitList(std::string_view value, char sep) {
  std::vector<std::string> parts;
  while (!value.empty()) {
    size_t end = value.find(sep);
    if (end != 0) parts.emplace_back(value.substr(0, end));
    value.remove_prefix(end == std::string_view::npos ? value.size() : end + 1);
  }
  return parts;
}

uint32_t FirstNonLoopbackIpv4() {
  uint32_t ip = 0x7F000001;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return ip;
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr && a->ifa_addr->sa_family == AF_INET && !(a->ifa_flags & IFF_LOOPBACK)) {
      ip = ntohl(reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr.s_addr);
      break;
    }
  }
  freeifaddrs(list);
  return ip;
}

std::string Ipv4ToString(uint32_t ip) {
  return fmt::format("{}.{}.{}.{}", (ip >> 24) & 0xFF, (ip >> 16) & 0xFF, (ip >> 8) & 0xFF, ip & 0xFF);
}

std::string HostPort::ToString() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

Result<HostPort> ParseHostPort(std::string_view field, std::string_view value, bool allow_zero_port) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(fmt::format("{}: '{}' is not a valid host:port ({})", field, value, why));
  };
  if (value.empty()) return Status::InvalidArgument(fmt::format("{}: must not be empty", field));
  std::string_view host;
  std::string_view port_text;
  if (value.front() == '[') {
    size_t close = value.find(']');
    if (close == std::string_view::npos || close + 1 >= value.size() || value[close + 1] != ':') {
      return bad("expected [ipv6]:port");
    }
    host = value.substr(1, close - 1);
    port_text = value.substr(close + 2);
  } else {
    size_t colon = value.rfind(':');
    if (colon == std::string_view::npos) return bad("missing ':port'");
    host = value.substr(0, colon);
    port_text = value.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return bad("IPv6 hosts need brackets");
  }
  if (host.empty()) return bad("empty host");
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '-' || c == ':' || c == '_';
    if (!ok) return bad("illegal character in host");
  }
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || ptr != port_text.data() + port_text.size() || port > 65535 ||
      (port == 0 && !allow_zero_port)) {
    return bad("port must be a number in 1..65535");
  }
  return HostPort{std::string(host), static_cast<uint16_t>(port)};
}

}  // namespace mq
