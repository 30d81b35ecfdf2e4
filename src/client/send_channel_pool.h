// SendChannelPool: the connections one client sends to one broker on. A send takes the
// connection with the fewest sends in flight; while every open connection has one, the pool
// opens another, up to `max_connections`. A client that sends one request at a time (or only
// does control calls) keeps its single connection; one with several requests in flight spreads
// them over up to max_connections TCP connections, so the broker reads and answers them on both
// of gRPC's threads and the client reads the replies in parallel instead of both ends passing
// every frame of the one connection through its transport's lock (docs/benchmarks.md, batch
// produce: 2 synchronous senders of 64-message batches gained about 5-11 %).
//
// Connection 0 is the channel the client's other calls to the broker use; more are opened only
// when needed and never closed before the pool. Order: a sync sender waits for each result, so
// its sends stay in order whatever connection they take; sends in flight together were never
// ordered (the broker runs them on two threads).
//
// Thread-safety: Take() from any thread (mu_ guards channels_); a Lease may be released on any
// thread, after the pool is gone too (the counter it decrements is shared).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace mq::client {

template <typename Stub>
class SendChannelPool {
 public:
  // Opens connection `index` (>= 1: connection 0 is given) and returns its stub.
  using Open = std::function<std::shared_ptr<Stub>(int index)>;
  // Holds a send's place on its connection until the last copy is destroyed.
  using Lease = std::shared_ptr<void>;
  struct Taken {
    std::shared_ptr<Stub> stub;
    Lease lease;
  };

  SendChannelPool(std::shared_ptr<Stub> first, int max_connections, Open open)
      : max_connections_(max_connections < 1 ? 1 : max_connections), open_(std::move(open)) {
    channels_.push_back({std::move(first), std::make_shared<std::atomic<int>>(0)});
  }

  Taken Take() {
    std::lock_guard lock(mu_);
    const Channel* best = &channels_.front();
    for (const auto& c : channels_) {
      if (c.in_flight->load(std::memory_order_relaxed) < best->in_flight->load(std::memory_order_relaxed))
        best = &c;
    }
    if (best->in_flight->load(std::memory_order_relaxed) > 0 &&
        static_cast<int>(channels_.size()) < max_connections_) {
      channels_.push_back({open_(static_cast<int>(channels_.size())), std::make_shared<std::atomic<int>>(0)});
      best = &channels_.back();
    }
    best->in_flight->fetch_add(1, std::memory_order_relaxed);
    // A shared_ptr that owns nothing and whose deleter gives the place back.
    Lease lease(static_cast<void*>(nullptr),
                [in_flight = best->in_flight](void*) { in_flight->fetch_sub(1, std::memory_order_relaxed); });
    return {best->stub, std::move(lease)};
  }

  int connections() const {
    std::lock_guard lock(mu_);
    return static_cast<int>(channels_.size());
  }

 private:
  struct Channel {
    std::shared_ptr<Stub> stub;
    std::shared_ptr<std::atomic<int>> in_flight;
  };
  const int max_connections_;
  const Open open_;
  mutable std::mutex mu_;
  std::vector<Channel> channels_;  // guarded by mu_; grows only
};

}  // namespace mq::client
