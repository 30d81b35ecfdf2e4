// Node.js SDK consumers (SimpleConsumer and PushConsumer) against a real broker: ack, invisible-time
// redelivery, changeInvisibleDuration, tag filter, push success and failure -> redelivery.
#include <map>

#include "compat_fixture.h"

namespace mq::testing {
namespace {

class CompatConsumerTest : public CompatTest {
 protected:
  void SetUp() override {
    CompatTest::SetUp();
    if (IsSkipped()) return;
    StartCluster();
  }

  // Sends `count` normal messages to `topic` and returns their ids.
  std::vector<std::string> Produce(const std::string& topic, int count, const std::string& tags = "") {
    std::vector<std::string> args = {"--topic", topic, "--count", std::to_string(count)};
    if (!tags.empty()) args.insert(args.end(), {"--tags", tags});
    auto producer = RunOk("producer.js", args);
    return producer->Ids("sent");
  }
};

TEST_F(CompatConsumerTest, UnackedMessageIsRedeliveredAfterInvisibleTime) {
  auto sent = Produce("CompatRedeliver", 3);
  ASSERT_EQ(sent.size(), 3u);
  auto consumer =
      RunOk("simple_consumer.js", {"--topic", "CompatRedeliver", "--group", "GidRedeliver", "--mode",
                                   "redeliver", "--invisible-ms", "1000", "--expect", "3"});
  std::map<std::string, std::vector<int>> attempts;
  for (const auto& ev : consumer->Events("received")) attempts[ev.Str("id")].push_back(ev.Num("attempt"));
  ASSERT_EQ(attempts.size(), 3u) << consumer->Describe();
  for (const auto& id : sent) EXPECT_EQ(attempts[id], (std::vector<int>{1, 2})) << id;
  EXPECT_EQ(AsSet(consumer->Ids("acked")), AsSet(sent));
}

TEST_F(CompatConsumerTest, ChangeInvisibleDurationGivesNewHandleAndControlsRedelivery) {
  auto sent = Produce("CompatChange", 2);
  // Received with 30 s invisibility; changeInvisibleDuration(1 s) brings it back as attempt 2.
  auto consumer = RunOk("simple_consumer.js",
                        {"--topic", "CompatChange", "--group", "GidChange", "--mode", "change-invisible",
                         "--invisible-ms", "30000", "--change-ms", "1000", "--expect", "2"});
  std::map<std::string, std::vector<int>> attempts;
  for (const auto& ev : consumer->Events("received")) attempts[ev.Str("id")].push_back(ev.Num("attempt"));
  for (const auto& id : sent) EXPECT_EQ(attempts[id], (std::vector<int>{1, 2})) << consumer->Describe();
  auto changed = consumer->Events("changed");
  EXPECT_EQ(changed.size(), 4u);  // 1 s after attempt 1, 30 s before the ack of attempt 2
  for (const auto& ev : changed) {
    EXPECT_FALSE(ev.Str("new_handle").empty());
    EXPECT_NE(ev.Str("new_handle"), ev.Str("old_handle"));
  }
  EXPECT_EQ(AsSet(consumer->Ids("acked")), AsSet(sent));
}

TEST_F(CompatConsumerTest, TagFilterDeliversOnlyMatchingTags) {
  auto producer = RunOk("producer.js", {"--topic", "CompatTag", "--count", "12", "--tags", "TagA,TagB,TagC"});
  std::set<std::string> tag_a;
  for (const auto& ev : producer->Events("sent")) {
    if (ev.Str("tag") == "TagA") tag_a.insert(ev.Str("id"));
  }
  ASSERT_EQ(tag_a.size(), 4u);
  auto consumer = RunOk("simple_consumer.js", {"--topic", "CompatTag", "--group", "GidTag", "--tag", "TagA",
                                               "--expect", "4", "--idle-ms", "1500"});
  EXPECT_EQ(AsSet(consumer->Ids("received")), tag_a) << consumer->Describe();
  for (const auto& ev : consumer->Events("received")) EXPECT_EQ(ev.Str("tag"), "TagA");
}

TEST_F(CompatConsumerTest, PushConsumerConsumesEveryMessage) {
  auto sent = Produce("CompatPush", 10);
  auto consumer = RunOk("push_consumer.js", {"--topic", "CompatPush", "--group", "GidPush", "--expect", "10",
                                             "--idle-ms", "1000"});
  EXPECT_EQ(AsSet(consumer->Ids("consumed")), AsSet(sent));
  EXPECT_EQ(consumer->Events("received").size(), 10u) << consumer->Describe();  // acked: no redelivery
}

TEST_F(CompatConsumerTest, PushConsumerFailureIsRedelivered) {
  auto sent = Produce("CompatPushFail", 3);
  auto consumer = RunOk("push_consumer.js", {"--topic", "CompatPushFail", "--group", "GidPushFail", "--mode",
                                             "fail-once", "--expect", "3", "--idle-ms", "1000"});
  std::map<std::string, std::vector<int>> attempts;
  for (const auto& ev : consumer->Events("received")) attempts[ev.Str("id")].push_back(ev.Num("attempt"));
  for (const auto& id : sent) EXPECT_EQ(attempts[id], (std::vector<int>{1, 2})) << consumer->Describe();
  EXPECT_EQ(AsSet(consumer->Ids("consumed")), AsSet(sent));
}

TEST_F(CompatConsumerTest, StartupWithFourTopicsDoesNotHang) {
  // The 1.0.8 SDK loses a Settings reply that arrives before its last QueryRoute; the broker
  // re-sends Settings. Without that, start-up hangs for 5 minutes (the scenario gives it 8 s).
  auto run = RunOk("startup.js", {"--topics", "CompatS1,CompatS2,CompatS3,CompatS4", "--group", "GidStartup",
                                  "--startup-timeout-ms", "8000"});
  EXPECT_EQ(run->Events("started").size(), 2u);
  EXPECT_EQ(AsSet(run->Ids("received")), AsSet(run->Ids("sent")));
  EXPECT_EQ(run->Ids("sent").size(), 4u);
}

TEST_F(CompatConsumerTest, CleanShutdownLeavesBrokerServing) {
  auto first = RunOk("producer.js", {"--topic", "CompatShutdown", "--count", "1"});
  auto consumer =
      RunOk("simple_consumer.js", {"--topic", "CompatShutdown", "--group", "GidShutdown", "--expect", "1"});
  // exit 0 after shutdown() resolved (NotifyClientTermination answered, Telemetry closed cleanly).
  EXPECT_EQ(first->Events("shutdown").size(), 1u);
  EXPECT_EQ(consumer->Events("shutdown").size(), 1u);
  EXPECT_TRUE(consumer->Events("crash").empty());
  // The broker still serves new v2 clients afterwards.
  auto again = RunOk("producer.js", {"--topic", "CompatShutdown", "--count", "1", "--prefix", "again"});
  EXPECT_EQ(again->Ids("sent").size(), 1u);
}

TEST_F(CompatConsumerTest, OversizedBodyIsRejectedWithPayloadTooLarge) {
  // The fixture broker's maxMessageSize is 1 MiB; the SDK's own limit (4 MiB) lets 2 MiB through.
  auto run = RunOk("bad_input.js", {"--topic", "CompatBig", "--case", "oversized", "--body-size", "2097152"});
  EXPECT_EQ(run->Events("rejected").size(), 1u);
  EXPECT_EQ(run->Ids("sent").size(), 1u);
}

class CompatNoAutoCreateTest : public CompatTest {
 protected:
  std::vector<std::string> ExtraBrokerSettings() const override { return {"autoCreateTopicEnable=false"}; }
  void SetUp() override {
    CompatTest::SetUp();
    if (IsSkipped()) return;
    StartCluster();
  }
};

TEST_F(CompatNoAutoCreateTest, UnknownTopicIsTopicNotFound) {
  // Start-up with an unknown topic retries QueryRoute 3 times (1 s + 2 s backoff in the SDK).
  auto run = RunOk("bad_input.js", {"--topic", "CompatNoSuchTopic", "--case", "unknown-topic"});
  EXPECT_EQ(run->Events("rejected").size(), 2u) << run->Describe();
}

}  // namespace
}  // namespace mq::testing
