#include "broker/longpolling/wait_registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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

TEST_F(WaitRegistryTest, AnEarlierDeadlineParkedLaterIsStillKept) {
  // One timer serves every deadline: a request parked after a long one, with a shorter
  // timeout, must move the timer earlier.
  std::atomic<int> long_timeouts{0};
  std::atomic<int> short_timeouts{0};
  ASSERT_TRUE(waits_.Park("long", 60s, [&](bool timed_out) { return timed_out && ++long_timeouts; }).ok());
  auto parked = std::chrono::steady_clock::now();
  ASSERT_TRUE(waits_.Park("short", 50ms, [&](bool timed_out) { return timed_out && ++short_timeouts; }).ok());
  ASSERT_TRUE(testing::WaitUntil([&] { return short_timeouts == 1; }, 5s));
  EXPECT_GE(std::chrono::steady_clock::now() - parked, 50ms);
  EXPECT_EQ(long_timeouts, 0);
  EXPECT_EQ(waits_.size(), 1u);
}

TEST_F(WaitRegistryTest, EveryDeadlineAnswersOnceWhateverTheParkingOrder) {
  // Deadlines out of parking order, some answered early: each request is answered exactly once,
  // by its condition or by its deadline, never both.
  constexpr int kWaiters = 24;
  std::atomic<int> timeouts[kWaiters] = {};
  std::atomic<int> early[kWaiters] = {};
  for (int i = 0; i < kWaiters; ++i) {
    auto timeout = std::chrono::milliseconds(20 + (i * 7919) % 200);
    ASSERT_TRUE(waits_
                    .Park("k" + std::to_string(i % 3), timeout,
                          [&, i](bool timed_out) {
                            if (timed_out) return ++timeouts[i] > 0;
                            if (i % 4 != 0) return false;
                            return ++early[i] > 0;  // answered by the first check, in Park()
                          })
                    .ok());
  }
  ASSERT_TRUE(testing::WaitUntil([&] { return waits_.size() == 0; }, 5s));
  for (int i = 0; i < kWaiters; ++i) {
    EXPECT_EQ(timeouts[i] + early[i], 1) << "waiter " << i;
    EXPECT_EQ(early[i], i % 4 == 0 ? 1 : 0) << "waiter " << i;
  }
}

TEST_F(WaitRegistryTest, NotifyOnCallerRunsFewChecksOnTheCallingThreadAndManyOnTheExecutor) {
  // The store's dispatch thread answers a waiting consumer itself (no hop per message), but a
  // key with many waiters goes to the executor so one arrival cannot stall dispatch.
  std::atomic<bool> ready{false};
  std::mutex mu;
  std::vector<std::thread::id> checked_on;
  auto check = [&](bool timed_out) {
    if (timed_out || !ready) return timed_out;
    std::lock_guard lock(mu);
    checked_on.push_back(std::this_thread::get_id());
    return true;
  };
  for (int i = 0; i < static_cast<int>(WaitRegistry::kMaxChecksOnCaller); ++i) {
    ASSERT_TRUE(waits_.Park("few", 60s, check).ok());
  }
  for (int i = 0; i < static_cast<int>(WaitRegistry::kMaxChecksOnCaller) + 1; ++i) {
    ASSERT_TRUE(waits_.Park("many", 60s, check).ok());
  }
  ready = true;
  waits_.Notify("few", WaitRegistry::NotifyOn::kCaller);
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(checked_on.size(), WaitRegistry::kMaxChecksOnCaller);  // answered before Notify returned
    for (auto id : checked_on) EXPECT_EQ(id, std::this_thread::get_id());
    checked_on.clear();
  }
  waits_.Notify("many", WaitRegistry::NotifyOn::kCaller);
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        std::lock_guard lock(mu);
        return checked_on.size() == WaitRegistry::kMaxChecksOnCaller + 1;
      },
      5s));
  std::lock_guard lock(mu);
  for (auto id : checked_on) EXPECT_NE(id, std::this_thread::get_id());
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
