// Scheduled delivery (deliver_time_ms / TIMER_DELIVER_MS) and recall with real processes:
// 1 NameServer, a broker (and a slave), the client library's Producer and PushConsumer.
// Every delivery is checked against the wall clock: never before its time, at most 1.5 s
// after (timerPrecisionMs=1000 plus the consumer's hop).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "broker_fixture.h"
#include "common/clock.h"
#include "mq/client/producer.h"
#include "mq/client/push_consumer.h"
#include "namesrv_fixture.h"
#include "testutil/process.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

using namespace std::chrono_literals;
using mq::client::ConsumeResult;
using mq::client::Message;
using mq::client::ReceivedMessage;

constexpr int64_t kMaxLateMs = 1500;

struct Received {
  std::string body;
  int64_t deliver_ms = 0;
  int64_t at_ms = 0;  // wall clock when the listener got it
  int64_t queue_offset = 0;
};

// Records every delivery with its arrival time. Thread-safe.
class Recorder {
 public:
  mq::client::MessageListener Listener() {
    return [this](const std::vector<ReceivedMessage>& msgs) {
      const int64_t now = WallMillis();
      std::lock_guard lock(mu_);
      for (const auto& m : msgs) {
        auto it = m.message.properties.find("TIMER_OUT_MS");
        got_.push_back(Received{m.message.body, it == m.message.properties.end() ? 0 : std::stoll(it->second),
                                now, m.queue_offset});
      }
      return ConsumeResult::kSuccess;
    };
  }
  std::vector<Received> got() {
    std::lock_guard lock(mu_);
    return got_;
  }
  size_t size() {
    std::lock_guard lock(mu_);
    return got_.size();
  }
  bool Has(const std::string& body) {
    std::lock_guard lock(mu_);
    return std::any_of(got_.begin(), got_.end(), [&](const Received& r) { return r.body == body; });
  }

 private:
  std::mutex mu_;
  std::vector<Received> got_;  // guarded by mu_
};

class TimerDeliveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(namesrv_.started()) << namesrv_.process().ReadLog();
    broker_ = std::make_unique<BrokerProcess>(
        BrokerOptions{namesrv_.address(),
                      dir_.Sub("broker"),
                      "broker-a",
                      {"recallMessageEnable=true", "timerMaxDelaySec=600", "haListenPort=0"}});
    ASSERT_TRUE(broker_->Start()) << broker_->process().ReadLog();
  }
  void TearDown() override {
    if (consumer_) consumer_->Shutdown();
    if (producer_) producer_->Shutdown();
  }
  mq::client::ClientOptions Client() const {
    mq::client::ClientOptions o;
    o.namesrv_addrs = {namesrv_.address()};
    o.route_refresh_ms = 500;
    o.heartbeat_ms = 1000;
    return o;
  }
  // Creates `topic` (queues) and waits for its route; starts a producer and a consumer.
  void StartClients(const std::string& topic, int queues) {
    CreateTopic(*broker_, topic, queues);
    ASSERT_TRUE(WaitUntil([&] {
      mq::v1::TopicRouteData route;
      return QueryRoute(namesrv_.stub(), topic, &route).ok() && route.queue_datas_size() == 1;
    }));
    mq::client::ProducerOptions po;
    po.client = Client();
    producer_ = std::make_unique<mq::client::Producer>(po);
    ASSERT_TRUE(producer_->Start().ok());
    mq::client::PushConsumerOptions co;
    co.client = Client();
    co.group = "timer_group";
    co.consume_from_where = mq::client::ConsumeFromWhere::kFirstOffset;
    co.rebalance_interval_ms = 500;
    co.commit_interval_ms = 500;
    co.pull_suspend_ms = 3000;
    co.consume_threads = 1;
    co.offset_dir = dir_.Sub("offsets");
    consumer_ = std::make_unique<mq::client::PushConsumer>(co);
    ASSERT_TRUE(consumer_->Subscribe(topic, "*").ok());
    consumer_->RegisterListener(recorder_.Listener());
    ASSERT_TRUE(consumer_->Start().ok());
    ASSERT_TRUE(WaitUntil([&] { return consumer_->AssignedQueues().size() == static_cast<size_t>(queues); }));
  }
  Result<mq::client::SendResult> SendAt(const std::string& topic, const std::string& body,
                                        int64_t deliver_ms) {
    Message m = mq::client::MakeMessage(topic, body);
    m.deliver_time_ms = deliver_ms;
    return producer_->Send(m);
  }
  bool WaitPending(BrokerProcess& b, int64_t n) {
    return WaitUntil([&] { return RuntimeValue(b.admin(), "timerPending") == std::to_string(n); });
  }
  static void ExpectInWindow(const Received& r) {
    EXPECT_GT(r.deliver_ms, 0) << r.body;
    EXPECT_GE(r.at_ms, r.deliver_ms) << r.body << " delivered early";
    EXPECT_LE(r.at_ms, r.deliver_ms + kMaxLateMs) << r.body << " delivered late";
  }

  NamesrvProcess namesrv_;
  TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_;
  std::unique_ptr<mq::client::Producer> producer_;
  std::unique_ptr<mq::client::PushConsumer> consumer_;
  Recorder recorder_;
};

TEST_F(TimerDeliveryTest, TimestampDelayIsDeliveredWithinTheWindow) {
  StartClients("TimerOne", 2);
  const int64_t t = WallMillis() + 2000;
  auto sent = SendAt("TimerOne", "at-t", t);
  ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  EXPECT_FALSE(sent->recall_handle.empty());
  EXPECT_EQ(sent->status, mq::client::SendStatus::kSendOk);
  // The RocketMQ property route too (TIMER_DELIVER_MS as a user property).
  Message m = mq::client::MakeMessage("TimerOne", "by-property");
  m.properties["TIMER_DELIVER_MS"] = std::to_string(t);
  ASSERT_TRUE(producer_->Send(m).ok());
  // A time in the past is delivered at once.
  auto past = SendAt("TimerOne", "in-the-past", WallMillis() - 60'000);
  ASSERT_TRUE(past.ok());
  EXPECT_TRUE(past->recall_handle.empty());
  ASSERT_TRUE(WaitUntil([&] { return recorder_.Has("in-the-past"); }));
  EXPECT_LT(WallMillis(), t) << "setup too slow to tell immediate from scheduled";
  EXPECT_FALSE(recorder_.Has("at-t"));
  ASSERT_TRUE(WaitUntil([&] { return recorder_.size() == 3; }));
  for (const auto& r : recorder_.got()) {
    if (r.body != "in-the-past") ExpectInWindow(r);
  }
}

TEST_F(TimerDeliveryTest, ManyRandomTimesArriveInTimeOrderWithinTheWindow) {
  StartClients("TimerMany", 1);
  std::mt19937 rng(42);
  std::uniform_int_distribution<int64_t> delay(1000, 6000);
  const int64_t base = WallMillis();
  constexpr int kCount = 60;
  for (int i = 0; i < kCount; ++i) {
    auto r = SendAt("TimerMany", "m" + std::to_string(i), base + delay(rng));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  ASSERT_TRUE(WaitUntil([&] { return recorder_.size() == kCount; }, 15s));
  auto got = recorder_.got();
  std::sort(got.begin(), got.end(),
            [](const Received& a, const Received& b) { return a.queue_offset < b.queue_offset; });
  for (size_t i = 0; i < got.size(); ++i) {
    ExpectInWindow(got[i]);
    if (i > 0) {
      EXPECT_LE(got[i - 1].deliver_ms, got[i].deliver_ms) << "queue order is not time order at " << i;
    }
  }
}

TEST_F(TimerDeliveryTest, SurvivesKillNineWhileWaiting) {
  StartClients("TimerCrash", 2);
  const int64_t base = WallMillis() + 4000;
  constexpr int kCount = 20;
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(SendAt("TimerCrash", "c" + std::to_string(i), base + i * 100).ok());
  }
  ASSERT_TRUE(WaitPending(*broker_, kCount));
  broker_->process().Kill();
  ASSERT_TRUE(broker_->Start()) << broker_->process().ReadLog();
  const int64_t restarted = WallMillis();
  ASSERT_TRUE(WaitUntil([&] { return recorder_.size() >= kCount; }, 20s));
  std::set<std::string> distinct;
  for (const auto& r : recorder_.got()) {
    distinct.insert(r.body);
    EXPECT_GE(r.at_ms, r.deliver_ms) << r.body << " delivered early";
    // Not late either, unless the restart itself took it past its time.
    if (r.deliver_ms > restarted) {
      EXPECT_LE(r.at_ms, r.deliver_ms + kMaxLateMs) << r.body;
    }
  }
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kCount));
}

TEST_F(TimerDeliveryTest, RecalledMessageIsNeverDeliveredEvenAfterKillNine) {
  StartClients("TimerRecall", 1);
  const int64_t t = WallMillis() + 4000;
  auto keep = SendAt("TimerRecall", "keep", t);
  auto drop = SendAt("TimerRecall", "drop", t);
  ASSERT_TRUE(keep.ok() && drop.ok());
  auto recalled = producer_->RecallMessage("TimerRecall", drop->recall_handle);
  ASSERT_TRUE(recalled.ok()) << recalled.status().ToString();
  EXPECT_EQ(*recalled, drop->msg_id);
  // Bad handles get clear errors.
  auto garbage = producer_->RecallMessage("TimerRecall", "%%%");
  EXPECT_EQ(garbage.status().code(), StatusCode::kInvalidArgument);
  auto other_topic = producer_->RecallMessage("TimerMany", drop->recall_handle);
  EXPECT_FALSE(other_topic.ok());
  broker_->process().Kill();
  ASSERT_TRUE(broker_->Start()) << broker_->process().ReadLog();
  ASSERT_TRUE(WaitUntil([&] { return recorder_.Has("keep"); }, 15s));
  // Both sit in the same slot, so "drop" was skipped in the very step that delivered "keep".
  ASSERT_TRUE(WaitUntil([&] { return RuntimeValue(broker_->admin(), "timerRecalled") == "1"; }));
  EXPECT_FALSE(recorder_.Has("drop"));
  auto late = producer_->RecallMessage("TimerRecall", keep->recall_handle);
  EXPECT_EQ(late.status().code(), StatusCode::kFailedPrecondition) << late.status().ToString();
}

TEST_F(TimerDeliveryTest, DeliveryTimeBeyondTimerMaxDelaySecIsRefusedNamingTheField) {
  StartClients("TimerFar", 1);
  auto far = SendAt("TimerFar", "far", WallMillis() + 601'000);
  ASSERT_FALSE(far.ok());
  EXPECT_EQ(far.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(far.status().message().find("deliver_time_ms"), std::string::npos) << far.status().ToString();
  EXPECT_NE(far.status().message().find("timerMaxDelaySec=600"), std::string::npos)
      << far.status().ToString();
  Message m = mq::client::MakeMessage("TimerFar", "far-sec");
  m.properties["TIMER_DELAY_SEC"] = "3600";
  auto by_prop = producer_->Send(m);
  ASSERT_FALSE(by_prop.ok());
  EXPECT_NE(by_prop.status().message().find("TIMER_DELAY_SEC"), std::string::npos)
      << by_prop.status().ToString();
  // A batch cannot carry a scheduled message.
  Message a = mq::client::MakeMessage("TimerFar", "a");
  Message b = mq::client::MakeMessage("TimerFar", "b");
  b.deliver_time_ms = WallMillis() + 5000;
  auto batch = producer_->SendBatch({a, b});
  ASSERT_FALSE(batch.ok());
  EXPECT_NE(batch.status().message().find("messages[1].deliver_time_ms"), std::string::npos);
}

TEST_F(TimerDeliveryTest, SlaveHoldsThePendingTimersAndDropsThemOnceDelivered) {
  TempDir slave_dir;
  BrokerProcess slave(BrokerOptions{namesrv_.address(),
                                    slave_dir.path(),
                                    "broker-a",
                                    {"brokerRole=SLAVE", "brokerId=1", "haListenPort=0"}});
  ASSERT_TRUE(slave.Start()) << slave.process().ReadLog();
  ASSERT_TRUE(WaitUntil([&] { return RuntimeValue(broker_->admin(), "haSlaveCount") == "1"; }, 15s));
  StartClients("TimerSlave", 1);
  const int64_t t = WallMillis() + 3000;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(SendAt("TimerSlave", "s" + std::to_string(i), t).ok());
  ASSERT_TRUE(WaitPending(slave, 5)) << slave.process().ReadLog();
  EXPECT_EQ(RuntimeValue(slave.admin(), "timerDelivered"), "0");
  ASSERT_TRUE(WaitUntil([&] { return recorder_.size() == 5; }, 10s));
  // The master's progress record reaches the slave through the log: the slot is done there too.
  ASSERT_TRUE(WaitPending(slave, 0));
  EXPECT_EQ(RuntimeValue(slave.admin(), "timerDelivered"), "0");
  // The slave has the delivered copies by replication, not by delivering them itself.
  EXPECT_TRUE(WaitForMaxOffset(slave.messaging(), "TimerSlave", 0, 5));
  slave.Stop();
}

TEST_F(TimerDeliveryTest, MqadminSendsAScheduledMessageAndRecallsIt) {
  StartClients("TimerAdmin", 1);
  auto mqadmin = [&](std::vector<std::string> args) {
    args.push_back("-n");
    args.push_back(namesrv_.address());
    static int runs = 0;
    ChildProcess p;
    const std::string log = dir_.Sub("mqadmin." + std::to_string(++runs) + ".out");
    if (!p.Start(BinaryPath("mqadmin"), args, log)) return std::make_pair(-1, std::string());
    auto st = p.Wait(30s);
    if (!st) p.Kill();
    return std::make_pair(st && WIFEXITED(*st) ? WEXITSTATUS(*st) : -1, p.ReadLog());
  };
  // Three mqadmin runs (two sends and the recall) must all reach the broker before t: a process
  // start takes seconds under a sanitizer, and a send that arrives after t is delivered at once,
  // with no recall handle.
  const int64_t t = WallMillis() + 10'000;
  auto [code, out] =
      mqadmin({"sendMessage", "-t", "TimerAdmin", "-p", "recall-me", "--deliverTimeMs", std::to_string(t)});
  ASSERT_EQ(code, 0) << out;
  const size_t at = out.find("RecallHandle: ");
  ASSERT_NE(at, std::string::npos) << out;
  std::string handle = out.substr(at + 14);
  handle = handle.substr(0, handle.find_first_of("\r\n"));
  auto [kept_code, kept_out] =
      mqadmin({"sendMessage", "-t", "TimerAdmin", "-p", "keep-me", "--deliverTimeMs", std::to_string(t)});
  ASSERT_EQ(kept_code, 0) << kept_out;
  auto [rc, rout] = mqadmin({"recallMessage", "-t", "TimerAdmin", "-h", handle});
  EXPECT_EQ(rc, 0) << rout;
  EXPECT_NE(rout.find("recall message success"), std::string::npos) << rout;
  auto [bad, bad_out] = mqadmin({"recallMessage", "-t", "TimerAdmin", "-h", "not-a-handle"});
  EXPECT_NE(bad, 0) << bad_out;
  EXPECT_NE(bad_out.find("handle"), std::string::npos) << bad_out;
  ASSERT_LT(WallMillis(), t) << "the mqadmin runs took longer than the delivery delay";
  EXPECT_FALSE(recorder_.Has("keep-me"));
  ASSERT_TRUE(WaitUntil([&] { return recorder_.Has("keep-me"); }, 20s));
  ASSERT_TRUE(WaitUntil([&] { return RuntimeValue(broker_->admin(), "timerRecalled") == "1"; }));
  EXPECT_FALSE(recorder_.Has("recall-me"));
  for (const auto& r : recorder_.got()) ExpectInWindow(r);
}

}  // namespace
}  // namespace mq::testing
