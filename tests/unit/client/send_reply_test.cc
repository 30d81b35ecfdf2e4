// The producer's hand reader of SendMessageResponse (send_reply.h) against protobuf's: the same
// fields, protobuf's way for whatever it does not know, a clear error for bytes that are not a
// reply.
#include "send_reply.h"

#include <gtest/gtest.h>

namespace mq::client {
namespace {

mq::v1::SendMessageResponse ThreeEntries() {
  mq::v1::SendMessageResponse r;
  r.set_status(mq::v1::FLUSH_DISK_TIMEOUT);
  r.set_broker_name("broker-b");
  r.set_queue_id(3);
  r.set_queue_offset(100);
  for (int i = 0; i < 3; ++i) {
    auto* e = r.add_entries();
    e->set_msg_id("UNIQ" + std::to_string(i) + std::string(28, 'a'));
    e->set_offset_msg_id("OFFS" + std::to_string(i) + std::string(28, 'b'));
    e->set_queue_offset(100 + i);
    e->set_commit_log_offset(4096 * (i + 1));
  }
  r.mutable_entries(1)->set_recall_handle("handle-1");
  return r;
}

grpc::ByteBuffer BufferOf(const std::string& bytes, size_t split) {
  std::vector<grpc::Slice> slices;
  if (split == 0 || split >= bytes.size()) {
    slices.emplace_back(bytes);
  } else {
    slices.emplace_back(bytes.substr(0, split));
    slices.emplace_back(bytes.substr(split));
  }
  return grpc::ByteBuffer(slices.data(), slices.size());
}

void ExpectThreeEntries(const SendReply& reply) {
  const auto want = ThreeEntries();
  EXPECT_EQ(reply.status, mq::v1::FLUSH_DISK_TIMEOUT);
  EXPECT_EQ(reply.broker_name, "broker-b");
  EXPECT_EQ(reply.queue_id, 3);
  EXPECT_EQ(reply.queue_offset, 100);
  ASSERT_EQ(reply.entries.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const auto& e = reply.entries[static_cast<size_t>(i)];
    EXPECT_EQ(e.msg_id, want.entries(i).msg_id());
    EXPECT_EQ(e.offset_msg_id, want.entries(i).offset_msg_id());
    EXPECT_EQ(e.queue_offset, 100 + i);
    EXPECT_EQ(e.commit_log_offset, 4096 * (i + 1));
    EXPECT_EQ(e.recall_handle, i == 1 ? "handle-1" : "");
  }
}

TEST(SendReplyTest, HandReaderReadsWhatProtobufWrites) {
  const std::string bytes = ThreeEntries().SerializeAsString();
  SendReply reply;
  ASSERT_TRUE(ReadSendReply(bytes, &reply));
  ExpectThreeEntries(reply);

  mq::v1::SendMessageResponse negative;
  negative.set_queue_id(-1);
  negative.set_queue_offset(-5);
  ASSERT_TRUE(ReadSendReply(negative.SerializeAsString(), &reply));
  EXPECT_EQ(reply.queue_id, -1);
  EXPECT_EQ(reply.queue_offset, -5);
  EXPECT_TRUE(reply.entries.empty());
}

TEST(SendReplyTest, SlicedRepliesAndUnknownFieldsDecodeAlike) {
  std::string bytes = ThreeEntries().SerializeAsString();
  for (size_t split : {size_t{0}, size_t{1}, bytes.size() / 2}) {
    SendReplyBuffer buffer;
    SendReply reply;
    ASSERT_TRUE(DecodeSendReply(BufferOf(bytes, split), &buffer, &reply).ok()) << split;
    ExpectThreeEntries(reply);
  }
  // A field a newer broker might add (number 99, varint): protobuf reads the rest.
  bytes += std::string("\x98\x06\x07", 3);
  SendReply reply;
  EXPECT_FALSE(ReadSendReply(bytes, &reply));
  SendReplyBuffer buffer;
  ASSERT_TRUE(DecodeSendReply(BufferOf(bytes, 0), &buffer, &reply).ok());
  ExpectThreeEntries(reply);
}

// Strings beyond ASCII are protobuf's to judge: UTF-8 is read, anything else refused.
TEST(SendReplyTest, NonAsciiStringsAreLeftToProtobuf) {
  auto utf8 = ThreeEntries();
  utf8.set_broker_name("broker-\xc3\xa9");
  SendReply reply;
  EXPECT_FALSE(ReadSendReply(utf8.SerializeAsString(), &reply));
  SendReplyBuffer buffer;
  ASSERT_TRUE(DecodeSendReply(BufferOf(utf8.SerializeAsString(), 0), &buffer, &reply).ok());
  EXPECT_EQ(reply.broker_name, "broker-\xc3\xa9");
  EXPECT_EQ(reply.entries.size(), 3u);

  auto broken = ThreeEntries();
  broken.mutable_entries(2)->mutable_msg_id()->push_back('\xff');
  std::string bytes;
  ASSERT_TRUE(broken.SerializePartialToString(&bytes));
  SendReplyBuffer buffer2;
  EXPECT_EQ(DecodeSendReply(BufferOf(bytes, 0), &buffer2, &reply).code(), StatusCode::kInternal);
}

TEST(SendReplyTest, BytesThatAreNoReplyAreAnError) {
  for (const std::string& bad : {std::string("\xff\xff\xff", 3), std::string("\x2a\x05\x0a", 3)}) {
    SendReplyBuffer buffer;
    SendReply reply;
    const Status s = DecodeSendReply(BufferOf(bad, 0), &buffer, &reply);
    EXPECT_EQ(s.code(), StatusCode::kInternal);
    EXPECT_NE(s.message().find("SendMessageResponse"), std::string::npos) << s.ToString();
  }
}

TEST(SendReplyTest, ResultsPerMessageAndForTheWholeRequest) {
  const std::string bytes = ThreeEntries().SerializeAsString();
  SendReply reply;
  ASSERT_TRUE(ReadSendReply(bytes, &reply));
  const MessageQueue queue{"T", "broker-a", 0};

  const BatchOutcome outcome(reply, queue, 3, /*attempts=*/2);
  ASSERT_EQ(outcome.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    auto each = outcome.At(i);
    ASSERT_TRUE(each.ok());
    EXPECT_EQ(each->status, SendStatus::kFlushDiskTimeout);
    EXPECT_EQ(each->queue.topic, "T");
    EXPECT_EQ(each->queue.broker_name, "broker-b");  // the broker's own name wins
    EXPECT_EQ(each->queue.queue_id, 3);
    EXPECT_EQ(each->msg_id, reply.entries[i].msg_id);
    EXPECT_EQ(each->offset_msg_id, reply.entries[i].offset_msg_id);
    EXPECT_EQ(each->queue_offset, 100 + static_cast<int64_t>(i));
    EXPECT_EQ(each->msg_ids, std::vector<std::string>{std::string(reply.entries[i].msg_id)});
    EXPECT_EQ(each->attempts, 2);
  }
  EXPECT_EQ(outcome.At(1)->recall_handle, "handle-1");
  EXPECT_EQ(outcome.At(0)->recall_handle, "");
  // Fewer entries than messages (a broker that answers one entry): the rest get the header.
  const BatchOutcome more(reply, queue, 4, 1);
  ASSERT_TRUE(more.At(3).ok());
  EXPECT_TRUE(more.At(3)->msg_id.empty());
  EXPECT_EQ(more.At(3)->status, SendStatus::kFlushDiskTimeout);
  // A failed request: the same error for every message.
  const BatchOutcome failed(Status::Unavailable("broker-b down"), 2);
  EXPECT_EQ(failed.size(), 2u);
  EXPECT_EQ(failed.At(1).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(failed.At(1).status().message(), "broker-b down");

  SendResult whole = SendResultOf(reply, queue);
  EXPECT_EQ(whole.msg_id, reply.entries[0].msg_id);
  EXPECT_EQ(whole.offset_msg_id, reply.entries[0].offset_msg_id);
  EXPECT_EQ(whole.queue_offset, 100);
  ASSERT_EQ(whole.msg_ids.size(), 3u);
  EXPECT_EQ(whole.msg_ids[2], reply.entries[2].msg_id);

  SendReply empty;
  ASSERT_TRUE(ReadSendReply("", &empty));
  EXPECT_EQ(SendResultOf(empty, queue).status, SendStatus::kSendOk);
  EXPECT_TRUE(SendResultOf(empty, queue).msg_ids.empty());
}

}  // namespace
}  // namespace mq::client
