// The hand-written wire form of auto-batched sends must parse, with protobuf's own parser, to
// exactly the request the typed path builds (ToProto), or the broker would store something else.
#include "send_wire.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "convert.h"
#include "mq/v1/broker.pb.h"

namespace mq::client {
namespace {

Message Sample(int i) {
  Message m = MakeMessage("T", std::string(static_cast<size_t>(100 + 300 * i), static_cast<char>('a' + i)));
  if (i % 2 == 0) m.tags = "TagA";
  if (i == 1) m.keys = {"k1", "", "k3"};
  if (i > 0) m.properties = {{"p", "v"}, {"empty", ""}, {std::string(200, 'x'), std::string(300, 'y')}};
  if (i == 2) m.delay_level = 3;
  if (i == 3) m.deliver_time_ms = int64_t{1} << 41;
  return m;
}

TEST(SendWireTest, ParsesToTheRequestTheTypedPathBuilds) {
  std::string wire;
  mq::v1::SendMessageRequest expected;
  for (int i = 0; i < 4; ++i) {
    const std::string key = "UNIQ" + std::to_string(i);
    const int64_t born = 1700000000000 + i;
    AppendMessageField(Sample(i), key, born, &wire);
    auto* m = expected.add_messages();
    ToProto(Sample(i), key, m);
    m->clear_topic();  // the request names it once
    m->set_born_timestamp(born);
  }
  expected.set_producer_group("G");
  expected.set_topic("T");
  expected.set_queue_id(300);
  expected.set_default_topic_queue_nums(4);
  expected.set_transaction_prepared(true);
  wire = EncodeSendRequestHeader("G", "T", 300, 4, true) + wire;

  mq::v1::SendMessageRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  std::string diff;
  google::protobuf::util::MessageDifferencer differ;
  differ.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differ.Compare(expected, parsed)) << diff;
}

TEST(SendWireTest, ZeroQueueIdAndEmptyGroupAreLeftOutAsProtobufDoes) {
  mq::v1::SendMessageRequest req;
  req.set_topic("T");
  EXPECT_EQ(EncodeSendRequestHeader("", "T", 0, 0, false), req.SerializeAsString());
}

TEST(SendWireTest, RequestMessagesGetNewKeysAndTheProducersChecks) {
  auto wire = EncodeRequestMessages({Sample(0), Sample(1)}, 4096, 1700000000000);
  ASSERT_TRUE(wire.ok()) << wire.status().ToString();
  mq::v1::SendMessageRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(*wire));
  ASSERT_EQ(parsed.messages_size(), 2);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(parsed.messages(i).body(), Sample(i).body);
    EXPECT_EQ(parsed.messages(i).unique_key().size(), 32u);
    EXPECT_EQ(parsed.messages(i).born_timestamp(), 1700000000000);
  }
  EXPECT_NE(parsed.messages(0).unique_key(), parsed.messages(1).unique_key());

  Message other = Sample(1);
  other.topic = "U";
  auto mixed = EncodeRequestMessages({Sample(0), other}, 4096, 1);
  EXPECT_EQ(mixed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(mixed.status().message().find("topic"), std::string::npos);
  // 100 + 400 body bytes: each within 450, together not.
  auto large = EncodeRequestMessages({Sample(0), Sample(1)}, 450, 1);
  EXPECT_EQ(large.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(large.status().message().find("batch of 500 bytes"), std::string::npos)
      << large.status().ToString();
  auto empty = EncodeRequestMessages({MakeMessage("T", "")}, 4096, 1);
  EXPECT_NE(empty.status().message().find("body"), std::string::npos);
}

}  // namespace
}  // namespace mq::client
