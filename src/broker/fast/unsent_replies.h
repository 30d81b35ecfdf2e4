// UnsentReplies: a fast-port connection's reply bytes the socket has not taken yet, in order,
// and what they hold of the broker's budgets. A pull reply keeps its own lease
// (pullResponseMemoryQuota) until the socket took its last byte, as the gRPC port's do until
// sent; every other queued byte counts against the send budget (sendRequestMemoryQuota).
// Not thread-safe: the connection's mutex guards it. size() may be read without that mutex
// (a hint, to decide on pausing); only the connection's IO thread makes it smaller.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>

#include "broker/processor/byte_budget.h"
#include "common/frame_io.h"

namespace mq::broker {

class UnsentReplies {
 public:
  explicit UnsentReplies(ByteBudget* send_budget) : send_lease_(send_budget->Hold(0)) {}
  UnsentReplies(const UnsentReplies&) = delete;
  UnsentReplies& operator=(const UnsentReplies&) = delete;

  // One reply (frame::WriteOrQueue): straight into `fd` when nothing waits, else queued, as is
  // what the socket did not take. A `reply_lease` with bytes is kept until the queued part of
  // this reply has been written.
  frame::WriteOutcome WriteOrQueue(int fd, std::span<const std::string_view> pieces,
                                   ByteBudget::Lease* reply_lease);
  // Writes as much as the socket takes now (frame::Drain), releasing the leases of the replies
  // it finished.
  frame::WriteOutcome Drain(int fd);
  // Forgets every queued byte and releases what they held (the connection closed).
  void Clear();

  size_t size() const { return size_.load(std::memory_order_relaxed); }

 private:
  // A queued reply with a lease of its own: its place in the stream of queued bytes.
  struct LeasedReply {
    uint64_t begin = 0;
    uint64_t end = 0;
    ByteBudget::Lease lease;
  };

  // After bytes_ or leased_ changed: the send budget holds the queued bytes without a lease.
  void Changed();

  std::string bytes_;
  uint64_t begin_ = 0;              // stream position of bytes_[0]
  std::deque<LeasedReply> leased_;  // in stream order
  ByteBudget::Lease send_lease_;
  std::atomic<size_t> size_{0};  // bytes_.size()
};

}  // namespace mq::broker
