// Standing pulls from the client's side: a FastSendConnection stream call takes each reply the
// broker flags kMoreReplies and then exactly one last (its timeout restarting with each reply,
// a cancel ending it, on the broker too), and a push consumer on them gets every message once,
// in order, without caching past its flow-control threshold.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client_cluster.h"
#include "common/io_executor.h"
#include "fast_send_connection.h"
#include "gate.h"
#include "mq/client/producer.h"
#include "mq/client/push_consumer.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

using namespace std::chrono_literals;
using mq::client::MakeMessage;

// What a stream call heard: each reply's next offset and flag, and how it ended.
struct Heard {
  std::mutex mu;
  std::vector<std::pair<int64_t, bool>> replies;  // (next_begin_offset, more)
  std::optional<mq::Status> ended_with;           // a final reply's status, or why there was none

  size_t count() {
    std::lock_guard lock(mu);
    return replies.size();
  }
  bool ended() {
    std::lock_guard lock(mu);
    return ended_with.has_value();
  }
  mq::client::FastSendConnection::StreamDone Done() {
    return [this](mq::Result<std::string_view> r, bool more) {
      std::lock_guard lock(mu);
      ASSERT_FALSE(ended_with.has_value()) << "a reply after the last";
      if (!r.ok()) {
        ASSERT_FALSE(more);
        ended_with = r.status();
        return;
      }
      mq::v1::PullMessageResponse resp;
      ASSERT_TRUE(resp.ParseFromArray(r->data(), static_cast<int>(r->size())));
      replies.emplace_back(resp.next_begin_offset(), more);
      if (!more) ended_with = mq::Status::OK();
    };
  }
};

class ClientStandingPullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.Start());
    ASSERT_TRUE(cluster_.CreateTopic("StandTopic", 1, 1));
    ASSERT_TRUE(producer_.Start().ok());
  }
  void TearDown() override {
    if (connection_) connection_->Close();
    io_.Shutdown();
    producer_.Shutdown();
  }
  // A connection of the test's own to the broker's fast port.
  mq::client::FastSendConnection& Connect() {
    io_.Start();
    connection_ = mq::client::FastSendConnection::Open(io_.context(), cluster_.broker(0).fast_address());
    return *connection_;
  }

  void Send(const std::string& body) { ASSERT_TRUE(producer_.Send(MakeMessage("StandTopic", body)).ok()); }

  ClientCluster cluster_;
  mq::client::Producer producer_{cluster_.Producer()};
  // What the test's stream calls heard; before the connection, which may still call them when
  // a failed test leaves a call open.
  Heard first_, second_;
  IoExecutor io_{"stream-test", 1};
  std::shared_ptr<mq::client::FastSendConnection> connection_;
};

std::string StandingPull(int64_t offset, int32_t standing) {
  mq::v1::PullMessageRequest req;
  req.set_consumer_group("stream_group");
  req.set_topic("StandTopic");
  req.set_queue_id(0);
  req.set_queue_offset(offset);
  req.set_max_msg_nums(32);
  req.set_subscription("*");
  req.set_suspend_timeout_millis(20'000);
  req.set_standing_replies(standing);
  return req.SerializeAsString();
}

// Three replies to one call, the first two flagged; the call's 2 s timeout runs from the last
// reply, so replies 1.2 s apart keep it open past 2 s from its start.
TEST_F(ClientStandingPullTest, AStreamCallTakesEachFlaggedReplyThenItsLast) {
  auto& connection = Connect();
  Heard& heard = first_;
  const std::string request = StandingPull(0, 2);
  const auto start = std::chrono::steady_clock::now();
  connection.CallStream(frame::Method::kPullMessage, {request}, 2'000, heard.Done());
  for (size_t i = 0; i < 3; ++i) {
    if (i > 0) std::this_thread::sleep_for(1200ms);  // the gap the timeout must survive
    ASSERT_NO_FATAL_FAILURE(Send("s" + std::to_string(i)));
    ASSERT_TRUE(WaitUntil([&] { return heard.count() == i + 1 || heard.ended(); }, 10s)) << i;
  }
  EXPECT_GT(std::chrono::steady_clock::now() - start, 2'000ms);
  ASSERT_TRUE(heard.ended());
  std::lock_guard lock(heard.mu);
  EXPECT_TRUE(heard.ended_with->ok()) << heard.ended_with->ToString();
  const std::vector<std::pair<int64_t, bool>> expected = {{1, true}, {2, true}, {3, false}};
  EXPECT_EQ(heard.replies, expected);
}

// A cancelled stream ends once with the cancel's status; its later replies are dropped, and
// one that gets no reply within its timeout ends with kTimeout.
TEST_F(ClientStandingPullTest, ACancelledOrSilentStreamEndsOnce) {
  auto& connection = Connect();
  Heard& cancelled = first_;
  const std::string request = StandingPull(0, 8);
  const uint64_t id = connection.CallStream(frame::Method::kPullMessage, {request}, 10'000, cancelled.Done());
  ASSERT_NO_FATAL_FAILURE(Send("c0"));
  ASSERT_TRUE(WaitUntil([&] { return cancelled.count() == 1; }, 10s));
  connection.Cancel(id, mq::Status::Unavailable("cancelled by the test"));
  ASSERT_TRUE(WaitUntil([&] { return cancelled.ended(); }, 10s));
  ASSERT_NO_FATAL_FAILURE(Send("c1"));  // wakes the broker's side, whose reply is dropped

  Heard& silent = second_;  // asks from offset 2: nothing comes within its 500 ms
  const std::string quiet = StandingPull(2, 8);
  connection.CallStream(frame::Method::kPullMessage, {quiet}, 500, silent.Done());
  ASSERT_TRUE(WaitUntil([&] { return silent.ended(); }, 10s));
  {
    std::lock_guard lock(silent.mu);
    EXPECT_EQ(silent.ended_with->code(), mq::StatusCode::kTimeout) << silent.ended_with->ToString();
  }
  std::lock_guard lock(cancelled.mu);
  EXPECT_EQ(cancelled.replies.size(), 1u);
  EXPECT_EQ(cancelled.ended_with->code(), mq::StatusCode::kUnavailable) << cancelled.ended_with->ToString();
}

// A cancelled stream call ends the broker's pull too (a Cancel frame): its place there is freed
// at once, not at its 20 s hold time.
TEST_F(ClientStandingPullTest, ACancelledStreamEndsTheBrokersPullAtOnce) {
  auto& connection = Connect();
  const std::string request = StandingPull(0, 8);
  const uint64_t id = connection.CallStream(frame::Method::kPullMessage, {request}, 30'000, first_.Done());
  auto suspended = [&] { return RuntimeValue(cluster_.broker(0).admin(), "suspendedRequests"); };
  ASSERT_TRUE(WaitUntil([&] { return suspended() == "1"; }, 10s)) << suspended();
  connection.Cancel(id, mq::Status::Unavailable("cancelled by the test"));
  EXPECT_TRUE(WaitUntil([&] { return suspended() == "0"; }, 10s)) << suspended();
  ASSERT_TRUE(WaitUntil([&] { return first_.ended(); }, 10s));
  std::lock_guard lock(first_.mu);
  EXPECT_TRUE(first_.replies.empty());
  EXPECT_EQ(first_.ended_with->code(), mq::StatusCode::kUnavailable) << first_.ended_with->ToString();
}

// Messages sent one by one while the consumer keeps up arrive on standing pulls; each is
// consumed once, in queue order.
TEST_F(ClientStandingPullTest, APushConsumerGetsEveryMessageOnceInOrder) {
  auto o = cluster_.Consumer("standing_order");
  o.consume_threads = 1;
  o.pull_suspend_ms = 10'000;
  mq::client::PushConsumer consumer(o);
  std::mutex mu;
  std::vector<std::string> seen;
  ASSERT_TRUE(consumer.Subscribe("StandTopic", "*").ok());
  consumer.RegisterListener([&](const std::vector<mq::client::ReceivedMessage>& msgs) {
    std::lock_guard lock(mu);
    for (const auto& m : msgs) seen.push_back(m.message.body);
    return mq::client::ConsumeResult::kSuccess;
  });
  ASSERT_TRUE(consumer.Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return !consumer.ProcessQueueInfos().empty(); }, 20s));
  constexpr int kMessages = 60;
  std::vector<std::string> sent;
  for (int i = 0; i < kMessages; ++i) {
    sent.push_back("o" + std::to_string(i));
    ASSERT_NO_FATAL_FAILURE(Send(sent.back()));
    if (i % 3 == 0) {  // let some arrive while a pull stands, some in small bursts
      ASSERT_TRUE(WaitUntil(
          [&] {
            std::lock_guard lock(mu);
            return seen.size() == sent.size();
          },
          10s));
    }
  }
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::lock_guard lock(mu);
        return seen.size() >= sent.size();
      },
      20s));
  consumer.Shutdown();
  std::lock_guard lock(mu);
  EXPECT_EQ(seen, sent);
}

// A listener that does not return: the standing pulls together bring no more than
// pull_threshold_for_queue (4), though each could stand for 8 more replies of one message.
TEST_F(ClientStandingPullTest, FlowControlHoldsAcrossAStandingPullsReplies) {
  auto o = cluster_.Consumer("standing_flow");
  o.consume_threads = 1;
  o.pull_threshold_for_queue = 4;
  o.pull_standing_replies = 8;
  o.pull_suspend_ms = 10'000;
  mq::client::PushConsumer consumer(o);
  Gate release;
  std::shared_future<void> gate = release.future();
  std::atomic<int> consumed{0};
  ASSERT_TRUE(consumer.Subscribe("StandTopic", "*").ok());
  consumer.RegisterListener([&, gate](const std::vector<mq::client::ReceivedMessage>& msgs) {
    gate.wait();
    consumed += static_cast<int>(msgs.size());
    return mq::client::ConsumeResult::kSuccess;
  });
  ASSERT_TRUE(consumer.Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return !consumer.ProcessQueueInfos().empty(); }, 20s));
  auto cached = [&] {
    auto infos = consumer.ProcessQueueInfos();
    return infos.empty() ? int64_t{0} : infos[0].cached_msg_count;
  };
  int64_t most = 0;
  constexpr int kMessages = 12;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_NO_FATAL_FAILURE(Send("f" + std::to_string(i)));
    // Each arrives alone: wait until the consumer took it or its cache is full.
    ASSERT_TRUE(WaitUntil([&] { return cached() >= std::min<int64_t>(i + 1, 4); }, 10s)) << i;
    most = std::max(most, cached());
  }
  EXPECT_FALSE(WaitUntil([&] { return cached() > 4; }, 1500ms)) << "cached " << cached();
  EXPECT_LE(most, 4);
  release.Open();
  ASSERT_TRUE(WaitUntil([&] { return consumed.load() >= kMessages; }, 30s)) << consumed.load();
  consumer.Shutdown();
}

}  // namespace
}  // namespace mq::testing
