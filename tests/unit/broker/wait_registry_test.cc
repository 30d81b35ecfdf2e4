#include "broker/longpolling/wait_registry.h"

#include <gtest/gtest.h>

#include <atomic>

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
  waits_.Park("t@0", 10s, [&](bool timed_out) {
    if (!ready && !timed_out) return false;
    by_timeout = timed_out;
    ++answered;
    return true;
  });
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
  waits_.Park("k", 50ms, [&](bool timed_out) {
    ++calls;
    if (timed_out) ++timeouts;
    return timed_out;
  });
  ASSERT_TRUE(testing::WaitUntil([&] { return timeouts == 1; }, 5s));
  waits_.Notify("k");
  EXPECT_TRUE(testing::WaitUntil([&] { return waits_.size() == 0; }, 5s));
  EXPECT_EQ(timeouts, 1);
}

TEST_F(WaitRegistryTest, ImmediateCheckAfterParkClosesTheRace) {
  // The condition already holds when parking (an arrival raced the park): answered without Notify.
  std::atomic<bool> answered{false};
  waits_.Park("k", 10s, [&](bool) {
    answered = true;
    return true;
  });
  EXPECT_TRUE(testing::WaitUntil([&] { return answered.load(); }, 5s));
}

TEST_F(WaitRegistryTest, ShutdownAnswersParkedAndLaterRequests) {
  std::atomic<int> timeouts{0};
  auto check = [&](bool timed_out) {
    if (timed_out) ++timeouts;
    return timed_out;
  };
  waits_.Park("a", 60s, check);
  waits_.Park("b", 60s, check);
  waits_.Shutdown();
  EXPECT_EQ(timeouts, 2);
  waits_.Park("c", 60s, check);
  EXPECT_EQ(timeouts, 3);
}

}  // namespace
}  // namespace mq::broker
