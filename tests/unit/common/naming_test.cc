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

// Before: a clustering consumer's heartbeat with a group of 121-127 characters failed creating
// its retry topic with "topic: length 128 exceeds ...", a field the client never sent.
TEST(NamingTest, AGroupThatSendsBackLeavesRoomForItsRetryTopic) {
  EXPECT_TRUE(ValidateRetryingGroup("group", std::string(120, 'g')).ok());
  Status s = ValidateRetryingGroup("consumers[0].group", std::string(121, 'g'));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message().rfind("consumers[0].group: length 121 exceeds the maximum of 120", 0), 0u)
      << s.message();
  EXPECT_EQ(ValidateRetryingGroup("group", "bad group").code(), StatusCode::kInvalidArgument);
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

TEST(NamingTest, SplitListDropsEmptyPartsAndKeepsSpaces) {
  EXPECT_EQ(SplitList("a:1;b:2;;c:3;"), (std::vector<std::string>{"a:1", "b:2", "c:3"}));
  EXPECT_EQ(SplitList("01; 02"), (std::vector<std::string>{"01", " 02"}));
  EXPECT_TRUE(SplitList("").empty());
  EXPECT_TRUE(SplitList(";;").empty());
  EXPECT_EQ(SplitList("x,y", ','), (std::vector<std::string>{"x", "y"}));
}

TEST(NamingTest, MessageIdsAreUtf8WithoutControlCharactersUpTo128Bytes) {
  EXPECT_TRUE(ValidateMessageId("id", "7F0000010001ABCD").ok());
  EXPECT_TRUE(ValidateMessageId("id", "order 42 caf\xc3\xa9").ok());
  EXPECT_TRUE(ValidateMessageId("id", std::string(128, 'K')).ok());
  for (const std::string& bad : {std::string(), std::string(129, 'K'), std::string("a\x01"),
                                 std::string("tab\t"), std::string("del\x7f"), std::string("AB\xc3\x28")}) {
    Status s = ValidateMessageId("messages[2].unique_key", bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(s.message().rfind("messages[2].unique_key: ", 0), 0u) << s.message();
  }
}

TEST(NamingTest, Ipv4Addresses) {
  EXPECT_EQ(Ipv4ToString(0x7F000001), "127.0.0.1");
  EXPECT_EQ(Ipv4ToString(0x0A010203), "10.1.2.3");
  uint32_t local = FirstNonLoopbackIpv4();
  EXPECT_NE(local, 0u);
  EXPECT_TRUE(ParseHostPort("ip", Ipv4ToString(local) + ":1").ok());
}

}  // namespace
}  // namespace mq
