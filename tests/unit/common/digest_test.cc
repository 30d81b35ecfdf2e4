#include "common/digest.h"

#include <gtest/gtest.h>

namespace mq {
namespace {

TEST(Digest, Md5UpperHexKnownVectors) {
  EXPECT_EQ(Md5UpperHex(""), "D41D8CD98F00B204E9800998ECF8427E");
  EXPECT_EQ(Md5UpperHex("abc"), "900150983CD24FB0D6963F7D28E17F72");
  EXPECT_EQ(Md5UpperHex(std::string("\0\xff", 2)).size(), 32u);
}

// The vector the RocketMQ Node.js client 1.0.8 produces for AK123/SK456 (x-mq-date-time).
TEST(Digest, HmacSha1OfTheNodeClientSignature) {
  EXPECT_EQ(HmacSha1UpperHex("SK456", "20261126T034124Z"), "21882888F0D993B946FB07E9315E89E538AC452D");
}

}  // namespace
}  // namespace mq
