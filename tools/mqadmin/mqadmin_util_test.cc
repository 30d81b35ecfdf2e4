// Unit tests of mqadmin's pure helpers: tables, JSON, flag parsing and the offsetMsgId decoder.
#include <gtest/gtest.h>

#include <sstream>

#include "message_util.h"
#include "output.h"
#include "topic_attributes.h"

namespace mq::admin {
namespace {

TEST(TableTest, AlignsColumns) {
  Table t({"#A", "#Bee"});
  t.Add({"long-value", "x"});
  t.Add({"s", "yy"});
  std::ostringstream out;
  t.Print(out);
  EXPECT_EQ(out.str(), "#A          #Bee\nlong-value  x\ns           yy\n");
}

TEST(JsonTest, BuildsNestedDocuments) {
  Json doc = Json::Object();
  doc.Set("s", "a\"b\\c\n").Set("n", int64_t{-5}).Set("b", true).Set("arr", Json::Array().Push(1).Push("x"));
  EXPECT_EQ(doc.Dump(), R"({"s":"a\"b\\c\n","n":-5,"b":true,"arr":[1,"x"]})");
  EXPECT_EQ(Json::Object().Dump(), "{}");
}

TEST(JsonTest, EscapesControlAndInvalidUtf8) {
  EXPECT_EQ(JsonQuote(std::string("\x01") + "\xff" + "é"), "\"\\u0001\\u00ffé\"");
}

TEST(ParseTest, Booleans) {
  EXPECT_TRUE(*ParseBool("f", "TRUE"));
  EXPECT_FALSE(*ParseBool("f", "false"));
  EXPECT_TRUE(ParseBool("f", "yes").status().IsInvalidArgument());
}

TEST(ParseTest, Timestamps) {
  EXPECT_EQ(*ParseTimestamp("t", "now"), -1);
  EXPECT_EQ(*ParseTimestamp("t", "1700000000123"), 1700000000123);
  auto local = ParseTimestamp("t", "2024-03-05#06:07:08:009");
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(*local % 1000, 9);
  EXPECT_EQ(FormatTime(*local), "2024-03-05 06:07:08,009");
  EXPECT_TRUE(ParseTimestamp("t", "2024-03-05").status().IsInvalidArgument());
  EXPECT_TRUE(ParseTimestamp("t", "yesterday").status().IsInvalidArgument());
}

TEST(OffsetMsgIdTest, DecodesHostPortAndOffset) {
  auto id = DecodeOffsetMsgId("7F0000010000D80B00000000000000B5");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->broker_addr, "127.0.0.1:55307");
  EXPECT_EQ(id->commit_log_offset, 0xB5);
  EXPECT_TRUE(DecodeOffsetMsgId("7f0000010000d80b00000000000000b5").ok());
}

TEST(OffsetMsgIdTest, RejectsMalformedIds) {
  EXPECT_TRUE(DecodeOffsetMsgId("ABC").status().IsInvalidArgument());
  EXPECT_TRUE(DecodeOffsetMsgId("ZZ0000010000D80B00000000000000B5").status().IsInvalidArgument());
  // A unique key (ip + pid + random ...) usually has no valid port in bytes 4..7.
  EXPECT_TRUE(DecodeOffsetMsgId("C00002023B70493803A589279A710000").status().IsInvalidArgument());
}

}  // namespace
}  // namespace mq::admin

namespace mq::admin {
namespace {

TEST(TopicAttributes, ParsesAddsAndRemovals) {
  auto changes = ParseAttributeChanges("+message.type=FIFO,-old.key");
  ASSERT_TRUE(changes.ok()) << changes.status().ToString();
  ASSERT_EQ(changes->size(), 2u);
  EXPECT_EQ(changes->at("message.type"), "FIFO");
  EXPECT_FALSE(changes->at("old.key").has_value());
  std::map<std::string, std::string> attributes = {{"old.key", "1"}, {"kept", "2"}};
  ApplyAttributeChanges(*changes, &attributes);
  EXPECT_EQ(attributes, (std::map<std::string, std::string>{{"kept", "2"}, {"message.type", "FIFO"}}));
}

TEST(TopicAttributes, RefusesMalformedEntriesNamingThem) {
  for (const char* bad : {"message.type=FIFO", "+message.type", "+=x", "-k=v", "+message.type=fifo", ","}) {
    auto changes = ParseAttributeChanges(bad);
    ASSERT_FALSE(changes.ok()) << bad;
    EXPECT_EQ(changes.status().message().rfind("attributes: ", 0), 0u) << changes.status().message();
  }
}

}  // namespace
}  // namespace mq::admin
