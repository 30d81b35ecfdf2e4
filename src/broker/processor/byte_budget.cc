#include "broker/processor/byte_budget.h"

#include <utility>

namespace mq::broker {

std::optional<ByteBudget::Lease> ByteBudget::TryAcquire(int64_t bytes) {
  int64_t used = used_.load(std::memory_order_relaxed);
  do {
    if (used != 0 && used + bytes > limit_) return std::nullopt;
  } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
  return Lease(this, bytes);
}

ByteBudget::Lease ByteBudget::Hold(int64_t bytes) {
  used_.fetch_add(bytes, std::memory_order_relaxed);
  return Lease(this, bytes);
}

ByteBudget::Lease::Lease(Lease&& other) noexcept
    : budget_(std::exchange(other.budget_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

ByteBudget::Lease& ByteBudget::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    Release();
    budget_ = std::exchange(other.budget_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

ByteBudget::Lease::~Lease() { Release(); }

void ByteBudget::Lease::Resize(int64_t bytes) {
  if (budget_ == nullptr) return;
  budget_->used_.fetch_add(bytes - bytes_, std::memory_order_relaxed);
  bytes_ = bytes;
}

void ByteBudget::Lease::Release() {
  if (budget_ != nullptr) budget_->used_.fetch_sub(bytes_, std::memory_order_relaxed);
  budget_ = nullptr;
  bytes_ = 0;
}

}  // namespace mq::broker
