// An orderly consumer whose master stops answering (SIGSTOP: a hung broker, or a network that
// drops everything to it) while its queue holds cached messages: the queue stays its own, it
// consumes only while its lock is fresh (orderly_lock_ttl_ms since the last renewal the master
// granted), and once the master answers again it goes on where it stopped, each message once,
// in order.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client_cluster.h"
#include "process_pause.h"

namespace mq::testing {
namespace {

using namespace std::chrono_literals;
using mq::client::ConsumeResult;
using mq::client::MakeMessage;
using mq::client::PushConsumer;
using mq::client::ReceivedMessage;
using Clock = std::chrono::steady_clock;

constexpr int kMessages = 200;
const mq::client::MessageQueue kQueue{"OrderlyLock", "broker-a", 0};

// Each listener call's body and start time, in call order. Thread-safe.
class CallLog {
 public:
  void Add(const std::string& body) {
    std::lock_guard lock(mu_);
    calls_.push_back({body, Clock::now()});
  }
  size_t size() {
    std::lock_guard lock(mu_);
    return calls_.size();
  }
  std::vector<std::string> Bodies() {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& c : calls_) out.push_back(c.body);
    return out;
  }
  // Bodies of the calls that started in [from, to).
  std::vector<std::string> StartedBetween(Clock::time_point from, Clock::time_point to) {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& c : calls_) {
      if (c.at >= from && c.at < to) out.push_back(c.body);
    }
    return out;
  }

 private:
  struct Call {
    std::string body;
    Clock::time_point at;
  };
  std::mutex mu_;
  std::vector<Call> calls_;  // guarded by mu_
};

class ClientOrderlyLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.Start());
    ASSERT_TRUE(cluster_.CreateTopic(kQueue.topic, 1, 1));  // broker-a#0 only
    auto producer = std::make_unique<mq::client::Producer>(cluster_.Producer());
    ASSERT_TRUE(producer->Start().ok());
    for (int i = 0; i < kMessages; ++i) {
      auto r = producer->Send(MakeMessage(kQueue.topic, "o" + std::to_string(i)));
      ASSERT_TRUE(r.ok()) << r.status().ToString();
    }
    producer->Shutdown();
  }
  // An orderly consumer whose listener takes 20 ms per message (one per call) and renews its
  // locks every 200 ms.
  std::unique_ptr<PushConsumer> StartConsumer(mq::client::PushConsumerOptions o) {
    o.orderly = true;
    o.rebalance_interval_ms = 200;
    o.consume_batch_max = 1;
    auto consumer = std::make_unique<PushConsumer>(std::move(o));
    EXPECT_TRUE(consumer->Subscribe(kQueue.topic, "*").ok());
    consumer->RegisterListener([this](const std::vector<ReceivedMessage>& msgs) {
      for (const auto& m : msgs) log_.Add(m.message.body);
      std::this_thread::sleep_for(20ms);  // the listener's work
      return ConsumeResult::kSuccess;
    });
    EXPECT_TRUE(consumer->Start().ok());
    return consumer;
  }
  static bool Holds(PushConsumer& c) {
    auto qs = c.AssignedQueues();
    return std::find(qs.begin(), qs.end(), kQueue) != qs.end();
  }
  // Every message once, in send order.
  void ExpectEachOnceInOrder() {
    ASSERT_TRUE(WaitUntil([&] { return log_.size() >= static_cast<size_t>(kMessages); }, 30s));
    std::vector<std::string> expected;
    for (int i = 0; i < kMessages; ++i) expected.push_back("o" + std::to_string(i));
    EXPECT_EQ(log_.Bodies(), expected);
  }

  ClientCluster cluster_;
  CallLog log_;
};

TEST_F(ClientOrderlyLockTest, ACutOffConsumerStopsWhenItsLockExpiresAndGoesOnOnceRenewed) {
  auto o = cluster_.Consumer("g-orderly-expiry");
  o.orderly_lock_ttl_ms = 1'000;  // the renewal in flight waits 3 s (rpc_timeout_ms)
  auto consumer = StartConsumer(o);
  ASSERT_TRUE(WaitUntil([&] { return log_.size() >= 5; }, 20s));
  {
    ProcessPause paused({&cluster_.broker(0).process()});
    // No renewal granted after this, so the lock is stale from stopped + ttl at the latest.
    const auto stopped = Clock::now();
    const auto stale = stopped + std::chrono::milliseconds(o.orderly_lock_ttl_ms);
    const auto until = stale + 1500ms;  // how long the master stays away
    while (Clock::now() < until) {
      ASSERT_TRUE(Holds(*consumer)) << "the queue was given up while its master did not answer";
      std::this_thread::sleep_for(50ms);
    }
    const auto late = log_.StartedBetween(stale, Clock::now());
    EXPECT_TRUE(late.empty()) << late.size() << " listener calls started after the lock expired, first "
                              << late.front();
    ASSERT_LT(log_.size(), static_cast<size_t>(kMessages)) << "consumed all before the lock expired";
  }
  ExpectEachOnceInOrder();
}

TEST_F(ClientOrderlyLockTest, AFailedRenewalKeepsTheQueueAndRedeliversNothing) {
  auto o = cluster_.Consumer("g-orderly-renewal");
  o.client.rpc_timeout_ms = 500;  // renewals fail while the master is away
  auto consumer = StartConsumer(o);
  ASSERT_TRUE(WaitUntil([&] { return log_.size() >= 5; }, 20s));
  {
    ProcessPause paused({&cluster_.broker(0).process()});
    // Several renewals time out meanwhile (every 200 ms, 500 ms each).
    const auto until = Clock::now() + 2s;
    while (Clock::now() < until) {
      ASSERT_TRUE(Holds(*consumer)) << "the queue was given up when a renewal timed out";
      std::this_thread::sleep_for(50ms);
    }
  }
  ExpectEachOnceInOrder();
}

TEST_F(ClientOrderlyLockTest, ALockTtlTheRenewalsCannotKeepFreshIsRefused) {
  auto o = cluster_.Consumer("g-orderly-ttl");
  o.orderly = true;
  for (int64_t ttl : {int64_t{500}, int64_t{1'000}, int64_t{60'000}}) {
    o.rebalance_interval_ms = 1'000;
    o.orderly_lock_ttl_ms = ttl;
    PushConsumer consumer(o);
    ASSERT_TRUE(consumer.Subscribe(kQueue.topic, "*").ok());
    consumer.RegisterListener([](const std::vector<ReceivedMessage>&) { return ConsumeResult::kSuccess; });
    Status s = consumer.Start();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << ttl;
    EXPECT_NE(s.message().find("orderly_lock_ttl_ms"), std::string::npos) << s.ToString();
  }
}

}  // namespace
}  // namespace mq::testing
