// Permission bits of a topic or a broker, as RocketMQ's PermName: PRIORITY=8, READ=4,
// WRITE=2, INHERIT=1 (RW = 6), shared by NameServer, broker, client and tools. Pure
// constexpr helpers, thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace mq {

inline constexpr int32_t kPermPriority = 8;
inline constexpr int32_t kPermRead = 4;
inline constexpr int32_t kPermWrite = 2;
inline constexpr int32_t kPermInherit = 1;
inline constexpr int32_t kPermReadWrite = kPermRead | kPermWrite;
inline constexpr int32_t kPermAll = kPermPriority | kPermRead | kPermWrite | kPermInherit;

constexpr bool IsReadable(int32_t perm) { return (perm & kPermRead) != 0; }
constexpr bool IsWritable(int32_t perm) { return (perm & kPermWrite) != 0; }
constexpr bool IsInherited(int32_t perm) { return (perm & kPermInherit) != 0; }
constexpr bool IsPriority(int32_t perm) { return (perm & kPermPriority) != 0; }

// "RW-" style rendering for logs and admin output, as RocketMQ PermName.perm2String.
inline std::string PermToString(int32_t perm) {
  std::string s = "---";
  if (IsReadable(perm)) s[0] = 'R';
  if (IsWritable(perm)) s[1] = 'W';
  if (IsInherited(perm)) s[2] = 'X';
  return s;
}

}  // namespace mq
