// Backpressure: bounds what a producer has in flight, in requests and in body bytes
// (RocketMQ backPressureForAsyncSendNum / backPressureForAsyncSendSize). Acquire() waits for
// room up to a deadline and then fails with kResourceExhausted naming the exhausted option;
// Release() returns the room. One request larger than the byte limit is admitted alone, so it
// is never refused forever.
//
// Thread-safe: mu_ guards the counters; cv_ wakes waiters on Release().
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "common/status.h"

namespace mq::client {

class Backpressure {
 public:
  Backpressure(int64_t max_requests, int64_t max_bytes)
      : max_requests_(max_requests), max_bytes_(max_bytes) {}
  Backpressure(const Backpressure&) = delete;
  Backpressure& operator=(const Backpressure&) = delete;

  // Takes room for one request of `bytes`, waiting at most `wait` (0 = do not wait).
  Status Acquire(int64_t bytes, std::chrono::milliseconds wait);
  void Release(int64_t bytes);

  int64_t requests() const;
  int64_t bytes() const;

 private:
  bool FitsLocked(int64_t bytes) const;

  const int64_t max_requests_;
  const int64_t max_bytes_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int64_t requests_ = 0;  // guarded by mu_
  int64_t bytes_ = 0;     // guarded by mu_
};

}  // namespace mq::client
