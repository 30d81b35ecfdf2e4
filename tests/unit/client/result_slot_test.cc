#include "result_slot.h"

#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
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

// Threads blocked in WaitFor, one slot each, as the senders of one batch of sync sends are.
class SleepingWaiters {
 public:
  explicit SleepingWaiters(int n) : slots_(n), results_(n), tids_(n) {
    for (auto& s : slots_) s = std::make_shared<ResultSlot<int>>();
    for (int i = 0; i < n; ++i) {
      threads_.emplace_back([this, i] {
        tids_[i] = static_cast<pid_t>(syscall(SYS_gettid));
        results_[i] = slots_[i]->WaitFor(std::chrono::milliseconds(15'000));
        done_.fetch_add(1);
      });
    }
  }
  ~SleepingWaiters() {
    for (auto& t : threads_) t.join();
  }
  // True once every waiter sleeps in the kernel ('S' in /proc), within 10 s.
  bool AllAsleep() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (size_t i = 0; i < threads_.size(); ++i) {
      while (State(i) != 'S') {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::yield();
      }
    }
    return true;
  }
  bool WaitDone(int n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (done_.load() < n) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::yield();
    }
    return true;
  }
  ResultSlot<int>& slot(int i) { return *slots_[i]; }
  const std::optional<int>& result(int i) const { return results_[i]; }

 private:
  char State(size_t i) const {
    if (tids_[i] == 0) return '?';
    std::ifstream in("/proc/self/task/" + std::to_string(tids_[i]) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto paren = stat.rfind(')');
    return paren == std::string::npos || paren + 2 >= stat.size() ? '?' : stat[paren + 2];
  }

  std::vector<std::shared_ptr<ResultSlot<int>>> slots_;
  std::vector<std::optional<int>> results_;
  std::vector<std::atomic<pid_t>> tids_;
  std::atomic<int> done_{0};
  std::vector<std::thread> threads_;
};

// The reply to a batch sets every slot quietly and wakes all its waiters with one call.
TEST(ResultSlotTest, OneWakeReachesEveryWaiterOfABatch) {
  constexpr int kWaiters = 40;
  SleepingWaiters waiters(kWaiters);
  ASSERT_TRUE(waiters.AllAsleep());
  uint32_t bits = 0;
  for (int i = 0; i < kWaiters; ++i) {
    const uint32_t bit = waiters.slot(i).SetQuietly(i);
    EXPECT_NE(bit, 0u) << "waiter " << i << " sleeps, so its setter must say whom to wake";
    bits |= bit;
  }
  SlotWaiters::Wake(bits);
  ASSERT_TRUE(waiters.WaitDone(kWaiters));
  for (int i = 0; i < kWaiters; ++i) EXPECT_EQ(waiters.result(i), std::optional<int>(i));
}

// Threads share bits (more than 32 waiting), so a wake-up may be for another slot's value.
TEST(ResultSlotTest, AWaiterWokenForAnotherSlotSleepsOn) {
  constexpr int kWaiters = 40;
  constexpr int kFirst = 20;
  SleepingWaiters waiters(kWaiters);
  ASSERT_TRUE(waiters.AllAsleep());
  for (int i = 0; i < kFirst; ++i) (void)waiters.slot(i).SetQuietly(i);
  SlotWaiters::Wake(~0u);  // every waiter wakes; the last 20 find nothing and must sleep on
  ASSERT_TRUE(waiters.WaitDone(kFirst));
  for (int i = kFirst; i < kWaiters; ++i) waiters.slot(i).Set(i);
  ASSERT_TRUE(waiters.WaitDone(kWaiters));
  for (int i = 0; i < kWaiters; ++i) EXPECT_EQ(waiters.result(i), std::optional<int>(i)) << "waiter " << i;
}

}  // namespace
}  // namespace mq::client
