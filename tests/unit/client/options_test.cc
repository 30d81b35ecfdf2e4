// Option validation of the flow-control and back-pressure limits: a clear error naming the
// option, before any network activity.
#include <gtest/gtest.h>

#include <utility>

#include "mq/client/producer.h"
#include "mq/client/push_consumer.h"

namespace mq::client {
namespace {

ProducerOptions Producer1() {
  ProducerOptions o;
  o.client.namesrv_addrs = {"127.0.0.1:1"};
  return o;
}

TEST(ClientOptionsTest, ProducerBackPressureLimitsMustBePositive) {
  auto o = Producer1();
  o.back_pressure_for_async_send_num = 0;
  Status s = Producer(o).Start();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message().rfind("back_pressure_for_async_send_num", 0), 0u) << s.ToString();
  o = Producer1();
  o.back_pressure_for_async_send_size = -1;
  s = Producer(o).Start();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message().rfind("back_pressure_for_async_send_size", 0), 0u) << s.ToString();
}

TEST(ClientOptionsTest, SendConnectionsPerBrokerMustBeInRange) {
  for (int n : {0, -1, 17}) {
    auto o = Producer1();
    o.client.send_connections_per_broker = n;
    Status s = Producer(o).Start();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << n;
    EXPECT_EQ(s.message().rfind("send_connections_per_broker", 0), 0u) << s.ToString();
  }
}

TEST(ClientOptionsTest, AutoBatchLingerUsMustBeInRange) {
  for (int64_t us : {int64_t{-1}, int64_t{1'000'001}}) {
    auto o = Producer1();
    o.auto_batch_linger_us = us;
    Status s = Producer(o).Start();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << us;
    EXPECT_EQ(s.message().rfind("auto_batch_linger_us", 0), 0u) << s.ToString();
  }
}

TEST(ClientOptionsTest, CallbackOnReplyThreadMaxUsMustBeInRange) {
  for (int us : {-1, 201}) {
    auto o = Producer1();
    o.client.callback_on_reply_thread_max_us = us;
    Status s = Producer(o).Start();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << us;
    EXPECT_EQ(s.message().rfind("callback_on_reply_thread_max_us", 0), 0u) << s.ToString();
  }
}

TEST(ClientOptionsTest, PullThresholdSizeForQueueMustBeInRange) {
  for (int mib : {0, -5, 1025}) {
    PushConsumerOptions o;
    o.client.namesrv_addrs = {"127.0.0.1:1"};
    o.group = "g";
    o.pull_threshold_size_for_queue = mib;
    PushConsumer c(o);
    ASSERT_TRUE(c.Subscribe("T", "*").ok());
    c.RegisterListener([](const std::vector<ReceivedMessage>&) { return ConsumeResult::kSuccess; });
    Status s = c.Start();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << mib;
    EXPECT_EQ(s.message().rfind("pull_threshold_size_for_queue", 0), 0u) << s.ToString();
  }
}

TEST(ClientOptionsTest, PullThresholdsForTopicMustBeOffOrInRocketMQsRange) {
  for (auto [count, mib] : {std::pair{0, -1}, std::pair{-2, -1}, std::pair{6'553'501, -1}, std::pair{-1, 0},
                            std::pair{-1, 102'401}}) {
    PushConsumerOptions o;
    o.client.namesrv_addrs = {"127.0.0.1:1"};
    o.group = "g";
    o.pull_threshold_for_topic = count;
    o.pull_threshold_size_for_topic = mib;
    PushConsumer c(o);
    ASSERT_TRUE(c.Subscribe("T", "*").ok());
    c.RegisterListener([](const std::vector<ReceivedMessage>&) { return ConsumeResult::kSuccess; });
    Status s = c.Start();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << count << " " << mib;
    const char* field = count != -1 ? "pull_threshold_for_topic" : "pull_threshold_size_for_topic";
    EXPECT_EQ(s.message().rfind(field, 0), 0u) << s.ToString();
  }
}

TEST(ClientOptionsTest, PullBatchLimitsAreChecked) {
  struct Case {
    int size;
    int64_t bytes;
    const char* field;
  };
  for (const Case& k : {Case{1025, 1024, "pull_batch_size"}, Case{0, 1024, "pull_batch_size"},
                        Case{32, 0, "pull_batch_max_bytes"}}) {
    PushConsumerOptions o;
    o.client.namesrv_addrs = {"127.0.0.1:1"};
    o.group = "g";
    o.pull_batch_size = k.size;
    o.pull_batch_max_bytes = k.bytes;
    PushConsumer c(o);
    ASSERT_TRUE(c.Subscribe("T", "*").ok());
    c.RegisterListener([](const std::vector<ReceivedMessage>&) { return ConsumeResult::kSuccess; });
    Status s = c.Start();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << k.field;
    EXPECT_EQ(s.message().rfind(k.field, 0), 0u) << s.ToString();
  }
}

TEST(ClientOptionsTest, ListenerOnReplyThreadMaxUsMustBeInRange) {
  for (int us : {-1, 201}) {
    PushConsumerOptions o;
    o.client.namesrv_addrs = {"127.0.0.1:1"};
    o.group = "g";
    o.listener_on_reply_thread_max_us = us;
    PushConsumer c(o);
    ASSERT_TRUE(c.Subscribe("T", "*").ok());
    c.RegisterListener([](const std::vector<ReceivedMessage>&) { return ConsumeResult::kSuccess; });
    Status s = c.Start();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << us;
    EXPECT_EQ(s.message().rfind("listener_on_reply_thread_max_us", 0), 0u) << s.ToString();
  }
}

}  // namespace
}  // namespace mq::client
