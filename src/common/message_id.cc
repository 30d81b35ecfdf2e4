#include "common/message_id.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <random>

#include "common/coding.h"
#include "common/naming.h"

namespace mq {
namespace {

struct Prefix {
  std::string hex;  // ip + pid + random: fixed for the process
  Prefix() {
    std::random_device rd;
    hex = fmt::format("{:08X}{:04X}{:08X}", FirstNonLoopbackIpv4(), static_cast<uint16_t>(::getpid()),
                      static_cast<uint32_t>(rd()));
  }
};

// The current month as [start, end) in epoch milliseconds, local time.
struct Month {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
};

Month MonthOf(std::chrono::system_clock::time_point now) {
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  localtime_r(&t, &tm);
  tm.tm_mday = 1;
  tm.tm_hour = 0;
  tm.tm_min = 0;
  tm.tm_sec = 0;
  tm.tm_isdst = -1;
  std::tm next = tm;
  next.tm_mon += 1;  // mktime normalises December + 1
  return Month{static_cast<int64_t>(std::mktime(&tm)) * 1000,
               static_cast<int64_t>(std::mktime(&next)) * 1000};
}

// localtime_r and mktime consult the time zone file on every call (a stat() per message id):
// each thread keeps the current month and asks again only when the clock leaves it.
int64_t StartOfMonthMillis(std::chrono::system_clock::time_point now, int64_t now_ms) {
  thread_local Month month;
  if (now_ms < month.start_ms || now_ms >= month.end_ms) month = MonthOf(now);
  return month.start_ms;
}

}  // namespace

void WriteUniqueMessageId(char* out) {
  static const Prefix prefix;
  static std::atomic<uint32_t> counter{0};
  static_assert(kUniqueMessageIdLength == 20 + 12);
  auto now = std::chrono::system_clock::now();
  int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  uint32_t since_month = static_cast<uint32_t>(now_ms - StartOfMonthMillis(now, now_ms));
  uint16_t seq = static_cast<uint16_t>(counter.fetch_add(1, std::memory_order_relaxed));
  char* p = std::copy(prefix.hex.begin(), prefix.hex.end(), out);
  PutUpperHex(seq, 4, PutUpperHex(since_month, 8, p));
}

std::string NewUniqueMessageId() {
  std::string id(kUniqueMessageIdLength, '0');
  WriteUniqueMessageId(id.data());
  return id;
}

}  // namespace mq
