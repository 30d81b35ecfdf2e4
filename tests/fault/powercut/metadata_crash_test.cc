// Metadata across power cuts: topics, subscription groups and consumer offsets (JSON files
// written by WriteFileAtomically) are never lost once acknowledged, never half-written, and
// the broker restarts on them without falling back to a backup or giving up.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "fault/powercut/crash_harness.h"
#include "grpc_test_util.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

using Admin = mq::v1::BrokerAdmin::Stub;
using Messaging = mq::v1::Messaging::Stub;

// Creates topics and groups and commits offsets on a thread until stopped; remembers what
// the broker acknowledged.
class MetadataLoad {
 public:
  explicit MetadataLoad(BrokerProcess* broker, int round) : broker_(broker), round_(round) {}
  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::set<std::string> topics, groups;  // acknowledged; read after Stop()
  std::set<int64_t> offsets;             // acknowledged commits of group "G" on PowerCut/0

 private:
  void Run() {
    for (int i = 0; i < 2000 && !stop_; ++i) {
      std::string suffix = std::to_string(round_) + "_" + std::to_string(i);
      mq::v1::CreateTopicRequest t;
      t.mutable_config()->set_topic_name("Meta" + suffix);
      t.mutable_config()->set_read_queue_nums(2);
      t.mutable_config()->set_write_queue_nums(2);
      t.mutable_config()->set_perm(6);
      mq::v1::CreateTopicResponse tr;
      if (Call(broker_->admin(), &Admin::CreateTopic, t, &tr).ok()) topics.insert("Meta" + suffix);
      mq::v1::CreateSubscriptionGroupRequest g;
      g.mutable_config()->set_group_name("G" + suffix);
      g.mutable_config()->set_consume_enable(true);
      mq::v1::CreateSubscriptionGroupResponse gr;
      if (Call(broker_->admin(), &Admin::CreateSubscriptionGroup, g, &gr).ok()) groups.insert("G" + suffix);
      mq::v1::UpdateConsumerOffsetRequest o;
      o.set_consumer_group("G");
      o.mutable_queue()->set_topic(CrashHarness::kTopic);
      o.mutable_queue()->set_queue_id(0);
      int64_t value = round_ * 10000 + i;
      o.set_offset(value);
      mq::v1::UpdateConsumerOffsetResponse orr;
      if (Call(broker_->messaging(), &Messaging::UpdateConsumerOffset, o, &orr).ok()) offsets.insert(value);
    }
  }
  BrokerProcess* broker_;
  int round_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

::testing::AssertionResult MetadataSurvived(BrokerProcess* broker, const std::set<std::string>& topics,
                                            const std::set<std::string>& groups,
                                            const std::set<int64_t>& offsets) {
  mq::v1::GetTopicConfigResponse tc;
  grpc::Status s = Call(broker->admin(), &Admin::GetTopicConfig, mq::v1::GetTopicConfigRequest(), &tc);
  if (!s.ok()) return ::testing::AssertionFailure() << "GetTopicConfig: " << s.error_message();
  std::set<std::string> have_topics;
  for (const auto& c : tc.configs()) have_topics.insert(c.topic_name());
  for (const auto& t : topics) {
    if (!have_topics.count(t))
      return ::testing::AssertionFailure() << "acknowledged topic " << t << " is lost";
  }
  mq::v1::GetSubscriptionGroupsResponse gc;
  s = Call(broker->admin(), &Admin::GetSubscriptionGroups, mq::v1::GetSubscriptionGroupsRequest(), &gc);
  if (!s.ok()) return ::testing::AssertionFailure() << "GetSubscriptionGroups: " << s.error_message();
  std::set<std::string> have_groups;
  for (const auto& c : gc.configs()) have_groups.insert(c.group_name());
  for (const auto& g : groups) {
    if (!have_groups.count(g))
      return ::testing::AssertionFailure() << "acknowledged group " << g << " is lost";
  }
  // Offsets persist on a timer (flushConsumerOffsetInterval): a cut may take the newest
  // commits, but what is read back must be a value that was committed, never garbage.
  mq::v1::QueryConsumerOffsetRequest q;
  q.set_consumer_group("G");
  q.mutable_queue()->set_topic(CrashHarness::kTopic);
  q.mutable_queue()->set_queue_id(0);
  mq::v1::QueryConsumerOffsetResponse qr;
  s = Call(broker->messaging(), &Messaging::QueryConsumerOffset, q, &qr);
  if (s.ok() && !offsets.count(qr.offset())) {
    return ::testing::AssertionFailure() << "consumer offset " << qr.offset() << " was never committed";
  }
  std::string log = broker->process().ReadLog();
  if (log.find("loaded backup") != std::string::npos || log.find("unusable (") != std::string::npos) {
    return ::testing::AssertionFailure() << "a config file was half-written:\n" << log;
  }
  return ::testing::AssertionSuccess();
}

class MetadataCrashTest : public ::testing::TestWithParam<CutMoment> {};

TEST_P(MetadataCrashTest, AcknowledgedMetadataSurvivesTheCut) {
  const CutMoment& m = GetParam();
  CrashHarness h(/*sync_flush=*/true);
  if (!h.usable()) GTEST_SKIP() << h.skip_reason();
  ASSERT_TRUE(h.StartBroker());
  std::mt19937 rng(56);
  std::set<std::string> topics, groups;
  std::set<int64_t> offsets;
  for (int round = 0; round < 3; ++round) {
    if (m.op[0] != '\0') {
      ASSERT_TRUE(h.mount().Arm(m.op, m.glob, m.nth));
    }
    MetadataLoad load(&h.broker(), round);
    load.Start();
    if (m.op[0] != '\0') {
      EXPECT_TRUE(h.mount().WaitFrozen(std::chrono::seconds(30)))
          << m.name << ": " << h.mount().Command("status");
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 900));  // a random moment
    }
    ASSERT_TRUE(h.PowerCut()) << m.name;
    load.Stop();
    topics.insert(load.topics.begin(), load.topics.end());
    groups.insert(load.groups.begin(), load.groups.end());
    offsets.insert(load.offsets.begin(), load.offsets.end());
    ASSERT_TRUE(h.StartBroker()) << m.name << " round " << round << " restart";
    ASSERT_TRUE(MetadataSurvived(&h.broker(), topics, groups, offsets)) << m.name << " round " << round;
  }
  std::printf("%s: %zu topics, %zu groups, %zu offset commits acknowledged across 3 cuts\n", m.name,
              topics.size(), groups.size(), offsets.size());
}

INSTANTIATE_TEST_SUITE_P(
    Moments, MetadataCrashTest,
    ::testing::Values(CutMoment{"RandomMoment", "", "", 0},
                      CutMoment{"MidTopicsWrite", "write", "*/config/topics.json.tmp", 4},
                      CutMoment{"MidTopicsRename", "rename", "*/config/topics.json.tmp", 3},
                      CutMoment{"MidTopicsBackup", "fsync", "*/config/topics.json.bak.tmp", 2},
                      CutMoment{"MidGroupsRename", "rename", "*/config/subscriptionGroup.json.tmp", 3},
                      CutMoment{"MidOffsetsWrite", "write", "*/config/consumerOffset.json.tmp", 2},
                      CutMoment{"MidConfigDirFsync", "fsyncdir", "*/config", 5}),
    CutMomentName);

}  // namespace
}  // namespace mq::testing
