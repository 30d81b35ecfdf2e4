// Where a push consumer's listener runs (PushConsumerOptions::listener_on_reply_thread_max_us): on the
// thread that received the pull reply once the listener has proven fast, on the consume threads
// otherwise, and back on them as soon as it slows down or fails. Real NameServer + 2 brokers.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "client_cluster.h"
#include "common/thread_name.h"

namespace mq::testing {
namespace {

using mq::client::ConsumeResult;
using mq::client::MakeMessage;
using mq::client::Producer;
using mq::client::PushConsumer;
using mq::client::ReceivedMessage;

// Whether the calling thread is one of the consume threads ("mq-consume"), looked up once per
// thread: a lookup per call would make the listener too slow to qualify.
bool OnConsumeThread() {
  thread_local const bool on_consume_thread = CurrentThreadName().starts_with("mq-consume");
  return on_consume_thread;
}

// The listener calls of one phase of a test: by thread kind, and the bodies seen.
struct Calls {
  int on_consume_threads = 0;  // "mq-consume"
  int elsewhere = 0;           // the pull reply's thread
  std::map<std::string, int> deliveries;
  std::map<std::string, bool> refused_on_reply_thread;  // by body, for kRefuseFirstDelivery
};

class ClientReplyThreadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.Start());
    ASSERT_TRUE(cluster_.CreateTopic(kTopic, 1));  // one queue on each broker
    mq::client::ProducerOptions o;
    o.client = cluster_.Client();
    producer_ = std::make_unique<Producer>(o);
    ASSERT_TRUE(producer_->Start().ok());
  }
  void TearDown() override {
    if (consumer_) consumer_->Shutdown();
    if (producer_) producer_->Shutdown();
  }

  // What the listener does besides counting: kept cheap (an atomic, one lock) so that even a
  // sanitizer build's listener qualifies for the reply thread (at most 60 µs a call here).
  // kRefuseFirstDelivery refuses the first delivery of each body starting "refused".
  enum class Mode { kFast, kSpin100us, kSleep5ms, kRefuseFirstDelivery };

  // Starts a consumer whose listener counts each call in `phase_` and then acts as mode_ says.
  void StartConsumer(bool on_reply_thread) {
    auto o = cluster_.Consumer("g-reply-thread");
    // 60 µs instead of 20: a sanitizer build's listener takes 15-30 µs a call on a busy machine.
    o.listener_on_reply_thread_max_us = on_reply_thread ? 60 : 0;
    consumer_ = std::make_unique<PushConsumer>(o);
    ASSERT_TRUE(consumer_->Subscribe(kTopic, "*").ok());
    consumer_->RegisterListener([this](const std::vector<ReceivedMessage>& msgs) {
      const bool pool = OnConsumeThread();
      const Mode mode = mode_.load();
      bool refuse = false;
      {
        std::lock_guard lock(mu_);
        pool ? ++phase_.on_consume_threads : ++phase_.elsewhere;
        for (const auto& m : msgs) {
          ++phase_.deliveries[m.message.body];
          if (mode == Mode::kRefuseFirstDelivery && m.reconsume_times == 0 &&
              m.message.body.rfind("refused", 0) == 0) {
            refuse = true;
            phase_.refused_on_reply_thread[m.message.body] = !pool;
          }
        }
      }
      if (mode == Mode::kSpin100us) {
        const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(100);
        while (std::chrono::steady_clock::now() < until) {
        }
      } else if (mode == Mode::kSleep5ms) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      return refuse ? ConsumeResult::kRetryLater : ConsumeResult::kSuccess;
    });
    ASSERT_TRUE(consumer_->Start().ok());
  }
  // Sends `bodies` to the topic one by one (spread over both queues) and returns at once.
  void Send(const std::vector<std::string>& bodies) {
    for (const auto& body : bodies) {
      auto r = producer_->Send(MakeMessage(kTopic, body));
      ASSERT_TRUE(r.ok()) << r.status().ToString();
    }
  }
  // Sends `n` messages prefix0.. in one batch (one queue, so one pull reply carries them).
  void SendBatch(const std::string& prefix, int n) {
    std::vector<mq::client::Message> batch;
    for (int i = 0; i < n; ++i) batch.push_back(MakeMessage(kTopic, prefix + std::to_string(i)));
    auto r = producer_->SendBatch(batch);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  bool Delivered(const std::string& body, int times = 1) {
    return WaitUntil(
        [&] {
          std::lock_guard lock(mu_);
          return phase_.deliveries[body] >= times;
        },
        std::chrono::seconds(20));
  }
  // Starts a new phase and returns the one that ended.
  Calls NextPhase() {
    std::lock_guard lock(mu_);
    return std::exchange(phase_, {});
  }
  // Sends 8 messages `tag`-0.. one by one and waits until each was delivered.
  bool SendRound(const std::string& tag) {
    std::vector<std::string> bodies;
    for (int i = 0; i < 8; ++i) bodies.push_back(tag + "-" + std::to_string(i));
    Send(bodies);
    for (const auto& body : bodies) {
      if (!Delivered(body)) return false;
    }
    return true;
  }
  // Sends rounds until a call runs on the reply thread (the listener needs 16 measured calls,
  // and a preempted call raises its mean for a while); false after 20 rounds.
  bool WarmUpToTheReplyThread() {
    for (int round = 0; round < 20; ++round) {
      if (!SendRound("warm" + std::to_string(round))) return false;
      std::lock_guard lock(mu_);
      if (phase_.elsewhere > 0) return true;
    }
    return false;
  }

  static constexpr const char* kTopic = "ReplyThreadTopic";
  ClientCluster cluster_;
  std::unique_ptr<Producer> producer_;
  std::unique_ptr<PushConsumer> consumer_;
  std::atomic<Mode> mode_{Mode::kFast};
  std::mutex mu_;
  Calls phase_;  // guarded by mu_
};

TEST_F(ClientReplyThreadTest, AFastListenerRunsOnTheReplyThread) {
  StartConsumer(true);
  ASSERT_TRUE(WarmUpToTheReplyThread()) << "no listener call ran on the pull reply's thread";
}

TEST_F(ClientReplyThreadTest, TurnedOffEveryCallRunsOnTheConsumeThreads) {
  StartConsumer(false);
  for (int round = 0; round < 5; ++round) ASSERT_TRUE(SendRound("off" + std::to_string(round))) << round;
  Calls calls = NextPhase();
  EXPECT_EQ(calls.elsewhere, 0);
  EXPECT_GE(calls.on_consume_threads, 40);
}

TEST_F(ClientReplyThreadTest, ASlowListenerStaysOnTheConsumeThreads) {
  // 100 µs a call, like a listener that makes a remote call: above the 60 µs a call may take on
  // the reply thread here, yet a pull of one such call stays within its 200 µs.
  mode_ = Mode::kSpin100us;
  StartConsumer(true);
  for (int round = 0; round < 5; ++round) ASSERT_TRUE(SendRound("slow" + std::to_string(round))) << round;
  Calls calls = NextPhase();
  EXPECT_EQ(calls.elsewhere, 0);
  EXPECT_GE(calls.on_consume_threads, 40);
}

TEST_F(ClientReplyThreadTest, AListenerThatSlowsDownHandsTheRestOfItsRunToTheConsumeThreads) {
  StartConsumer(true);
  ASSERT_TRUE(WarmUpToTheReplyThread()) << "no listener call ran on the pull reply's thread";
  NextPhase();
  mode_ = Mode::kSleep5ms;
  SendBatch("late", 10);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(Delivered("late" + std::to_string(i))) << i;
  // At most the first slow call ran on the reply thread: its 5 ms lifted the mean far past
  // what the nine left may take there.
  Calls calls = NextPhase();
  EXPECT_LE(calls.elsewhere, 1);
  EXPECT_GE(calls.on_consume_threads, 9);
}

TEST_F(ClientReplyThreadTest, AFailedCallOnTheReplyThreadIsSentBackAndRedelivered) {
  StartConsumer(true);
  ASSERT_TRUE(WarmUpToTheReplyThread()) << "no listener call ran on the pull reply's thread";
  // Each body is refused on its first delivery. A body whose first call ran on a consume thread
  // (a preempted call can lift the listener's mean for a while) does not test the reply thread's
  // send-back: the next one is tried, up to 10.
  mode_ = Mode::kRefuseFirstDelivery;
  std::string tested;
  for (int attempt = 0; attempt < 10 && tested.empty(); ++attempt) {
    const std::string body = "refused" + std::to_string(attempt);
    Send({body});
    // Refused, sent back by a consume thread, redelivered from the retry topic about a second
    // later (the cluster's messageDelayLevel) and acknowledged.
    ASSERT_TRUE(Delivered(body, 2)) << body;
    std::lock_guard lock(mu_);
    if (phase_.refused_on_reply_thread[body]) tested = body;
  }
  ASSERT_FALSE(tested.empty()) << "no refused call ran on the pull reply's thread";
  Send({"after"});
  ASSERT_TRUE(Delivered("after"));
  std::lock_guard lock(mu_);
  EXPECT_EQ(phase_.deliveries[tested], 2) << tested;
}

}  // namespace
}  // namespace mq::testing
