// Where a producer's async send callbacks run (ClientOptions::callback_threads, send_callbacks.h),
// against real processes: on the callback threads by default, on the thread that read the
// broker's reply with callback_threads = 0, and never re-entrantly inside a producer call.
#include <gtest/gtest.h>

#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "client_cluster.h"
#include "common/thread_name.h"

namespace mq::testing {
namespace {

using namespace std::chrono_literals;
using mq::client::MakeMessage;
using mq::client::Producer;
using mq::client::ProducerOptions;
using mq::client::SendResult;

// What each callback saw: the thread it ran on and its result. Thread-safe.
class Seen {
 public:
  mq::client::SendCallback Callback() {
    return [this](const Result<SendResult>& r) { Add(r); };
  }
  void Add(const Result<SendResult>& r) {
    std::lock_guard lock(mu_);
    threads_.push_back(CurrentThreadName());
    thread_ids_.push_back(std::this_thread::get_id());
    statuses_.push_back(r.status());
  }
  size_t size() {
    std::lock_guard lock(mu_);
    return threads_.size();
  }
  std::vector<std::string> threads() {
    std::lock_guard lock(mu_);
    return threads_;
  }
  std::vector<std::thread::id> thread_ids() {
    std::lock_guard lock(mu_);
    return thread_ids_;
  }
  std::vector<Status> statuses() {
    std::lock_guard lock(mu_);
    return statuses_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> threads_;
  std::vector<std::thread::id> thread_ids_;
  std::vector<Status> statuses_;
};

class ClientCallbackThreadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.Start());
    ASSERT_TRUE(cluster_.CreateTopic(kTopic));
  }
  ProducerOptions Options(int callback_threads) const {
    ProducerOptions o;
    o.client = cluster_.Client();
    o.client.callback_threads = callback_threads;
    o.group = "callback-thread-producer";
    return o;
  }
  // Sends `n` async messages and waits for every callback.
  static void SendAsyncAndWait(Producer& producer, int n, Seen* seen) {
    for (int i = 0; i < n; ++i)
      producer.SendAsync(MakeMessage(kTopic, "m" + std::to_string(i)), seen->Callback());
    ASSERT_TRUE(WaitUntil([&] { return seen->size() == static_cast<size_t>(n); }, 20s)) << seen->size();
  }

  static constexpr char kTopic[] = "CallbackThreadTopic";
  ClientCluster cluster_;
};

TEST_F(ClientCallbackThreadTest, CallbacksRunOnCallbackThreadsByDefaultAndOnTheReplyThreadWithZero) {
  for (int callback_threads : {4, 0}) {
    SCOPED_TRACE("callback_threads " + std::to_string(callback_threads));
    Producer producer(Options(callback_threads));
    ASSERT_TRUE(producer.Start().ok());
    // The route cached and the fast connections open: every reply below comes over them.
    for (int i = 0; i < 8; ++i) ASSERT_TRUE(producer.Send(MakeMessage(kTopic, "warm")).ok());
    Seen seen;
    SendAsyncAndWait(producer, 200, &seen);
    for (const auto& s : seen.statuses()) EXPECT_TRUE(s.ok()) << s.ToString();
    const std::string expected = callback_threads == 0 ? "mq-fast-send" : "mq-client-cb";
    for (const auto& name : seen.threads()) EXPECT_EQ(name, expected);
  }
}

TEST_F(ClientCallbackThreadTest, ABlockingSendFromAReplyThreadCallbackFailsAtOnceAndSendAsyncWorks) {
  Producer producer(Options(0));
  ASSERT_TRUE(producer.Start().ok());
  ASSERT_TRUE(producer.Send(MakeMessage(kTopic, "warm")).ok());
  std::mutex mu;
  std::optional<Status> blocking;
  Seen nested;
  Seen outer;
  producer.SendAsync(MakeMessage(kTopic, "outer"), [&](const Result<SendResult>& r) {
    outer.Add(r);
    // Waiting here would wait for a reply that only this thread reads.
    Status s = producer.Send(MakeMessage(kTopic, "blocking")).status();
    {
      std::lock_guard lock(mu);
      blocking = s;
    }
    producer.SendAsync(MakeMessage(kTopic, "nested"), nested.Callback());
  });
  ASSERT_TRUE(WaitUntil([&] { return nested.size() == 1; }, 20s));
  ASSERT_EQ(outer.threads().at(0), "mq-fast-send");
  EXPECT_TRUE(outer.statuses().at(0).ok());
  std::lock_guard lock(mu);
  ASSERT_TRUE(blocking.has_value());
  EXPECT_EQ(blocking->code(), StatusCode::kFailedPrecondition) << blocking->ToString();
  EXPECT_NE(blocking->message().find("callback_threads = 0"), std::string::npos) << blocking->ToString();
  EXPECT_TRUE(nested.statuses().at(0).ok()) << nested.statuses().at(0).ToString();
}

TEST_F(ClientCallbackThreadTest, ASendThatFailsInsideSendAsyncStillGetsItsCallbackOnACallbackThread) {
  ProducerOptions options = Options(0);
  options.max_body_bytes = 16;
  Producer producer(options);
  ASSERT_TRUE(producer.Start().ok());
  Seen seen;
  producer.SendAsync(MakeMessage(kTopic, std::string(64, 'x')), seen.Callback());
  ASSERT_TRUE(WaitUntil([&] { return seen.size() == 1; }, 10s));
  EXPECT_EQ(seen.statuses().at(0).code(), StatusCode::kInvalidArgument) << seen.statuses().at(0).ToString();
  EXPECT_NE(seen.thread_ids().at(0), std::this_thread::get_id()) << "ran inside SendAsync";
  EXPECT_EQ(seen.threads().at(0), "mq-client-cb");
}

}  // namespace
}  // namespace mq::testing
