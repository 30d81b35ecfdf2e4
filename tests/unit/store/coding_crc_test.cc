#include <gtest/gtest.h>

#include <random>
#include <string>

#include "common/coding.h"
#include "common/crc32c.h"

namespace mq {
namespace {

TEST(Crc32cTest, StandardVectors) {
  EXPECT_EQ(crc32c::Value("123456789"), 0xE3069283u);
  std::string zeros(32, '\0');
  EXPECT_EQ(crc32c::Value(zeros), 0x8A9136AAu);
  std::string ones(32, '\xff');
  EXPECT_EQ(crc32c::Value(ones), 0x62A8AB43u);
}

TEST(Crc32cTest, ExtendEqualsWhole) {
  std::string data = "hello world, this is a longer string for crc32c";
  uint32_t part = crc32c::Value(data.data(), 10);
  EXPECT_EQ(crc32c::Extend(part, data.data() + 10, data.size() - 10), crc32c::Value(data));
}

// Bit by bit, straight from the definition: the reference for the fast paths.
uint32_t ReferenceExtend(uint32_t crc, std::string_view data) {
  uint32_t c = ~crc;
  for (unsigned char byte : data) {
    c ^= byte;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
  }
  return ~c;
}

// Lengths around the interleaved streams' block multiples, from every alignment, and extended
// from arbitrary starting values.
TEST(Crc32cTest, MatchesTheDefinitionForEveryLengthAndAlignment) {
  std::mt19937 rng(12345);
  std::string data(5000, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (size_t n = 0; n <= 1600; ++n) {
    const size_t offset = n % 8;
    std::string_view piece(data.data() + offset, n);
    ASSERT_EQ(crc32c::Value(piece), ReferenceExtend(0, piece)) << "length " << n << " offset " << offset;
    const uint32_t init = static_cast<uint32_t>(rng());
    ASSERT_EQ(crc32c::Extend(init, piece.data(), n), ReferenceExtend(init, piece)) << "length " << n;
  }
  std::string_view all(data.data() + 3, data.size() - 3);
  EXPECT_EQ(crc32c::Value(all), ReferenceExtend(0, all));
}

TEST(CodingTest, BigEndianRoundTrip) {
  std::string s;
  PutFixed16BE(&s, 0x1234);
  PutFixed32BE(&s, 0xDAA320A7u);
  PutFixed64BE(&s, 0x0102030405060708ull);
  ASSERT_EQ(s.size(), 14u);
  EXPECT_EQ(static_cast<unsigned char>(s[0]), 0x12);
  EXPECT_EQ(static_cast<unsigned char>(s[2]), 0xDA);
  EXPECT_EQ(DecodeFixed16BE(s.data()), 0x1234);
  EXPECT_EQ(DecodeFixed32BE(s.data() + 2), 0xDAA320A7u);
  EXPECT_EQ(DecodeFixed64BE(s.data() + 6), 0x0102030405060708ull);
}

}  // namespace
}  // namespace mq
