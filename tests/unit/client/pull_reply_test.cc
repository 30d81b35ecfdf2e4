// ReadPullReply against what protobuf writes: every field it takes reads back as protobuf
// parses it, the records as a view into the bytes, and anything it does not take (a
// MessageExt list, unknown fields, malformed bytes) is left to protobuf.
#include "pull_reply.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace mq::client {
namespace {

mq::v1::PullMessageResponse FullReply() {
  mq::v1::PullMessageResponse reply;
  reply.set_status(mq::v1::OFFSET_ILLEGAL);
  reply.set_next_begin_offset(-1);  // a negative int64 is ten varint bytes
  reply.set_min_offset(7);
  reply.set_max_offset(int64_t{1} << 40);
  reply.set_suggest_which_broker_id(1);
  reply.set_records(std::string(70'000, 'r'));  // a length of three varint bytes
  return reply;
}

TEST(PullReplyTest, ReadsWhatProtobufWritesWithTheRecordsInPlace) {
  const mq::v1::PullMessageResponse reply = FullReply();
  const std::string bytes = reply.SerializeAsString();
  PullReplyView view;
  ASSERT_TRUE(ReadPullReply(bytes, &view));
  EXPECT_EQ(view.status, reply.status());
  EXPECT_EQ(view.next_begin_offset, reply.next_begin_offset());
  EXPECT_EQ(view.min_offset, reply.min_offset());
  EXPECT_EQ(view.max_offset, reply.max_offset());
  EXPECT_EQ(view.suggest_which_broker_id, reply.suggest_which_broker_id());
  EXPECT_EQ(view.records, reply.records());
  EXPECT_GE(view.records.data(), bytes.data());  // not a copy
  EXPECT_LE(view.records.data() + view.records.size(), bytes.data() + bytes.size());
  EXPECT_EQ(view.messages_from, nullptr);
}

TEST(PullReplyTest, AnEmptyReplyIsFoundWithNothing) {
  PullReplyView view;
  view.max_offset = 5;
  ASSERT_TRUE(ReadPullReply("", &view));
  EXPECT_EQ(view.status, mq::v1::FOUND);
  EXPECT_EQ(view.max_offset, 0);
  EXPECT_TRUE(view.records.empty());
}

TEST(PullReplyTest, LeavesToProtobufWhatItDoesNotTake) {
  mq::v1::PullMessageResponse with_messages = FullReply();
  with_messages.add_messages()->set_queue_offset(3);
  PullReplyView view;
  EXPECT_FALSE(ReadPullReply(with_messages.SerializeAsString(), &view));
  EXPECT_EQ(PullReplyViewOf(&with_messages).messages_from, &with_messages);

  const std::string bytes = FullReply().SerializeAsString();
  EXPECT_FALSE(ReadPullReply(bytes + std::string("\x40\x01", 2), &view));  // field 8, unknown here
  EXPECT_FALSE(ReadPullReply(std::string("\x08\x09", 2), &view));          // status 9: no such status
  EXPECT_FALSE(ReadPullReply(std::string("\x0a\x00", 2), &view));          // status as bytes
  for (size_t cut = 1; cut < 20; ++cut) {                                  // cut short anywhere
    EXPECT_FALSE(ReadPullReply(std::string_view(bytes).substr(0, bytes.size() - cut), &view)) << cut;
  }
}

TEST(PullReplyTest, AParsedReplyGivesTheSameView) {
  mq::v1::PullMessageResponse reply = FullReply();
  const std::string bytes = reply.SerializeAsString();  // the view reads into it
  PullReplyView read;
  ASSERT_TRUE(ReadPullReply(bytes, &read));
  const PullReplyView parsed = PullReplyViewOf(&reply);
  EXPECT_EQ(parsed.status, read.status);
  EXPECT_EQ(parsed.next_begin_offset, read.next_begin_offset);
  EXPECT_EQ(parsed.min_offset, read.min_offset);
  EXPECT_EQ(parsed.max_offset, read.max_offset);
  EXPECT_EQ(parsed.suggest_which_broker_id, read.suggest_which_broker_id);
  EXPECT_EQ(parsed.records, read.records);
  EXPECT_EQ(parsed.messages_from, nullptr);
}

TEST(PullReplyTest, ReadOrParseTakesTheReadersViewOrProtobufsOrRefuses) {
  const std::string plain = FullReply().SerializeAsString();
  std::unique_ptr<mq::v1::PullMessageResponse> parsed;
  auto read = ReadPullReplyOrParse(plain, &parsed);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(parsed, nullptr);  // the hand reader took it: nothing parsed
  EXPECT_EQ(read->records.data(), plain.data() + plain.size() - 70'000);

  mq::v1::PullMessageResponse with_messages = FullReply();
  with_messages.add_messages()->set_queue_offset(3);
  read = ReadPullReplyOrParse(with_messages.SerializeAsString(), &parsed);
  ASSERT_TRUE(read.ok());
  ASSERT_NE(parsed, nullptr);
  EXPECT_EQ(read->messages_from, parsed.get());
  EXPECT_EQ(parsed->messages(0).queue_offset(), 3);
  EXPECT_EQ(read->status, mq::v1::OFFSET_ILLEGAL);

  read = ReadPullReplyOrParse(std::string("\x0a\x05", 2), &parsed);  // cut short: neither reads it
  EXPECT_EQ(read.status().code(), StatusCode::kInternal);
  EXPECT_NE(read.status().message().find("not a PullMessageResponse"), std::string::npos);
}

}  // namespace
}  // namespace mq::client
