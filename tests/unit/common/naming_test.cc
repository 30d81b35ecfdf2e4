#include "common/naming.h"

#include <gtest/gtest.h>

namespace mq {
namespace {

TEST(NamingTest, AcceptsRocketMqNames) {
  EXPECT_TRUE(ValidateName("topic", "TopicTest").ok());
  EXPECT_TRUE(ValidateName("group", "%RETRY%group_a-1").ok());
  EXPECT_TRUE(ValidateName("topic", "a|b").ok());
  EXPECT_TRUE(ValidateName("topic", std::string(127, 'x')).ok());
}

TEST(NamingTest, RejectsBadNamesNamingTheField) {
  Status empty = ValidateName("topic", "");
  EXPECT_TRUE(empty.IsInvalidArgument());
  EXPECT_EQ(empty.message(), "topic: must not be empty");
  EXPECT_TRUE(ValidateName("topic", std::string(128, 'x')).IsInvalidArgument());
  Status illegal = ValidateName("broker_name", "bad name");
  EXPECT_EQ(illegal.message().rfind("broker_name:", 0), 0u);
  EXPECT_TRUE(ValidateName("topic", "a.b").IsInvalidArgument());
  EXPECT_TRUE(ValidateName("topic", "a/b").IsInvalidArgument());
}

TEST(NamingTest, ParsesHostPort) {
  auto hp = ParseHostPort("addr", "127.0.0.1:9876");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->host, "127.0.0.1");
  EXPECT_EQ(hp->port, 9876);
  auto v6 = ParseHostPort("addr", "[::1]:10911");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->ToString(), "[::1]:10911");
  EXPECT_TRUE(ParseHostPort("addr", "host.example:0", true).ok());
}

TEST(NamingTest, RejectsMalformedAddresses) {
  for (const char* bad : {"", "nohost", ":10911", "host:", "host:abc", "host:70000", "host:0", "::1:80",
                          "ho st:1", "[::1]80"}) {
    auto r = ParseHostPort("broker_addr", bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().message().rfind("broker_addr:", 0), 0u) << bad;
    }
  }
}

}  // namespace
}  // namespace mq
