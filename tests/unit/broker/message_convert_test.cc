#include "broker/processor/message_convert.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

namespace mq::broker {
namespace {

// Keys are looked up as views into the wire bytes, not as strings of their own.
TEST(MessageConvertTest, ReservedPropertyKeysAreTheSystemOnesAndRocketMqsOthers) {
  for (const char* key : {"UNIQ_KEY", "KEYS", "TAGS", "DELAY", "TIMER_DELIVER_MS", "__CRC32C", "POP_CK",
                          "TIMER_OUT_MS", "__STARTDELIVERTIME", "CHECK_IMMUNITY_TIME_IN_SECONDS"}) {
    EXPECT_TRUE(IsReservedPropertyKey(key)) << key;
  }
  for (const char* key : {"", "order", "uniq_key", "UNIQ_KE", "UNIQ_KEYS", "bench_send_us"}) {
    EXPECT_FALSE(IsReservedPropertyKey(key)) << key;
  }
  const std::string wire = "UNIQ_KEY\001abc\002TAGSX";
  EXPECT_TRUE(IsReservedPropertyKey(std::string_view(wire).substr(0, 8)));
  EXPECT_TRUE(IsReservedPropertyKey(std::string_view(wire).substr(13, 4)));
  EXPECT_FALSE(IsReservedPropertyKey(std::string_view(wire).substr(13, 5)));
  EXPECT_TRUE(record::IsSystemPropertyKey("UNIQ_KEY"));
  EXPECT_FALSE(record::IsSystemPropertyKey("POP_CK")) << "reserved by the broker, not a system property";
}

TEST(MessageConvertTest, HostAddresses) {
  auto h = ParseHostAddress("10.0.0.5:10911");
  EXPECT_EQ(h.ip, 0x0A000005u);
  EXPECT_EQ(h.port, 10911u);
  EXPECT_EQ(FormatHostAddress(h), "10.0.0.5:10911");
  EXPECT_EQ(ParseHostAddress("not an address").ip, 0u);
  EXPECT_EQ(PeerHostPort("ipv4:127.0.0.1:5000"), "127.0.0.1:5000");
}

// Anything but an IPv4 address with a port from 1 to 65535 is no address (0.0.0.0:0): an
// empty born host, host names, IPv6 and broken ports.
TEST(MessageConvertTest, ABornHostThatIsNoIpv4AddressWithAPortIsZero) {
  for (std::string_view bad : {"", ":", ":80", "10.0.0.5", "10.0.0.5:", "10.0.0.5:0", "10.0.0.5:65536",
                               "10.0.0.5:80x", "10.0.0.5:-1", "10.0.0.256:80", "host.example:80", "[::1]:80",
                               "::1:80", "1234567890.1234567890.1:80"}) {
    auto h = ParseHostAddress(bad);
    EXPECT_EQ(h.ip, 0u) << bad;
    EXPECT_EQ(h.port, 0u) << bad;
  }
  auto h = ParseHostAddress("255.255.255.255:65535");
  EXPECT_EQ(h.ip, 0xFFFFFFFFu);
  EXPECT_EQ(h.port, 65535u);
}

TEST(MessageConvertTest, RoundTripThroughTheRecordFormat) {
  mq::v1::Message m;
  m.set_body("payload");
  m.set_tags("TagA");
  m.add_keys("k1");
  m.add_keys("k2");
  (*m.mutable_user_properties())["color"] = "blue";
  m.set_born_timestamp(1234);
  m.set_born_host("10.0.0.9:4000");
  auto input = ToMessageInput(&m, "Topic", 3, "UNIQ123");
  std::string record;
  ASSERT_TRUE(store::EncodeMessage(input, {0x7F000001, 10911}, &record).ok());
  store::FinalizeRecord(record.data(), static_cast<int32_t>(record.size()), 7, 4096, 99);
  mq::v1::MessageExt ext;
  ASSERT_TRUE(ToMessageExt(record, "broker-a", &ext).ok());
  EXPECT_EQ(ext.message().topic(), "Topic");
  EXPECT_EQ(ext.message().body(), "payload");
  EXPECT_EQ(ext.message().tags(), "TagA");
  ASSERT_EQ(ext.message().keys_size(), 2);
  EXPECT_EQ(ext.message().keys(1), "k2");
  EXPECT_EQ(ext.message().user_properties().at("color"), "blue");
  EXPECT_EQ(ext.message().user_properties().count("TAGS"), 0u);
  EXPECT_EQ(ext.system_properties().at("UNIQ_KEY"), "UNIQ123");
  EXPECT_EQ(ext.msg_id(), "UNIQ123");
  EXPECT_EQ(ext.queue_id(), 3);
  EXPECT_EQ(ext.queue_offset(), 7);
  EXPECT_EQ(ext.commit_log_offset(), 4096);
  EXPECT_EQ(ext.store_timestamp(), 99);
  EXPECT_EQ(ext.message().born_host(), "10.0.0.9:4000");
  EXPECT_EQ(ext.store_host(), "127.0.0.1:10911");
  EXPECT_EQ(ext.broker_name(), "broker-a");
  EXPECT_FALSE(ToMessageExt("garbage", "b", &ext).ok());
}

}  // namespace
}  // namespace mq::broker

namespace mq::broker {
namespace {

TEST(MessageConvertTest, HostAddressesAtTheEdges) {
  EXPECT_EQ(FormatHostAddress({0, 0}), "0.0.0.0:0");
  EXPECT_EQ(FormatHostAddress({0xFFFFFFFFu, 65535}), "255.255.255.255:65535");
  EXPECT_EQ(FormatHostAddress({0x7F000001u, 10911}), "127.0.0.1:10911");
}

// Pulls convert straight from the record; admin tools from a StoredMessage: same answer.
TEST(MessageConvertTest, RecordAndStoredMessageGiveTheSameMessageExt) {
  mq::v1::Message m;
  m.set_body("payload");
  m.set_tags("TagA");
  m.add_keys("k1");
  (*m.mutable_user_properties())["color"] = "blue";
  auto input = ToMessageInput(&m, "Topic", 3, "UNIQ123");
  input.properties["DELAY"] = "3";
  std::string record;
  ASSERT_TRUE(store::EncodeMessage(input, {0x7F000001, 10911}, &record).ok());
  store::FinalizeRecord(record.data(), static_cast<int32_t>(record.size()), 7, 4096, 99);
  mq::v1::MessageExt from_record;
  ASSERT_TRUE(ToMessageExt(record, "broker-a", &from_record).ok());
  auto view = store::DecodeRecord(record, /*verify_crc=*/true);
  ASSERT_TRUE(view.ok());
  mq::v1::MessageExt from_stored;
  ToMessageExt(store::ToStoredMessage(*view, record), "broker-a", &from_stored);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(from_record, from_stored))
      << from_record.DebugString() << "\n"
      << from_stored.DebugString();
  EXPECT_EQ(from_record.system_properties().count("__CRC32C"), 0u);
  EXPECT_EQ(from_record.system_properties().at("DELAY"), "3");
}

}  // namespace
}  // namespace mq::broker
