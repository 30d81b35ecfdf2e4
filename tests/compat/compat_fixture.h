// CompatTest: a real mqnamesrv + mqbroker (v2 gRPC endpoint on an ephemeral port) per test, and
// helpers that run tests/compat/*.js scenarios against it with the real Node.js SDK. Tests are
// skipped (GTEST_SKIP with the reason) when node or the npm packages are missing.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "broker_fixture.h"
#include "namesrv_fixture.h"
#include "node_scenario.h"
#include "testutil/temp_dir.h"

namespace mq::testing {

class CompatTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Broker settings added to the defaults below (later keys win); call before StartCluster().
  virtual std::vector<std::string> ExtraBrokerSettings() const { return {}; }

  // Starts namesrv + broker; fails the test when either does not come up.
  void StartCluster();
  const std::string& endpoints() const { return endpoints_; }  // the broker's v2 host:port
  BrokerProcess& broker() { return *broker_; }
  NamesrvProcess& namesrv() { return *namesrv_; }

  // Starts `script` with --endpoints and --timeout-ms added; the caller waits.
  std::unique_ptr<NodeScenario> Launch(const std::string& script, std::vector<std::string> args,
                                       std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // Launch + wait; asserts exit code 0 (printing the scenario's output otherwise).
  std::unique_ptr<NodeScenario> RunOk(const std::string& script, std::vector<std::string> args,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // Waits for a launched scenario (its timeout + a grace period) and asserts exit code 0.
  void ExpectExitOk(NodeScenario& scenario, std::chrono::milliseconds timeout = std::chrono::seconds(15));

  // Creates `topic` on the broker and waits until the NameServer's route has it: a v1 client
  // sending right after the cluster starts would otherwise race the broker's first registration.
  void CreateTopicAndWaitForRoute(const std::string& topic, int queues = 4);

  // Creates a subscription group through the v1 admin API (FIFO groups need consumeMessageOrderly).
  void CreateGroup(const std::string& group, bool orderly);

  TempDir dir_;

 private:
  std::unique_ptr<NamesrvProcess> namesrv_;
  std::unique_ptr<BrokerProcess> broker_;
  std::string endpoints_;
  int scenarios_ = 0;
};

std::set<std::string> AsSet(const std::vector<std::string>& v);

}  // namespace mq::testing
