// ResultSlot: hands one result from the thread that produces it (a reply's completion) to the
// one user thread blocked on it (a sync Send, a route lookup). Shared by both through a
// shared_ptr, so a producer that completes after the waiter gave up still writes to live memory.
//
// Why not std::promise/std::future or a mutex and condvar: a sync send waits once per message,
// and on a virtual machine every futex call costs microseconds. libstdc++'s promise runs
// set_value through pthread_once, whose slow path issues a futex wake every time, and the
// future's timed wait loops on its own futex (about 4.5 futex calls per sync send in all); a
// glibc condvar leaves the mutex marked contended after a wait, so the waiter's unlock is
// another wake. Here one atomic word carries the state: the waiter sleeps on it with one futex
// wait, the producer wakes it with one futex wake, and only when the waiter is asleep.
//
// Thread-safety: Set from any threads (the first value wins), WaitFor from one thread at a
// time. value_ is written once, by the Set that took claimed_, and read only after state_ was
// seen kSet (acquire).
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <optional>
#include <utility>

namespace mq::client {

template <typename T>
class ResultSlot {
 public:
  // The first value set is kept; later ones are dropped.
  void Set(T value) {
    if (claimed_.exchange(true, std::memory_order_acq_rel)) return;
    value_.emplace(std::move(value));
    if (state_.exchange(kSet, std::memory_order_acq_rel) == kSleeping) {
      syscall(SYS_futex, reinterpret_cast<uint32_t*>(&state_), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    }
  }

  // The value, or nullopt when none was set within `timeout`.
  std::optional<T> WaitFor(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      uint32_t s = state_.load(std::memory_order_acquire);
      if (s == kSet) return std::move(value_);
      // Say we sleep before sleeping, so the setter knows to wake us; if the value arrives in
      // between, the futex wait sees the word changed and returns at once.
      if (s == kEmpty && !state_.compare_exchange_strong(s, kSleeping, std::memory_order_acq_rel)) continue;
      const auto left =
          std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      timespec ts{static_cast<time_t>(left.count() / 1'000'000'000),
                  static_cast<long>(left.count() % 1'000'000'000)};
      syscall(SYS_futex, reinterpret_cast<uint32_t*>(&state_), FUTEX_WAIT_PRIVATE, kSleeping, &ts, nullptr,
              0);
    }
  }

 private:
  static constexpr uint32_t kEmpty = 0;
  static constexpr uint32_t kSleeping = 1;  // empty, and the waiter sleeps or is about to
  static constexpr uint32_t kSet = 2;       // value_ is written

  std::atomic<bool> claimed_{false};     // taken by the first Set, which alone writes value_
  std::atomic<uint32_t> state_{kEmpty};  // the futex word
  static_assert(std::atomic<uint32_t>::is_always_lock_free &&
                sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
  std::optional<T> value_;
};

}  // namespace mq::client
