// ByteBudget: a limit on bytes held on behalf of clients that the broker cannot otherwise
// bound — here, pull responses built but not yet sent (pullResponseMemoryQuota). Many parked
// pulls woken by one large message, or consumers that stop reading, would otherwise each
// pin a copy of up to maxMessageSize.
//
// TryAcquire() reserves bytes and returns a Lease that gives them back when destroyed (for a
// pull: when gRPC is done with the call). An idle budget always admits one reservation, so a
// single response larger than the whole budget still goes through.
// Thread-safe (one atomic counter); Leases are move-only and must not outlive the budget.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

namespace mq::broker {

class ByteBudget {
 public:
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

    // Sets the reservation to `bytes`, which may pass the limit: the data exists already.
    void Resize(int64_t bytes);
    int64_t bytes() const { return bytes_; }

   private:
    friend class ByteBudget;
    Lease(ByteBudget* budget, int64_t bytes) : budget_(budget), bytes_(bytes) {}
    void Release();

    ByteBudget* budget_ = nullptr;
    int64_t bytes_ = 0;
  };

  explicit ByteBudget(int64_t limit) : limit_(limit) {}
  ByteBudget(const ByteBudget&) = delete;
  ByteBudget& operator=(const ByteBudget&) = delete;

  // nullopt when reserving `bytes` more would pass the limit.
  std::optional<Lease> TryAcquire(int64_t bytes);
  // Reserves `bytes` even past the limit, for data that exists already (later TryAcquires see
  // it); a Lease to Resize as that data grows and shrinks.
  Lease Hold(int64_t bytes);
  int64_t used() const { return used_.load(std::memory_order_relaxed); }
  int64_t limit() const { return limit_; }

 private:
  const int64_t limit_;
  std::atomic<int64_t> used_{0};
};

}  // namespace mq::broker
