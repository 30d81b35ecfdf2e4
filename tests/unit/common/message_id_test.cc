#include "common/message_id.h"

#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>

namespace mq {
namespace {

TEST(MessageIdTest, ThirtyTwoHexDigitsUniqueWithMillisecondsSinceTheMonthStarted) {
  std::set<std::string> ids;
  for (int i = 0; i < 10000; ++i) {
    std::string id = NewUniqueMessageId();
    ASSERT_EQ(id.size(), 32u) << id;
    for (char c : id) ASSERT_TRUE(std::isxdigit(static_cast<unsigned char>(c)) && !std::islower(c)) << id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 10000u);
  // ip (8) + pid (4) + random (8), then the milliseconds since the month began (8), then a sequence (4).
  const std::string id = NewUniqueMessageId();
  const auto since_month = std::stoll(id.substr(20, 8), nullptr, 16);
  EXPECT_LT(since_month, 32LL * 24 * 3600 * 1000);
}

}  // namespace
}  // namespace mq
