#include "common/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace mq::crc32c {
namespace {

constexpr uint32_t kPoly = 0x82F63B78u;

constexpr std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
    table[i] = c;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kTable = MakeTable();

uint32_t ExtendPortable(uint32_t crc, const unsigned char* p, size_t n) {
  uint32_t c = ~crc;
  for (size_t i = 0; i < n; ++i) c = kTable[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return ~c;
}

#if defined(__x86_64__)
// Register values here are reflected: bit 31 holds the coefficient of x^0.
// a * b modulo the CRC polynomial.
constexpr uint32_t MultiplyModPoly(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t m = 1u << 31; m != 0; m >>= 1) {
    if (a & m) product ^= b;
    b = (b & 1) ? (b >> 1) ^ kPoly : b >> 1;
  }
  return product;
}

// Appending `bytes` zero bytes to a message multiplies its CRC register by x^(8 * bytes); the
// tables hold that product for each byte of the register, so a shift is 4 lookups.
using ShiftTables = std::array<std::array<uint32_t, 256>, 4>;
constexpr ShiftTables MakeShiftTables(size_t bytes) {
  uint32_t x_pow = 1u << 31;                                                    // x^0
  for (size_t i = 0; i < bytes; ++i) x_pow = MultiplyModPoly(x_pow, 1u << 23);  // * x^8
  ShiftTables tables{};
  for (uint32_t k = 0; k < 4; ++k) {
    for (uint32_t i = 0; i < 256; ++i) tables[k][i] = MultiplyModPoly(x_pow, i << (8 * k));
  }
  return tables;
}

uint32_t Shift(const ShiftTables& t, uint32_t reg) {
  return t[0][reg & 0xff] ^ t[1][(reg >> 8) & 0xff] ^ t[2][(reg >> 16) & 0xff] ^ t[3][reg >> 24];
}

// The crc32 instruction takes 3 cycles but can start every cycle: three independent streams
// over adjacent blocks run about 3x faster than one, and their registers are joined with
// reg(A + B) = Shift(reg(A), |B|) ^ reg(B from 0), the CRC being linear.
constexpr size_t kStreamBlock = 128;
constexpr ShiftTables kShiftBlock = MakeShiftTables(kStreamBlock);

// Runs `rounds` rounds of 3 blocks from p; returns the register after them.
__attribute__((target("sse4.2"), noinline)) uint64_t ExtendThreeStreams(uint64_t c, const unsigned char* p,
                                                                        size_t rounds) {
  for (; rounds > 0; --rounds, p += 3 * kStreamBlock) {
    uint64_t c1 = 0;
    uint64_t c2 = 0;
    for (size_t i = 0; i < kStreamBlock; i += 8) {
      uint64_t v0, v1, v2;
      std::memcpy(&v0, p + i, 8);
      std::memcpy(&v1, p + kStreamBlock + i, 8);
      std::memcpy(&v2, p + 2 * kStreamBlock + i, 8);
      c = _mm_crc32_u64(c, v0);
      c1 = _mm_crc32_u64(c1, v1);
      c2 = _mm_crc32_u64(c2, v2);
    }
    c = Shift(kShiftBlock, Shift(kShiftBlock, static_cast<uint32_t>(c)) ^ static_cast<uint32_t>(c1)) ^
        static_cast<uint32_t>(c2);
  }
  return c;
}

__attribute__((target("sse4.2"))) uint32_t ExtendHardware(uint32_t crc, const unsigned char* p, size_t n) {
  uint64_t c = ~crc & 0xffffffffu;
  if (n >= 3 * kStreamBlock) {
    const size_t rounds = n / (3 * kStreamBlock);
    c = ExtendThreeStreams(c, p, rounds);
    p += rounds * 3 * kStreamBlock;
    n -= rounds * 3 * kStreamBlock;
  }
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<uint32_t>(c);
  while (n > 0) {
    c32 = _mm_crc32_u8(c32, *p++);
    --n;
  }
  return ~c32;
}

bool HasHardware() {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}
#endif

}  // namespace

uint32_t Extend(uint32_t init_crc, const char* data, size_t n) {
  const auto* p = reinterpret_cast<const unsigned char*>(data);
#if defined(__x86_64__)
  if (HasHardware()) return ExtendHardware(init_crc, p, n);
#endif
  return ExtendPortable(init_crc, p, n);
}

}  // namespace mq::crc32c
