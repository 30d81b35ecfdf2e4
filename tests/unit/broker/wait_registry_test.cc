#include "broker/longpolling/wait_registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "testutil/wait.h"

namespace mq::broker {
namespace {

using namespace std::chrono_literals;

class WaitRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override { executor_.Start(); }
  void TearDown() override {
    waits_.Shutdown();
    executor_.Shutdown();
  }
  IoExecutor executor_{"test", 2};
  WaitRegistry waits_{&executor_};
};

TEST_F(WaitRegistryTest, NotifyCompletesWhenConditionHolds) {
  std::atomic<bool> ready{false};
  std::atomic<int> answered{0};
  std::atomic<bool> by_timeout{false};
  ASSERT_TRUE(waits_
                  .Park("t@0", 10s,
                        [&](bool timed_out) {
                          if (!ready && !timed_out) return false;
                          by_timeout = timed_out;
                          ++answered;
                          return true;
                        })
                  .ok());
  ASSERT_TRUE(testing::WaitUntil([&] { return waits_.size() == 1; }, 5s));
  waits_.Notify("t@0");  // condition not met yet: stays parked
  waits_.Notify("other");
  ready = true;
  waits_.Notify("t@0");
  ASSERT_TRUE(testing::WaitUntil([&] { return answered == 1; }, 5s));
  EXPECT_FALSE(by_timeout);
  EXPECT_TRUE(testing::WaitUntil([&] { return waits_.size() == 0; }, 5s));
  waits_.Notify("t@0");  // never called again
  EXPECT_EQ(answered, 1);
}

TEST_F(WaitRegistryTest, DeadlineAnswersExactlyOnce) {
  std::atomic<int> timeouts{0};
  std::atomic<int> calls{0};
  ASSERT_TRUE(waits_
                  .Park("k", 50ms,
                        [&](bool timed_out) {
                          ++calls;
                          if (timed_out) ++timeouts;
                          return timed_out;
                        })
                  .ok());
  ASSERT_TRUE(testing::WaitUntil([&] { return timeouts == 1; }, 5s));
  waits_.Notify("k");
  EXPECT_TRUE(testing::WaitUntil([&] { return waits_.size() == 0; }, 5s));
  EXPECT_EQ(timeouts, 1);
}

TEST_F(WaitRegistryTest, ImmediateCheckAfterParkClosesTheRace) {
  // The condition already holds when parking (an arrival raced the park): answered without Notify.
  std::atomic<bool> answered{false};
  ASSERT_TRUE(waits_
                  .Park("k", 10s,
                        [&](bool) {
                          answered = true;
                          return true;
                        })
                  .ok());
  EXPECT_TRUE(testing::WaitUntil([&] { return answered.load(); }, 5s));
}

TEST_F(WaitRegistryTest, FirstCheckRunsOnTheParkingThread) {
  // No executor hop per parked request: the re-check that closes the race with an arrival runs
  // inside Park(), so a request that can be answered already is answered before Park returns.
  std::thread::id checked_on;
  bool answered = false;
  ASSERT_TRUE(waits_
                  .Park("k", 10s,
                        [&](bool timed_out) {
                          if (timed_out) return true;
                          checked_on = std::this_thread::get_id();
                          answered = true;
                          return true;
                        })
                  .ok());
  EXPECT_TRUE(answered);
  EXPECT_EQ(checked_on, std::this_thread::get_id());
  EXPECT_TRUE(testing::WaitUntil([&] { return waits_.size() == 0; }, 5s));
}

TEST_F(WaitRegistryTest, ShutdownAnswersParkedAndLaterRequests) {
  std::atomic<int> timeouts{0};
  auto check = [&](bool timed_out) {
    if (timed_out) ++timeouts;
    return timed_out;
  };
  ASSERT_TRUE(waits_.Park("a", 60s, check).ok());
  ASSERT_TRUE(waits_.Park("b", 60s, check).ok());
  waits_.Shutdown();
  EXPECT_EQ(timeouts, 2);
  ASSERT_TRUE(waits_.Park("c", 60s, check).ok());
  EXPECT_EQ(timeouts, 3);
}

TEST_F(WaitRegistryTest, RefusesPastCapacityAndFreesSlotsWhenAnswered) {
  WaitRegistry capped(&executor_, /*max_waiters=*/2);
  // Only "a" can be answered before its deadline; the others wait for the minute.
  std::atomic<bool> release_a{false};
  auto until_deadline = [](bool timed_out) { return timed_out; };
  ASSERT_TRUE(capped.Park("a", 60s, [&](bool timed_out) { return timed_out || release_a.load(); }).ok());
  ASSERT_TRUE(capped.Park("b", 60s, until_deadline).ok());
  bool called = false;
  Status full = capped.Park("c", 60s, [&](bool) { return called = true; });
  EXPECT_EQ(full.code(), StatusCode::kResourceExhausted) << full.ToString();
  EXPECT_EQ(full.message().rfind("suspend_timeout_millis:", 0), 0u) << full.message();
  EXPECT_NE(full.message().find("maxSuspendedPullRequests=2"), std::string::npos) << full.message();
  EXPECT_FALSE(called);
  EXPECT_EQ(capped.size(), 2u);
  release_a = true;
  capped.Notify("a");
  ASSERT_TRUE(testing::WaitUntil([&] { return capped.size() == 1; }, 5s));
  EXPECT_TRUE(capped.Park("c", 60s, until_deadline).ok());
  EXPECT_EQ(capped.size(), 2u);
  capped.Shutdown();
}

}  // namespace
}  // namespace mq::broker
