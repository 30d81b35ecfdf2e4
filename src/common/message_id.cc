#include "common/message_id.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <random>

#include "common/naming.h"

namespace mq {
namespace {

int64_t StartOfMonthMillis(std::chrono::system_clock::time_point now) {
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  localtime_r(&t, &tm);
  tm.tm_mday = 1;
  tm.tm_hour = 0;
  tm.tm_min = 0;
  tm.tm_sec = 0;
  return static_cast<int64_t>(std::mktime(&tm)) * 1000;
}

struct Prefix {
  std::string hex;  // ip + pid + random: fixed for the process
  Prefix() {
    std::random_device rd;
    hex = fmt::format("{:08X}{:04X}{:08X}", FirstNonLoopbackIpv4(), static_cast<uint16_t>(::getpid()),
                      static_cast<uint32_t>(rd()));
  }
};

}  // namespace

std::string NewUniqueMessageId() {
  static const Prefix prefix;
  static std::atomic<uint32_t> counter{0};
  auto now = std::chrono::system_clock::now();
  int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  uint32_t since_month = static_cast<uint32_t>(now_ms - StartOfMonthMillis(now));
  uint16_t seq = static_cast<uint16_t>(counter.fetch_add(1, std::memory_order_relaxed));
  return fmt::format("{}{:08X}{:04X}", prefix.hex, since_month, seq);
}

}  // namespace mq
