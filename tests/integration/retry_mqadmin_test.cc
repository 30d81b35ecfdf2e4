// mqadmin verbs of issue 13 against a real NameServer and broker: sendMessage --delayLevel,
// consumeMessage on %DLQ% topics, updateSubGroup --retryMaxTimes and resendDLQ.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "broker_fixture.h"
#include "mq/client/producer.h"
#include "mq/client/push_consumer.h"
#include "namesrv_fixture.h"
#include "testutil/process.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

using mq::client::ConsumeResult;
using mq::client::ReceivedMessage;

struct AdminRun {
  int code = -1;
  std::string out;  // stdout and stderr together
};

class RetryMqadminTest : public ::testing::Test {
 protected:
  void StartBroker(std::vector<std::string> sets) {
    ::unsetenv("NAMESRV_ADDR");
    ASSERT_TRUE(namesrv_.started());
    sets.push_back("autoCreateTopicEnable=true");
    broker_ = std::make_unique<BrokerProcess>(
        BrokerOptions{namesrv_.address(), dir_.Sub("broker"), "broker-a", sets});
    ASSERT_TRUE(broker_->Start()) << broker_->process().ReadLog();
    CreateTopic(*broker_, "T", 2);
    ASSERT_TRUE(WaitUntil([&] {
      mq::v1::TopicRouteData route;
      return QueryRoute(namesrv_.stub(), "T", &route).ok();
    }));
  }
  void TearDown() override {
    // A clean exit: also catches sanitizer reports (leaks, UB) of the broker in ASan builds.
    if (broker_) {
      EXPECT_EQ(broker_->Stop(), 0) << broker_->process().ReadLog().substr(0, 4000);
    }
  }

  AdminRun Run(std::vector<std::string> args) {
    args.push_back("-n");
    args.push_back(namesrv_.address());
    std::string log = dir_.Sub("mqadmin." + std::to_string(++runs_) + ".out");
    ChildProcess p;
    AdminRun r;
    if (!p.Start(BinaryPath("mqadmin"), args, log)) return r;
    auto status = p.Wait(std::chrono::seconds(30));
    if (status && WIFEXITED(*status)) r.code = WEXITSTATUS(*status);
    r.out = p.ReadLog();
    return r;
  }
  bool Consumed(const std::string& topic, const std::string& body) {
    AdminRun r = Run({"consumeMessage", "-t", topic});
    return r.code == 0 && r.out.find("body=" + body) != std::string::npos;
  }

  TempDir dir_;
  NamesrvProcess namesrv_;
  std::unique_ptr<BrokerProcess> broker_;
  int runs_ = 0;
};

// Default messageDelayLevel: level 3 is 10 s.
TEST_F(RetryMqadminTest, SlowSendMessageWithDelayLevel3IsConsumableAfterTenSeconds) {
  StartBroker({});
  const auto before = std::chrono::steady_clock::now();
  AdminRun sent = Run({"sendMessage", "-t", "T", "-p", "later-x", "--delayLevel", "3"});
  ASSERT_EQ(sent.code, 0) << sent.out;
  EXPECT_NE(sent.out.find("SEND_OK"), std::string::npos) << sent.out;
  EXPECT_FALSE(Consumed("T", "later-x"));
  ASSERT_TRUE(WaitUntil([&] { return Consumed("T", "later-x"); }, std::chrono::seconds(14),
                        std::chrono::milliseconds(250)));
  EXPECT_GE(std::chrono::steady_clock::now() - before, std::chrono::milliseconds(9900));
  AdminRun bad = Run({"sendMessage", "-t", "T", "-p", "x", "--delayLevel", "-1"});
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.out.find("delay_level"), std::string::npos) << bad.out;
}

TEST_F(RetryMqadminTest, DeadLettersAreBrowsableAndResentOnceToTheOriginalTopic) {
  StartBroker({"messageDelayLevel=1s 1s 1s 1s 1s 1s"});
  AdminRun group = Run({"updateSubGroup", "-b", broker_->address(), "-g", "g-dlq", "--retryMaxTimes", "1"});
  ASSERT_EQ(group.code, 0) << group.out;

  std::atomic<bool> failing{true};
  std::mutex mu;
  std::vector<std::string> ok_ids;
  mq::client::PushConsumerOptions o;
  o.client.namesrv_addrs = {namesrv_.address()};
  o.client.route_refresh_ms = 300;
  o.client.heartbeat_ms = 500;
  o.group = "g-dlq";
  o.consume_from_where = mq::client::ConsumeFromWhere::kFirstOffset;
  o.rebalance_interval_ms = 300;
  o.pull_suspend_ms = 2000;
  o.consume_threads = 2;
  mq::client::PushConsumer consumer(o);
  ASSERT_TRUE(consumer.Subscribe("T", "*").ok());
  consumer.RegisterListener([&](const std::vector<ReceivedMessage>& msgs) {
    if (failing) return ConsumeResult::kRetryLater;
    std::lock_guard lock(mu);
    for (const auto& m : msgs) ok_ids.push_back(m.msg_id + "/" + m.message.topic + "/" + m.message.body);
    return ConsumeResult::kSuccess;
  });
  ASSERT_TRUE(consumer.Start().ok());

  AdminRun sent = Run({"sendMessage", "-t", "T", "-p", "dead-letter", "-k", "K1", "-c", "TagX"});
  ASSERT_EQ(sent.code, 0) << sent.out;
  // Two deliveries (reconsume 0 and 1), then the DLQ; consumeMessage reads it.
  ASSERT_TRUE(WaitUntil([&] { return Consumed("%DLQ%g-dlq", "dead-letter"); }, std::chrono::seconds(15),
                        std::chrono::milliseconds(250)));
  failing = false;

  AdminRun none = Run({"resendDLQ", "-g", "g-dlq"});
  EXPECT_NE(none.code, 0);
  EXPECT_NE(none.out.find("msgId"), std::string::npos) << none.out;
  AdminRun unknown = Run({"resendDLQ", "-g", "g-dlq", "-i", "0123456789ABCDEF0123456789ABCDEF"});
  EXPECT_NE(unknown.code, 0);
  AdminRun no_dlq = Run({"resendDLQ", "-g", "g-none", "--all"});
  EXPECT_NE(no_dlq.code, 0);
  EXPECT_NE(no_dlq.out.find("%DLQ%g-none"), std::string::npos) << no_dlq.out;

  AdminRun resent = Run({"resendDLQ", "-g", "g-dlq", "--all"});
  ASSERT_EQ(resent.code, 0) << resent.out;
  EXPECT_NE(resent.out.find("RESENT"), std::string::npos) << resent.out;
  EXPECT_EQ(resent.out.find("ALREADY_RESENT"), std::string::npos) << resent.out;
  // The consumer gets the resent copy from the original topic.
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::lock_guard lock(mu);
        return !ok_ids.empty();
      },
      std::chrono::seconds(10)));
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(ok_ids.size(), 1u);
    EXPECT_NE(ok_ids[0].find("/T/dead-letter"), std::string::npos) << ok_ids[0];
    // The new id is printed.
    EXPECT_NE(resent.out.find(ok_ids[0].substr(0, ok_ids[0].find('/'))), std::string::npos) << resent.out;
  }
  // Again: nothing is sent twice (by --all or by id).
  ASSERT_TRUE(WaitUntil([&] {
    AdminRun again = Run({"resendDLQ", "-g", "g-dlq", "--all", "--json"});
    return again.code == 0 && again.out.find("ALREADY_RESENT") != std::string::npos;
  }));
  AdminRun by_key = Run({"queryMsgByKey", "-t", "T", "-k", "K1"});
  EXPECT_EQ(by_key.code, 0) << by_key.out;
  consumer.Shutdown();
  std::lock_guard lock(mu);
  EXPECT_EQ(ok_ids.size(), 1u);
}

}  // namespace
}  // namespace mq::testing
