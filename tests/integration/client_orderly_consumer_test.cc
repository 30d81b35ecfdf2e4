// Orderly push consumers (clustering and broadcasting) against 1 NameServer + 2 broker sets:
// each key in send order, and a queue handed over only once its listener call ended.
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client_consumer_fixture.h"

namespace mq::testing {
namespace {

using mq::client::ConsumeResult;
using mq::client::MakeMessage;
using mq::client::MessageModel;
using mq::client::PushConsumer;
using mq::client::ReceivedMessage;

TEST_F(ClientConsumerTest, BroadcastingOrderlyConsumersEachGetEveryQueueInOrder) {
  // Broadcasting members share a group but not its queues: none may lock the others out.
  Collector c[2];
  std::vector<std::unique_ptr<PushConsumer>> consumers;
  for (int i = 0; i < 2; ++i) {
    auto o = cluster_.Consumer("g-bcast-orderly");
    o.model = MessageModel::kBroadcasting;
    o.orderly = true;
    o.client.instance_name = "inst" + std::to_string(i);
    consumers.push_back(NewConsumer(o, &c[i], i));
  }
  ASSERT_TRUE(WaitUntil([&] { return TotalAssigned(consumers) == 16; }, std::chrono::seconds(20)));
  auto selector = mq::client::HashSelector();
  constexpr int kPerKey = 20;
  for (int i = 0; i < kPerKey; ++i) {
    for (const std::string key : {"k1", "k2"}) {
      auto m = MakeMessage("ConsTopic", key + "-" + std::to_string(i));
      m.keys = {key};
      ASSERT_TRUE(producer_->Send(m, selector, key).ok());
    }
  }
  for (auto& x : c) {
    ASSERT_TRUE(WaitUntil([&] { return x.distinct() == 2 * kPerKey; }, std::chrono::seconds(20)))
        << "distinct " << x.distinct();
    for (const std::string key : {"k1", "k2"}) {
      auto seq = x.order(key);
      ASSERT_EQ(seq.size(), static_cast<size_t>(kPerKey));
      for (int i = 0; i < kPerKey; ++i) EXPECT_EQ(seq[static_cast<size_t>(i)], key + "-" + std::to_string(i));
    }
  }
}

TEST_F(ClientConsumerTest, AnOrderlyQueueIsHandedOverOnlyOnceItsListenerCallEnded) {
  // Member b's orderly listener is inside h0 when member a joins and is given the queue: a must
  // not consume it beside b. It takes the queue once b's call ended, from the offset after h0.
  ASSERT_TRUE(cluster_.CreateTopic("OrderlyHandOver", 1));  // broker-a#0 and broker-b#0
  auto to_a = [](const std::vector<mq::client::MessageQueue>& qs, const mq::client::Message&,
                 const std::string&) {
    for (const auto& q : qs) {
      if (q.broker_name == "broker-a") return q;
    }
    return qs.front();
  };
  const mq::client::MessageQueue handed{"OrderlyHandOver", "broker-a", 0};
  auto holds = [&](PushConsumer& c) {
    auto qs = c.AssignedQueues();
    return std::find(qs.begin(), qs.end(), handed) != qs.end();
  };
  std::mutex mu;
  std::condition_variable cv;
  bool release = false, holding = false;
  std::vector<std::string> b_seen;
  auto b_opts = cluster_.Consumer("g-orderly-handover");
  b_opts.orderly = true;
  b_opts.client.instance_name = "b";  // client ids sort by instance: "a" gets broker-a#0 once it joins
  auto b = std::make_unique<PushConsumer>(b_opts);
  ASSERT_TRUE(b->Subscribe("OrderlyHandOver", "*").ok());
  b->RegisterListener([&](const std::vector<ReceivedMessage>& msgs) {
    std::unique_lock lock(mu);
    for (const auto& m : msgs) b_seen.push_back(m.message.body);
    if (msgs.front().message.body == "h0") {
      holding = true;
      cv.notify_all();
      cv.wait_for(lock, std::chrono::seconds(30), [&] { return release; });
    }
    return ConsumeResult::kSuccess;
  });
  ASSERT_TRUE(b->Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return b->AssignedQueues().size() == 2; }, std::chrono::seconds(20)));
  for (int i = 0; i < 10; ++i) {
    auto r = producer_->Send(MakeMessage("OrderlyHandOver", "h" + std::to_string(i)), to_a, "");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::lock_guard lock(mu);
        return holding;
      },
      std::chrono::seconds(20)));

  Collector a_seen;
  auto a_opts = cluster_.Consumer("g-orderly-handover");
  a_opts.orderly = true;
  a_opts.client.instance_name = "a";
  auto a = std::make_unique<PushConsumer>(a_opts);
  ASSERT_TRUE(a->Subscribe("OrderlyHandOver", "*").ok());
  a->RegisterListener(a_seen.Listener(1));
  ASSERT_TRUE(a->Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return !holds(*b); }, std::chrono::seconds(20)));  // b gave it away
  // While b's call runs, a cannot lock the queue (sampled for 3 s, several of a's retries).
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < until) {
    ASSERT_EQ(a_seen.distinct(), 0) << "a consumed the queue beside b's running call";
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  ASSERT_TRUE(WaitUntil([&] { return holds(*a) && a_seen.distinct() == 9; }, std::chrono::seconds(20)));
  // b's finished call was committed at the hand-over: a starts after h0, in order.
  std::vector<std::string> expected;
  for (int i = 1; i < 10; ++i) expected.push_back("h" + std::to_string(i));
  EXPECT_EQ(a_seen.order(""), expected);
  std::lock_guard lock(mu);
  EXPECT_EQ(b_seen, std::vector<std::string>{"h0"});
}

TEST_F(ClientConsumerTest, OrderlyConsumesEachKeyInSendOrder) {
  Collector c;
  auto o = cluster_.Consumer("g-orderly");
  o.orderly = true;
  auto consumer = NewConsumer(o, &c, 0);
  auto selector = mq::client::HashSelector();
  constexpr int kPerKey = 100;
  for (int i = 0; i < kPerKey; ++i) {
    for (const std::string key : {"k1", "k2", "k3", "k4"}) {
      auto m = MakeMessage("ConsTopic", key + "-" + std::to_string(i));
      m.keys = {key};
      ASSERT_TRUE(producer_->Send(m, selector, key).ok());
    }
  }
  ASSERT_TRUE(WaitUntil([&] { return c.distinct() == 4 * kPerKey; }, std::chrono::seconds(30)));
  for (const std::string key : {"k1", "k2", "k3", "k4"}) {
    auto seq = c.order(key);
    ASSERT_EQ(seq.size(), static_cast<size_t>(kPerKey));
    for (int i = 0; i < kPerKey; ++i) EXPECT_EQ(seq[static_cast<size_t>(i)], key + "-" + std::to_string(i));
  }
}

}  // namespace
}  // namespace mq::testing
