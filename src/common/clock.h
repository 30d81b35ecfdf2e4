// Clock: wall-clock milliseconds behind an interface so expiry and retention logic can be
// tested with ManualClock. Both implementations are thread-safe. The free functions at the
// end are the one place code without an injected Clock reads the time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace mq {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMillis() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMillis() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  static SystemClock* Default() {
    static SystemClock clock;
    return &clock;
  }
};

// Monotonic milliseconds (steady_clock): for how long something has been silent, immune to
// steps of the wall clock.
class SteadyClock final : public Clock {
 public:
  int64_t NowMillis() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  static SteadyClock* Default() {
    static SteadyClock clock;
    return &clock;
  }
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ms = 1'700'000'000'000) : now_ms_(start_ms) {}
  int64_t NowMillis() const override { return now_ms_.load(); }
  void Advance(int64_t ms) { now_ms_ += ms; }
  void Set(int64_t ms) { now_ms_ = ms; }

 private:
  std::atomic<int64_t> now_ms_;
};

// Wall-clock milliseconds since the epoch: timestamps that are stored or travel.
inline int64_t WallMillis() { return SystemClock::Default()->NowMillis(); }

// Wall-clock microseconds since the epoch (end-to-end latencies measured across processes).
inline int64_t WallMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Monotonic milliseconds: deadlines and latencies inside one process, immune to clock steps.
inline int64_t MonotonicMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace mq
