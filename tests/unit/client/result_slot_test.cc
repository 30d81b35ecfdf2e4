#include "result_slot.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace mq::client {
namespace {

using std::chrono::milliseconds;

TEST(ResultSlotTest, AValueSetBeforeTheWaitIsReturnedAtOnce) {
  ResultSlot<std::string> slot;
  slot.Set("first");
  slot.Set("second");  // only the first value counts
  auto v = slot.WaitFor(milliseconds(0));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, "first");
}

TEST(ResultSlotTest, NothingSetTimesOut) {
  ResultSlot<int> slot;
  EXPECT_FALSE(slot.WaitFor(milliseconds(1)).has_value());
}

// Many waiters, each handed its value by another thread, as sync sends are by reply threads;
// a lost wake-up would leave a waiter blocked for the whole (long) deadline and fail here.
TEST(ResultSlotTest, EveryWaiterGetsTheValueAnotherThreadSets) {
  constexpr int kWaiters = 16;
  constexpr int kRounds = 200;
  std::vector<std::thread> waiters;
  std::vector<int> wrong(kWaiters, 0);
  for (int w = 0; w < kWaiters; ++w) {
    waiters.emplace_back([w, &wrong] {
      for (int round = 0; round < kRounds; ++round) {
        auto slot = std::make_shared<ResultSlot<int>>();
        std::thread setter([slot, round] { slot->Set(round); });
        auto v = slot->WaitFor(milliseconds(10'000));
        if (!v || *v != round) ++wrong[w];
        setter.join();
      }
    });
  }
  for (auto& t : waiters) t.join();
  for (int w = 0; w < kWaiters; ++w) EXPECT_EQ(wrong[w], 0) << "waiter " << w;
}

// The waiter may give up first; the late producer still writes into the shared slot.
TEST(ResultSlotTest, ASetAfterTheWaiterGaveUpIsHarmless) {
  auto slot = std::make_shared<ResultSlot<std::string>>();
  EXPECT_FALSE(slot->WaitFor(milliseconds(0)).has_value());
  std::thread late([s = slot] { s->Set("late"); });
  slot.reset();
  late.join();
}

}  // namespace
}  // namespace mq::client
