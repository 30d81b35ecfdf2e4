// Client memory stays bounded whatever the application does (issue 10 item 5, client part):
// producer back pressure on async sends, push consumer flow control by bytes.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <mutex>

#include "client_cluster.h"
#include "gate.h"

namespace mq::testing {
namespace {

using mq::client::MakeMessage;
using mq::client::Producer;
using mq::client::ProducerOptions;
using mq::client::SendResult;
using Clock = std::chrono::steady_clock;

int64_t MsSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

class ClientMemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.Start());
    ASSERT_TRUE(cluster_.CreateTopic("MemTopic"));
  }
  ProducerOptions Options() const {
    ProducerOptions o;
    o.client = cluster_.Client();
    o.group = "pg-mem";
    o.send_timeout_ms = 1500;
    return o;
  }
  ClientCluster cluster_;
};

// Async sends count until their callback has returned. Callbacks that never return keep the
// room, so the next SendAsync waits send_timeout_ms for it and then fails clearly.
TEST_F(ClientMemoryTest, AsyncSendsBeyondTheRequestLimitWaitThenFail) {
  auto o = Options();
  o.back_pressure_for_async_send_num = 3;
  Producer producer(o);
  ASSERT_TRUE(producer.Start().ok());
  ASSERT_TRUE(producer.Send(MakeMessage("MemTopic", "warm")).ok());

  Gate release;
  std::shared_future<void> gate = release.future();
  std::atomic<int> done{0}, ok{0};
  for (int i = 0; i < 3; ++i) {
    producer.SendAsync(MakeMessage("MemTopic", "held"), [&, gate](const Result<SendResult>& r) {
      if (r.ok()) ok++;
      gate.wait();
      done++;
    });
  }
  std::mutex mu;
  Status fourth;
  auto start = Clock::now();
  producer.SendAsync(MakeMessage("MemTopic", "fourth"), [&](const Result<SendResult>& r) {
    std::lock_guard lock(mu);
    fourth = r.status();
    done++;
  });
  int64_t waited = MsSince(start);
  EXPECT_GE(waited, 1000) << "SendAsync did not wait for room";
  release.Open();
  ASSERT_TRUE(WaitUntil([&] { return done.load() == 4; }));
  EXPECT_EQ(ok.load(), 3);
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(fourth.code(), StatusCode::kResourceExhausted) << fourth.ToString();
    EXPECT_NE(fourth.message().find("back_pressure_for_async_send_num"), std::string::npos)
        << fourth.ToString();
  }
  // The room came back with the callbacks: the next one goes through at once.
  std::atomic<bool> fifth{false};
  start = Clock::now();
  producer.SendAsync(MakeMessage("MemTopic", "fifth"), [&](const Result<SendResult>& r) { fifth = r.ok(); });
  EXPECT_LT(MsSince(start), 500);
  ASSERT_TRUE(WaitUntil([&] { return fifth.load(); }));
}

// The byte limit: a second body that does not fit waits for the first one's room and gets it
// when that callback returns.
TEST_F(ClientMemoryTest, AsyncSendsBeyondTheByteLimitWaitForRoom) {
  auto o = Options();
  o.back_pressure_for_async_send_size = 1000;
  Producer producer(o);
  ASSERT_TRUE(producer.Start().ok());
  ASSERT_TRUE(producer.Send(MakeMessage("MemTopic", "warm")).ok());

  Gate release;
  std::shared_future<void> gate = release.future();
  std::atomic<int> done{0}, ok{0};
  auto counting = [&](const Result<SendResult>& r) {
    if (r.ok()) ok++;
    done++;
  };
  // Larger than the limit alone: admitted because nothing else is in flight.
  producer.SendAsync(MakeMessage("MemTopic", std::string(1500, 'x')), [&, gate](const Result<SendResult>& r) {
    gate.wait();
    if (r.ok()) ok++;
    done++;
  });
  auto start = Clock::now();
  std::thread releaser([&] {
    // Let the second SendAsync start waiting, then return the first callback's room.
    WaitUntil([&] { return MsSince(start) >= 500; }, std::chrono::seconds(2));
    release.Open();
  });
  producer.SendAsync(MakeMessage("MemTopic", std::string(600, 'y')), counting);
  int64_t waited = MsSince(start);
  releaser.join();
  EXPECT_GE(waited, 400) << "SendAsync did not wait for byte room";
  EXPECT_LT(waited, 1500) << "SendAsync waited past the release of the room";
  ASSERT_TRUE(WaitUntil([&] { return done.load() == 2; }));
  EXPECT_EQ(ok.load(), 2);
}

// A listener that stalls must not let the consumer buffer a queue's whole backlog: a queue's
// cache stays within pull_threshold_size_for_queue (1 MiB here) plus at most one message, and
// nothing is lost once the listener moves again.
TEST_F(ClientMemoryTest, PushConsumerCachesAtMostPullThresholdSizeForQueue) {
  ASSERT_TRUE(cluster_.CreateTopic("BigTopic", 1));
  ProducerOptions po = Options();
  po.send_timeout_ms = 5000;
  Producer producer(po);
  ASSERT_TRUE(producer.Start().ok());
  constexpr int kMessages = 64;  // 64 KiB each: 2 MiB per queue, 2 queues
  const std::string body(64 * 1024, 'b');
  for (int i = 0; i < kMessages; ++i) ASSERT_TRUE(producer.Send(MakeMessage("BigTopic", body)).ok());

  std::atomic<int> consumed{0};
  auto o = cluster_.Consumer("g-mem");
  o.consume_threads = 1;
  o.pull_threshold_size_for_queue = 1;
  mq::client::PushConsumer consumer(o);
  Gate release;
  std::shared_future<void> gate = release.future();
  ASSERT_TRUE(consumer.Subscribe("BigTopic", "*").ok());
  consumer.RegisterListener([&, gate](const std::vector<mq::client::ReceivedMessage>& msgs) {
    gate.wait();
    consumed += static_cast<int>(msgs.size());
    return mq::client::ConsumeResult::kSuccess;
  });
  ASSERT_TRUE(consumer.Start().ok());

  constexpr int64_t kLimit = 1024 * 1024;
  auto largest = [&] {
    int64_t m = 0;
    for (const auto& info : consumer.ProcessQueueInfos()) m = std::max(m, info.cached_msg_bytes);
    return m;
  };
  auto full = [&] {
    auto infos = consumer.ProcessQueueInfos();
    if (infos.size() != 2) return false;
    for (const auto& info : infos) {
      if (info.cached_msg_bytes < kLimit - static_cast<int64_t>(body.size())) return false;
    }
    return true;
  };
  ASSERT_TRUE(WaitUntil(full, std::chrono::seconds(20))) << "largest cache " << largest();
  // Both caches are at the limit; watch them for a while: they must not grow past it.
  EXPECT_FALSE(WaitUntil([&] { return largest() > kLimit + static_cast<int64_t>(body.size()); },
                         std::chrono::milliseconds(1500)))
      << "a queue cached " << largest() << " bytes";
  release.Open();
  ASSERT_TRUE(WaitUntil([&] { return consumed.load() >= kMessages; }, std::chrono::seconds(30)))
      << consumed.load();
  EXPECT_EQ(consumed.load(), kMessages);
}

// pull_threshold_for_topic (RocketMQ pullThresholdForTopic) is split over the topic's queues:
// 40 over the 4 queues this consumer holds caps each queue's cache at 10 messages, far below
// the per-queue default of 1,000, and nothing is lost once the listener moves again.
TEST_F(ClientMemoryTest, PullThresholdForTopicIsSplitOverTheTopicsQueues) {
  ASSERT_TRUE(cluster_.CreateTopic("TopicLimit", 2));  // 2 queues on each of 2 brokers
  Producer producer(Options());
  ASSERT_TRUE(producer.Start().ok());
  constexpr int kMessages = 200;
  for (int i = 0; i < kMessages; ++i)
    ASSERT_TRUE(producer.Send(MakeMessage("TopicLimit", "m" + std::to_string(i))).ok());

  std::atomic<int> consumed{0};
  auto o = cluster_.Consumer("g-topic-limit");
  o.consume_threads = 1;
  o.pull_threshold_for_topic = 40;
  mq::client::PushConsumer consumer(o);
  Gate release;
  std::shared_future<void> gate = release.future();
  ASSERT_TRUE(consumer.Subscribe("TopicLimit", "*").ok());
  consumer.RegisterListener([&, gate](const std::vector<mq::client::ReceivedMessage>& msgs) {
    gate.wait();
    consumed += static_cast<int>(msgs.size());
    return mq::client::ConsumeResult::kSuccess;
  });
  ASSERT_TRUE(consumer.Start().ok());

  constexpr int64_t kPerQueue = 40 / 4;
  auto largest = [&] {
    int64_t m = 0;
    for (const auto& info : consumer.ProcessQueueInfos()) m = std::max(m, info.cached_msg_count);
    return m;
  };
  auto full = [&] {
    auto infos = consumer.ProcessQueueInfos();
    if (infos.size() != 4) return false;
    for (const auto& info : infos) {
      if (info.cached_msg_count < kPerQueue) return false;
    }
    return true;
  };
  ASSERT_TRUE(WaitUntil(full, std::chrono::seconds(20))) << "largest cache " << largest();
  EXPECT_FALSE(WaitUntil([&] { return largest() > kPerQueue; }, std::chrono::milliseconds(1500)))
      << "a queue cached " << largest() << " messages";
  release.Open();
  ASSERT_TRUE(WaitUntil([&] { return consumed.load() >= kMessages; }, std::chrono::seconds(30)))
      << consumed.load();
  EXPECT_EQ(consumed.load(), kMessages);
}

}  // namespace
}  // namespace mq::testing
