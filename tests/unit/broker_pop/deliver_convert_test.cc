// The v2 delivery conversion (every field the Node SDK reads, MD5 digest in uppercase hex,
// system properties hidden) and the PopService error -> v2 Code table.
#include "broker/v2/deliver_convert.h"

#include <gtest/gtest.h>

#include "broker/v2/consumer_service.h"

namespace mq::broker::v2 {
namespace {

namespace pb = apache::rocketmq::v2;

pop::PoppedMessage Popped() {
  pop::PoppedMessage p;
  store::StoredMessage& m = p.message;
  m.topic = "T";
  m.body = "hello";
  m.properties = {{"TAGS", "TagA"}, {"KEYS", "k1 k2"},       {"UNIQ_KEY", "ID1"},
                  {"color", "red"}, {"__SHARDINGKEY", "g1"}, {"RECONSUME_TIME", "1"}};
  m.header.born_timestamp = 1700000000123;
  m.header.born_host = {0x7F000001, 5555};
  m.header.store_timestamp = 1700000000456;
  m.header.store_host = {0x0A000002, 10911};
  m.header.physical_offset = 4096;
  p.queue_id = 2;
  p.queue_offset = 7;
  p.delivery_attempt = 3;
  p.receipt_handle = "handle";
  p.invisible_ms = 15000;
  return p;
}

TEST(DeliverConvertTest, FillsWhatTheSdkReads) {
  pb::Message out;
  ToV2Message(Popped(), "", &out);
  const auto& sys = out.system_properties();
  EXPECT_EQ(out.topic().name(), "T");
  EXPECT_EQ(out.body(), "hello");
  EXPECT_EQ(sys.message_id(), "ID1");
  EXPECT_EQ(sys.tag(), "TagA");
  ASSERT_EQ(sys.keys_size(), 2);
  EXPECT_EQ(sys.keys(1), "k2");
  EXPECT_EQ(sys.body_digest().type(), pb::DigestType::MD5);
  EXPECT_EQ(sys.body_digest().checksum(), "5D41402ABC4B2A76B9719D911017C592");  // md5("hello")
  EXPECT_EQ(sys.body_encoding(), pb::Encoding::IDENTITY);
  EXPECT_EQ(sys.message_type(), pb::MessageType::FIFO);
  EXPECT_EQ(sys.message_group(), "g1");
  EXPECT_EQ(sys.born_host(), "127.0.0.1");
  EXPECT_EQ(sys.store_host(), "10.0.0.2:10911");
  EXPECT_EQ(sys.born_timestamp().seconds(), 1700000000);
  EXPECT_EQ(sys.queue_id(), 2);
  EXPECT_EQ(sys.queue_offset(), 7);
  EXPECT_EQ(sys.delivery_attempt(), 3);
  EXPECT_EQ(sys.receipt_handle(), "handle");
  EXPECT_EQ(sys.invisible_duration().seconds(), 15);
  EXPECT_FALSE(sys.has_delivery_timestamp());
  ASSERT_EQ(out.user_properties_size(), 1);
  EXPECT_EQ(out.user_properties().at("color"), "red");
}

TEST(DeliverConvertTest, ScheduledAndIdLessMessages) {
  pop::PoppedMessage p = Popped();
  p.message.properties = {{"TIMER_DELIVER_MS", "1700000009000"}};
  pb::Message out;
  ToV2Message(p, "", &out);
  EXPECT_EQ(out.system_properties().message_type(), pb::MessageType::DELAY);
  EXPECT_EQ(out.system_properties().delivery_timestamp().seconds(), 1700000009);
  EXPECT_EQ(out.system_properties().message_id().size(), 32u);  // the offset message id
  EXPECT_FALSE(out.system_properties().has_tag());
}

// The timer re-puts a due message with the time in TIMER_OUT_MS only (TIMER_DELIVER_MS is the
// sender's request and is gone by then): the SDK must still see a DELAY message and its time.
TEST(DeliverConvertTest, MessageDeliveredByTheTimerKeepsItsDeliveryTimestamp) {
  pop::PoppedMessage p = Popped();
  p.message.properties = {{"UNIQ_KEY", "ID1"}, {"TIMER_OUT_MS", "1700000009000"}, {"TIMER_ENQUEUE_MS", "1"}};
  pb::Message out;
  ToV2Message(p, "", &out);
  EXPECT_EQ(out.system_properties().message_type(), pb::MessageType::DELAY);
  EXPECT_EQ(out.system_properties().delivery_timestamp().seconds(), 1700000009);
  EXPECT_TRUE(out.user_properties().empty());
}

TEST(DeliverConvertTest, DeliversTheBareTopicOfANamespace) {
  pop::PoppedMessage p = Popped();
  p.message.topic = "ns1%T";
  pb::Message out;
  ToV2Message(p, "ns1", &out);
  EXPECT_EQ(out.topic().name(), "T");
  EXPECT_EQ(out.topic().resource_namespace(), "ns1");
}

TEST(DeliverConvertTest, MapsPopErrorsToV2Codes) {
  EXPECT_EQ(ToV2Code(Status::NotFound("topic: 'x' does not exist")), pb::Code::TOPIC_NOT_FOUND);
  EXPECT_EQ(ToV2Code(Status::NotFound("consumer_group: no")), pb::Code::CONSUMER_GROUP_NOT_FOUND);
  EXPECT_EQ(ToV2Code(Status::NotFound("receipt_handle: stale")), pb::Code::INVALID_RECEIPT_HANDLE);
  EXPECT_EQ(ToV2Code(Status::InvalidArgument("receipt_handle: damaged")), pb::Code::INVALID_RECEIPT_HANDLE);
  EXPECT_EQ(ToV2Code(Status::InvalidArgument("filter_expression: bad")), pb::Code::ILLEGAL_FILTER_EXPRESSION);
  EXPECT_EQ(ToV2Code(Status::FailedPrecondition("filter_expression: SQL92 off")),
            pb::Code::ILLEGAL_FILTER_EXPRESSION);
  EXPECT_EQ(ToV2Code(Status::ResourceExhausted("pop: too many")), pb::Code::TOO_MANY_REQUESTS);
  EXPECT_EQ(ToV2Code(Status::PermissionDenied("broker: slave")), pb::Code::FORBIDDEN);
  EXPECT_EQ(ToV2Code(Status::Unavailable("store")), pb::Code::INTERNAL_SERVER_ERROR);
}

}  // namespace
}  // namespace mq::broker::v2
