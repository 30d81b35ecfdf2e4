#include "broker/timer/timer_message.h"

#include <gtest/gtest.h>

namespace mq::broker::timer {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

store::MessageInput Input(std::map<std::string, std::string> props = {}) {
  store::MessageInput in;
  in.topic = "T";
  in.queue_id = 3;
  in.body = "b";
  in.properties = std::move(props);
  in.properties["UNIQ_KEY"] = "U1";
  return in;
}

TEST(TimerMessageTest, DeliveryTimeFromFieldAndProperties) {
  TimerPolicy p;
  EXPECT_EQ(*RequestedDeliverMs(Input(), 0, kNow, p, 0), 0);
  EXPECT_EQ(*RequestedDeliverMs(Input(), kNow + 5000, kNow, p, 0), kNow + 5000);
  EXPECT_EQ(*RequestedDeliverMs(Input({{"TIMER_DELIVER_MS", std::to_string(kNow + 7)}}), 0, kNow, p, 0),
            kNow + 7);
  EXPECT_EQ(*RequestedDeliverMs(Input({{"__STARTDELIVERTIME", std::to_string(kNow + 9)}}), 0, kNow, p, 0),
            kNow + 9);
  EXPECT_EQ(*RequestedDeliverMs(Input({{"TIMER_DELAY_SEC", "3"}}), 0, kNow, p, 0), kNow + 3000);
  EXPECT_EQ(*RequestedDeliverMs(Input({{"TIMER_DELAY_MS", "250"}}), 0, kNow, p, 0), kNow + 250);
  // A time in the past (or now) is delivered at once: nothing to schedule.
  EXPECT_EQ(*RequestedDeliverMs(Input(), kNow - 1, kNow, p, 0), 0);
  EXPECT_EQ(*RequestedDeliverMs(Input({{"TIMER_DELAY_SEC", "0"}}), 0, kNow, p, 0), 0);
}

TEST(TimerMessageTest, BadOrTooFarTimesNameTheField) {
  TimerPolicy p;
  p.max_delay_sec = 60;
  auto far = RequestedDeliverMs(Input(), kNow + 61'000, kNow, p, 2);
  ASSERT_FALSE(far.ok());
  EXPECT_EQ(far.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(far.status().message().find("messages[2].deliver_time_ms"), std::string::npos);
  EXPECT_NE(far.status().message().find("timerMaxDelaySec=60"), std::string::npos);
  EXPECT_TRUE(RequestedDeliverMs(Input(), kNow + 60'000, kNow, p, 0).ok());
  auto bad = RequestedDeliverMs(Input({{"TIMER_DELIVER_MS", "soon"}}), 0, kNow, p, 0);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("messages[0].properties[TIMER_DELIVER_MS]"), std::string::npos);
  EXPECT_FALSE(RequestedDeliverMs(Input({{"TIMER_DELAY_SEC", "-5"}}), 0, kNow, p, 0).ok());
  EXPECT_FALSE(RequestedDeliverMs(Input(), -1, kNow, p, 0).ok());
  p.enabled = false;
  auto off = RequestedDeliverMs(Input(), kNow + 1000, kNow, p, 0);
  ASSERT_FALSE(off.ok());
  EXPECT_NE(off.status().message().find("timerWheelEnable"), std::string::npos);
}

TEST(TimerMessageTest, SlotsAreNeverEarly) {
  // Slot s holds (s, s + 1000]: delivered at s + 1000 >= the delivery time.
  EXPECT_EQ(SlotOf(5000, 1000), 4000);
  EXPECT_EQ(SlotOf(5001, 1000), 5000);
  EXPECT_EQ(SlotOf(5999, 1000), 5000);
  EXPECT_EQ(SlotOf(6000, 1000), 5000);
  for (int64_t t = 1; t < 5000; t += 37) {
    const int64_t s = SlotOf(t, 100);
    EXPECT_LT(s, t);
    EXPECT_GE(s + 100, t);
  }
}

TEST(TimerMessageTest, ParkAndRestoreRoundTrip) {
  store::MessageInput in = Input({{"k", "v"}, {"TIMER_DELAY_SEC", "1"}});
  ParkInTimerTopic(&in, kNow + 10, kNow);
  EXPECT_EQ(in.properties.count("TIMER_DELAY_SEC"), 0u);  // spent: a re-send is not delayed again
  EXPECT_EQ(in.topic, kTimerTopic);
  EXPECT_EQ(in.queue_id, 0);
  EXPECT_EQ(in.properties["REAL_TOPIC"], "T");
  EXPECT_EQ(in.properties["REAL_QID"], "3");
  EXPECT_EQ(in.properties["TIMER_OUT_MS"], std::to_string(kNow + 10));
  store::StoredMessage parked;
  parked.topic = in.topic;
  parked.body = in.body;
  parked.properties = in.properties;
  auto out = RestoreForDelivery(parked, kNow + 11);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->topic, "T");
  EXPECT_EQ(out->queue_id, 3);
  EXPECT_EQ(out->properties.count("REAL_TOPIC"), 0u);
  EXPECT_EQ(out->properties["k"], "v");
  EXPECT_EQ(out->properties["UNIQ_KEY"], "U1");
  parked.properties.erase("REAL_QID");
  EXPECT_FALSE(RestoreForDelivery(parked, kNow).ok());
}

TEST(TimerMessageTest, RecallHandleRoundTripAndGarbage) {
  RecallHandle h{"TopicA", "broker-a", kNow + 5, "ABCDEF0123"};
  const std::string enc = EncodeRecallHandle(h);
  EXPECT_EQ(enc.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
  auto dec = DecodeRecallHandle(enc);
  ASSERT_TRUE(dec.ok()) << dec.status().ToString();
  EXPECT_EQ(dec->topic, "TopicA");
  EXPECT_EQ(dec->broker_name, "broker-a");
  EXPECT_EQ(dec->deliver_ms, kNow + 5);
  EXPECT_EQ(dec->uniq_key, "ABCDEF0123");
  for (const char* bad : {"", "!!!", "djE=", "djEgYSBiIGMgZCBl"}) {
    auto r = DecodeRecallHandle(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_FALSE(DecodeRecallHandle(std::string(2000, 'A')).ok());
}

// A client chooses the id (v2 message_id, v1 unique_key): spaces and non-ASCII text are ids too.
TEST(TimerMessageTest, RecallHandleKeepsAKeyWithSpacesAndUtf8) {
  for (const std::string& key :
       std::vector<std::string>{"order 42", " lead", "trail ", "caf\xc3\xa9 #1", std::string(128, 'K')}) {
    auto dec = DecodeRecallHandle(EncodeRecallHandle(RecallHandle{"TopicA", "broker-a", kNow, key}));
    ASSERT_TRUE(dec.ok()) << key << ": " << dec.status().ToString();
    EXPECT_EQ(dec->uniq_key, key);
    EXPECT_EQ(dec->deliver_ms, kNow);
  }
}

// A handle is echoed back (its key as RecallMessageResponse.message_id, a proto3 string): fields
// that no broker issues, such as invalid UTF-8 from a damaged handle, are refused naming the field.
TEST(TimerMessageTest, RecallHandleFieldsNoBrokerIssuesAreRefusedNamingTheField) {
  const struct {
    RecallHandle handle;
    const char* field;
  } cases[] = {
      {{"Topic\xff", "broker-a", kNow, "ABC"}, "handle.topic"},
      {{"Topic A", "broker-a", kNow, "ABC"}, "handle.deliver_ms"},  // fields shifted by a space
      {{"TopicA", "broker/a", kNow, "ABC"}, "handle.broker_name"},
      {{"TopicA", "broker-a", kNow, "AB\xc3\x28"}, "handle.uniq_key"},
      {{"TopicA", "broker-a", kNow, std::string{'A', 'B', '\x01', 'C'}}, "handle.uniq_key"},
      {{"TopicA", "broker-a", kNow, std::string(129, 'K')}, "handle.uniq_key"},
  };
  for (const auto& c : cases) {
    auto r = DecodeRecallHandle(EncodeRecallHandle(c.handle));
    ASSERT_FALSE(r.ok()) << c.field;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message().rfind(std::string(c.field) + ":", 0), 0u) << r.status().ToString();
  }
}

}  // namespace
}  // namespace mq::broker::timer
