// Our C++ client (mq.v1 via the NameServer) and the Node.js SDK (apache.rocketmq.v2 on the
// broker's gRPC port) on the same topics of one broker, in both directions.
#include <mutex>

#include "compat_fixture.h"
#include "mq/client/producer.h"
#include "mq/client/push_consumer.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

class CompatMixedTest : public CompatTest {
 protected:
  void SetUp() override {
    CompatTest::SetUp();
    if (IsSkipped()) return;
    StartCluster();
  }
  mq::client::ClientOptions ClientOpts() {
    mq::client::ClientOptions c;
    c.namesrv_addrs = {namesrv().address()};
    c.route_refresh_ms = 1000;
    return c;
  }
};

TEST_F(CompatMixedTest, NodeProducerToCppPushConsumer) {
  auto producer = RunOk("producer.js", {"--topic", "CompatMixedN2C", "--count", "10", "--tags", "TagN"});
  std::map<std::string, std::string> sent;  // body -> Node message id
  for (const auto& ev : producer->Events("sent")) sent[ev.Str("body")] = ev.Str("id");
  ASSERT_EQ(sent.size(), 10u);

  mq::client::PushConsumerOptions options;
  options.client = ClientOpts();
  options.group = "CppFromNode";
  options.consume_from_where = mq::client::ConsumeFromWhere::kFirstOffset;
  options.rebalance_interval_ms = 1000;
  mq::client::PushConsumer consumer(options);
  ASSERT_TRUE(consumer.Subscribe("CompatMixedN2C", "TagN").ok());
  std::mutex mu;
  std::map<std::string, mq::client::ReceivedMessage> got;  // body -> message
  consumer.RegisterListener([&](const std::vector<mq::client::ReceivedMessage>& msgs) {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& m : msgs) got.emplace(m.message.body, m);
    return mq::client::ConsumeResult::kSuccess;
  });
  ASSERT_TRUE(consumer.Start().ok());
  EXPECT_TRUE(WaitUntil(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return got.size() >= sent.size();
      },
      std::chrono::seconds(15)));
  consumer.Shutdown();
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(got.size(), sent.size());
  for (const auto& [body, id] : sent) {
    ASSERT_TRUE(got.count(body)) << body;
    EXPECT_EQ(got[body].message.tags, "TagN");
    EXPECT_EQ(got[body].msg_id, id) << "the Node message id is the message's unique key";
  }
}

TEST_F(CompatMixedTest, CppProducerToNodeSimpleConsumer) {
  CreateTopicAndWaitForRoute("CompatMixedC2N");
  mq::client::ProducerOptions options;
  options.client = ClientOpts();
  options.group = "CppToNode";
  mq::client::Producer producer(options);
  auto started = producer.Start();
  ASSERT_TRUE(started.ok()) << started.ToString();
  std::map<std::string, std::string> sent;  // body -> msg id
  for (int i = 0; i < 5; ++i) {
    auto msg = mq::client::MakeMessage("CompatMixedC2N", "from-cpp-" + std::to_string(i), "TagC");
    msg.properties["origin"] = "cpp";
    auto result = producer.Send(msg);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    sent[msg.body] = result->msg_id;
  }
  producer.Shutdown();

  auto consumer = RunOk("simple_consumer.js", {"--topic", "CompatMixedC2N", "--group", "NodeFromCpp",
                                               "--expect", "5", "--idle-ms", "500"});
  auto received = consumer->Events("received");
  ASSERT_EQ(received.size(), 5u) << consumer->Describe();
  for (const auto& ev : received) {
    const std::string body = ev.Str("body");
    ASSERT_TRUE(sent.count(body)) << body;
    EXPECT_EQ(ev.Str("id"), sent[body]);
    EXPECT_EQ(ev.Str("tag"), "TagC");
    auto props = ev.fields.fields().find("properties");
    ASSERT_NE(props, ev.fields.fields().end());
    auto origin = props->second.struct_value().fields().find("origin");
    ASSERT_NE(origin, props->second.struct_value().fields().end()) << "user property lost";
    EXPECT_EQ(origin->second.string_value(), "cpp");
  }
}

}  // namespace
}  // namespace mq::testing
