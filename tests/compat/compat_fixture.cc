#include "compat_fixture.h"

#include "grpc_test_util.h"
#include "testutil/wait.h"

namespace mq::testing {

void CompatTest::SetUp() {
  if (auto reason = NodeSdkMissingReason()) GTEST_SKIP() << *reason;
}

void CompatTest::TearDown() {
  if (broker_ && broker_->process().running()) {
    // A scenario must never take the broker down: it is still serving when the test ends.
    EXPECT_NE(RuntimeValue(broker_->admin(), "brokerVersionDesc"), "") << broker_->process().ReadLog();
    EXPECT_EQ(broker_->Stop(), 0);
  } else if (broker_) {
    ADD_FAILURE() << "the broker exited during the test:\n" << broker_->process().ReadLog();
  }
}

void CompatTest::StartCluster() {
  namesrv_ = std::make_unique<NamesrvProcess>();
  ASSERT_TRUE(namesrv_->started()) << namesrv_->process().ReadLog();
  BrokerOptions options;
  options.namesrv_addr = namesrv_->address();
  options.store_dir = dir_.Sub("broker");
  // Short intervals so redelivery, check-back and long polling happen within seconds.
  options.sets = {"grpcServerPort=-1",
                  "minInvisibleTimeMillsForRecv=1000",
                  "transactionTimeOut=500",
                  "transactionCheckInterval=500",
                  "reviveInterval=200",
                  "grpcClientConsumerMinLongPollingTimeoutMillis=200",
                  "grpcClientConsumerMaxLongPollingTimeoutMillis=2000"};
  for (auto& s : ExtraBrokerSettings()) options.sets.push_back(std::move(s));
  broker_ = std::make_unique<BrokerProcess>(std::move(options));
  ASSERT_TRUE(broker_->Start()) << broker_->process().ReadLog();
  endpoints_ = broker_->v2_address();
  ASSERT_FALSE(endpoints_.empty()) << "the broker did not report a v2 address (grpcServerPort=-1)";
}

std::unique_ptr<NodeScenario> CompatTest::Launch(const std::string& script, std::vector<std::string> args,
                                                 std::chrono::milliseconds timeout) {
  args.insert(args.begin(), {"--endpoints", endpoints_, "--timeout-ms", std::to_string(timeout.count())});
  auto log = dir_.Sub("node." + std::to_string(++scenarios_) + "." + script + ".log");
  auto scenario = std::make_unique<NodeScenario>(script, std::move(args), log);
  EXPECT_TRUE(scenario->Start()) << "could not start node " << script;
  return scenario;
}

void CompatTest::ExpectExitOk(NodeScenario& scenario, std::chrono::milliseconds timeout) {
  // The script enforces `timeout` itself (exit 2); the grace covers node start-up and shutdown.
  EXPECT_EQ(scenario.Wait(timeout + std::chrono::seconds(5)), 0) << scenario.Describe();
}

std::unique_ptr<NodeScenario> CompatTest::RunOk(const std::string& script, std::vector<std::string> args,
                                                std::chrono::milliseconds timeout) {
  auto scenario = Launch(script, std::move(args), timeout);
  ExpectExitOk(*scenario, timeout);
  return scenario;
}

void CompatTest::CreateGroup(const std::string& group, bool orderly) {
  mq::v1::CreateSubscriptionGroupRequest req;
  auto* c = req.mutable_config();
  c->set_group_name(group);
  c->set_consume_enable(true);
  c->set_consume_message_orderly(orderly);
  c->set_retry_queue_nums(1);
  c->set_retry_max_times(16);
  mq::v1::CreateSubscriptionGroupResponse resp;
  ASSERT_GRPC_OK(Call(broker_->admin(), &mq::v1::BrokerAdmin::Stub::CreateSubscriptionGroup, req, &resp));
}

void CompatTest::CreateTopicAndWaitForRoute(const std::string& topic, int queues) {
  CreateTopic(*broker_, topic, queues);
  EXPECT_TRUE(WaitUntil([&] { return QueryRoute(namesrv_->stub(), topic).ok(); }, std::chrono::seconds(10)))
      << "topic " << topic << " never appeared in the NameServer's routes";
}

std::set<std::string> AsSet(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

}  // namespace mq::testing
