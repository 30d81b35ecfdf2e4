// ResultSlot: hands one result from the thread that produces it (a reply's completion) to the
// one user thread blocked on it (a sync Send, a route lookup). Shared by both through a
// shared_ptr, so a producer that completes after the waiter gave up still writes to live memory.
//
// Why not std::promise/std::future or a mutex and condvar: a sync send waits once per message,
// and on a virtual machine every futex call costs microseconds. libstdc++'s promise runs
// set_value through pthread_once, whose slow path issues a futex wake every time, and the
// future's timed wait loops on its own futex (about 4.5 futex calls per sync send in all); a
// glibc condvar leaves the mutex marked contended after a wait, so the waiter's unlock is
// another wake. Here one atomic word per slot carries the state, and the setter makes a futex
// call only when the waiter is asleep.
//
// Why every waiter sleeps on one process-wide word (SlotWaiters), each with its thread's bit
// (FUTEX_WAIT_BITSET): a reply to a batch of sync sends completes tens of slots at once. Woken
// one futex call each, the replying thread spent about 7 µs per waiter on this VM (a
// reschedule IPI per wake-up) while the woken senders queued behind it. SetQuietly + Wake set
// all of them and wake their bits with one call, and the kernel sends one IPI per CPU instead.
// Threads whose bits collide (more than 32 waiting) wake for each other's results and sleep
// again.
//
// Thread-safety: Set/SetQuietly from any threads (the first value wins), WaitFor from one thread
// (always the same one: its bit is the slot's). value_ is written once, by the Set that took
// claimed_, and read only after state_ was seen kSet (acquire); sleeper_bit_ is written once,
// before the waiter publishes kSleeping, and read by the setter that saw kSleeping.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <ctime>
#include <optional>
#include <utility>

namespace mq::client {

// The futex word every ResultSlot waiter sleeps on, and the bits that say who to wake.
class SlotWaiters {
 public:
  // The calling thread's bit: threads take the 32 bits in turn.
  static uint32_t ThreadBit() {
    static std::atomic<uint32_t> next{0};
    thread_local const uint32_t bit = 1u << (next.fetch_add(1, std::memory_order_relaxed) % 32);
    return bit;
  }
  // Wakes the waiters sleeping with any of `bits` (0: nobody, no call).
  static void Wake(uint32_t bits) {
    if (bits == 0) return;
    // Changing the word first makes a waiter that read it before the slot was set and has not
    // slept yet return from its wait at once.
    word_.fetch_add(1, std::memory_order_seq_cst);
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word_), FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, nullptr,
            nullptr, bits);
  }
  // Sleeps while the word still holds `seen`, until woken for `bit` or `deadline` (CLOCK_MONOTONIC).
  static void Sleep(uint32_t seen, uint32_t bit, const timespec& deadline) {
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word_), FUTEX_WAIT_BITSET_PRIVATE, seen, &deadline,
            nullptr, bit);
  }
  static uint32_t Load() { return word_.load(std::memory_order_seq_cst); }

 private:
  static inline std::atomic<uint32_t> word_{0};
  static_assert(std::atomic<uint32_t>::is_always_lock_free &&
                sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
};

template <typename T>
class ResultSlot {
 public:
  // The first value set is kept; later ones are dropped.
  void Set(T value) { SlotWaiters::Wake(SetQuietly(std::move(value))); }

  // Set without waking: returns the bit the waiter sleeps with (0 if it does not), for one
  // SlotWaiters::Wake after many slots are set.
  [[nodiscard]] uint32_t SetQuietly(T value) {
    if (claimed_.exchange(true, std::memory_order_acq_rel)) return 0;
    value_.emplace(std::move(value));
    return state_.exchange(kSet, std::memory_order_seq_cst) == kSleeping ? sleeper_bit_ : 0;
  }

  // The value, or nullopt when none was set within `timeout`.
  std::optional<T> WaitFor(std::chrono::milliseconds timeout) {
    // steady_clock is CLOCK_MONOTONIC, the clock of FUTEX_WAIT_BITSET's absolute deadline.
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    const auto since_epoch =
        std::chrono::duration_cast<std::chrono::nanoseconds>(deadline.time_since_epoch());
    const timespec until{static_cast<time_t>(since_epoch.count() / 1'000'000'000),
                         static_cast<long>(since_epoch.count() % 1'000'000'000)};
    for (;;) {
      uint32_t s = state_.load(std::memory_order_acquire);
      if (s == kSet) return std::move(value_);
      // Say we sleep before reading the word, so a setter that misses the state below wakes us
      // or changes the word first.
      if (s == kEmpty) {
        sleeper_bit_ = SlotWaiters::ThreadBit();
        if (!state_.compare_exchange_strong(s, kSleeping, std::memory_order_seq_cst)) continue;
      }
      const uint32_t seen = SlotWaiters::Load();
      if (state_.load(std::memory_order_acquire) == kSet) continue;
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      SlotWaiters::Sleep(seen, sleeper_bit_, until);
    }
  }

 private:
  static constexpr uint32_t kEmpty = 0;
  static constexpr uint32_t kSleeping = 1;  // empty, and the waiter sleeps or is about to
  static constexpr uint32_t kSet = 2;       // value_ is written

  std::atomic<bool> claimed_{false};  // taken by the first Set, which alone writes value_
  std::atomic<uint32_t> state_{kEmpty};
  uint32_t sleeper_bit_ = 0;  // written by the waiter before it publishes kSleeping
  std::optional<T> value_;
};

}  // namespace mq::client
