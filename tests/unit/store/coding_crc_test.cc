#include <gtest/gtest.h>

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
