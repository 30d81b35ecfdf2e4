#include "backpressure.h"

#include <string>

namespace mq::client {

bool Backpressure::FitsLocked(int64_t bytes) const {
  return requests_ < max_requests_ && (requests_ == 0 || bytes_ + bytes <= max_bytes_);
}

Status Backpressure::Acquire(int64_t bytes, std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, wait, [&] { return FitsLocked(bytes); })) {
    if (requests_ >= max_requests_) {
      return Status::ResourceExhausted("send: " + std::to_string(requests_) +
                                       " sends in flight reached back_pressure_for_async_send_num (" +
                                       std::to_string(max_requests_) + ")");
    }
    return Status::ResourceExhausted("send: " + std::to_string(bytes_) + " + " + std::to_string(bytes) +
                                     " body bytes in flight exceed back_pressure_for_async_send_size (" +
                                     std::to_string(max_bytes_) + ")");
  }
  ++requests_;
  bytes_ += bytes;
  return Status::OK();
}

void Backpressure::Release(int64_t bytes) {
  {
    std::lock_guard lock(mu_);
    --requests_;
    bytes_ -= bytes;
  }
  cv_.notify_all();
}

int64_t Backpressure::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

int64_t Backpressure::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

}  // namespace mq::client
