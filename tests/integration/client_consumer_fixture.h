// ClientConsumerTest: 1 NameServer + 2 broker sets (client_cluster.h) with helpers to start push
// consumers and send keyed messages; Collector counts what each consumer got. Shared by the push
// consumer integration tests.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "client_cluster.h"
#include "delivery_counter.h"
#include "testutil/proc_status.h"

namespace mq::testing {

// Counts deliveries per body, per consumer, and keeps each key's order. Thread-safe.
class Collector : public DeliveryCounter {
 public:
  mq::client::MessageListener Listener(int who) {
    return [this, who](const std::vector<mq::client::ReceivedMessage>& msgs) {
      for (const auto& m : msgs) {
        Add(m.message.body);
        std::lock_guard lock(mu_);
        per_[who]++;
        order_[m.message.keys.empty() ? "" : m.message.keys[0]].push_back(m.message.body);
      }
      return mq::client::ConsumeResult::kSuccess;
    };
  }
  int of(int who) {
    std::lock_guard lock(mu_);
    return per_[who];
  }
  std::vector<std::string> order(const std::string& key) {
    std::lock_guard lock(mu_);
    return order_[key];
  }

 private:
  std::mutex mu_;
  std::map<int, int> per_;                                 // guarded by mu_
  std::map<std::string, std::vector<std::string>> order_;  // guarded by mu_
};

class ClientConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.Start());
    ASSERT_TRUE(cluster_.CreateTopic("ConsTopic"));
    mq::client::ProducerOptions o;
    o.client = cluster_.Client();
    producer_ = std::make_unique<mq::client::Producer>(o);
    ASSERT_TRUE(producer_->Start().ok());
  }
  std::unique_ptr<mq::client::PushConsumer> NewConsumer(mq::client::PushConsumerOptions o, Collector* c,
                                                        int who) {
    auto consumer = std::make_unique<mq::client::PushConsumer>(std::move(o));
    EXPECT_TRUE(consumer->Subscribe("ConsTopic", "*").ok());
    consumer->RegisterListener(c->Listener(who));
    EXPECT_TRUE(consumer->Start().ok());
    return consumer;
  }
  // Sends [from, to) asynchronously; returns once all are acknowledged.
  void SendRange(int from, int to, const std::string& prefix = "m") {
    std::atomic<int> done{0}, failed{0};
    for (int i = from; i < to; ++i) {
      producer_->SendAsync(mq::client::MakeMessage("ConsTopic", prefix + std::to_string(i)),
                           [&](const Result<mq::client::SendResult>& r) {
                             if (!r.ok()) failed++;
                             done++;
                           });
      while (i - from - done.load() > 500) std::this_thread::yield();  // bound in-flight sends
    }
    ASSERT_TRUE(WaitUntil([&] { return done.load() == to - from; }, std::chrono::seconds(60)));
    ASSERT_EQ(failed.load(), 0);
  }
  // Starts one consumer of `group` on every queue, then sends 300 messages one sync send at a
  // time and waits until all are consumed. Returns how much `switches()` (a count of thread
  // wake-ups) grew meanwhile.
  // quiet: a producer and a consumer of their own whose periodic work (route refreshes,
  // heartbeats, offset flushes: several wake-ups a second with the cluster's test intervals) stays
  // out of the count, which then does not grow with the time a slow (sanitizer) build takes.
  int64_t SwitchesWhileConsuming(const std::string& group, const std::function<int64_t()>& switches,
                                 bool quiet = false) {
    auto quieten = [](mq::client::ClientOptions* o) {
      o->route_refresh_ms = 60'000;
      o->heartbeat_ms = 60'000;
    };
    std::unique_ptr<mq::client::Producer> quiet_producer;
    mq::client::Producer* producer = producer_.get();
    auto options = cluster_.Consumer(group);
    if (quiet) {
      mq::client::ProducerOptions po;
      po.client = cluster_.Client();
      quieten(&po.client);
      quiet_producer = std::make_unique<mq::client::Producer>(po);
      EXPECT_TRUE(quiet_producer->Start().ok());
      producer = quiet_producer.get();
      quieten(&options.client);
      options.commit_interval_ms = 60'000;
    }
    Collector c;
    auto consumer = NewConsumer(options, &c, 0);
    EXPECT_TRUE(WaitUntil([&] { return consumer->AssignedQueues().size() == 8; }, std::chrono::seconds(20)));
    // Routes, channels and first replies are behind us before counting.
    EXPECT_TRUE(producer->Send(mq::client::MakeMessage("ConsTopic", "s0")).ok());
    EXPECT_TRUE(WaitUntil([&] { return c.total() >= 1; }, std::chrono::seconds(20)));
    const int64_t before = switches();
    constexpr int kMessages = 300;
    for (int i = 1; i <= kMessages; ++i) {
      auto r = producer->Send(mq::client::MakeMessage("ConsTopic", "s" + std::to_string(i)));
      EXPECT_TRUE(r.ok()) << r.status().ToString();
    }
    EXPECT_TRUE(WaitUntil([&] { return c.total() >= kMessages + 1; }, std::chrono::seconds(30)));
    return switches() - before;
  }
  static size_t TotalAssigned(const std::vector<std::unique_ptr<mq::client::PushConsumer>>& cs) {
    size_t n = 0;
    for (const auto& c : cs) n += c->AssignedQueues().size();
    return n;
  }
  ClientCluster cluster_;
  std::unique_ptr<mq::client::Producer> producer_;
};

}  // namespace mq::testing
