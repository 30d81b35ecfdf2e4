// SendAccumulator: transparent batching of single-message sends per topic (Kafka's
// RecordAccumulator, RocketMQ 5's auto-batching). A send goes out at once while the topic has
// fewer than `max_in_flight` requests outstanding per broker serving it (SetBrokers; 1 until
// known); otherwise it joins the topic's open batch, which leaves as soon as a request
// completes. So an idle producer adds no latency, and a busy one sends one request per batch
// instead of one per message: with one request per broker, everything sent during a round trip
// (and the broker's fsync, with SYNC_FLUSH) leaves in the next request, group commit on the
// client's side. Batches close at `max_batch_messages` or `max_batch_bytes` of bodies; closed
// batches wait in FIFO order.
//
// The accumulator only decides what goes out when: `dispatch` (the producer) sends a batch and
// must call Completed(topic) exactly once per dispatched batch, whatever its outcome.
// Memory: pending sends are bounded by the producer's back pressure limits (async) and the
// blocked callers (sync), not here.
//
// Thread-safety: all methods from any thread. mu_ guards topics_ and brokers_; `dispatch` is never called
// with mu_ held (it may run inline in Add() or Completed(), on the caller's thread).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"
#include "mq/client/send_result.h"

namespace mq::client {

struct PendingSend {
  std::string wire;         // the message as a SendMessageRequest.messages element (send_wire.h)
  int64_t body_bytes = 0;   // its body's size, what max_batch_bytes counts
  int64_t deadline_ms = 0;  // MonotonicMillis() by which its send_timeout_ms ends
  std::function<void(Result<SendResult>)> done;
  // `done` only hands the result to a Send() blocked on it (sets a promise): it may run on the
  // client's internal thread, saving a hop through the callback pool per sync send.
  bool wakes_waiter = false;
};

class SendAccumulator {
 public:
  struct Limits {
    int max_in_flight = 1;         // requests outstanding per broker of a topic before sends queue up
    int max_batch_messages = 256;  // the broker takes up to 1,024 per request
    int64_t max_batch_bytes = 256 * 1024;
  };
  using Dispatch = std::function<void(const std::string& topic, std::vector<PendingSend> batch)>;

  SendAccumulator(Limits limits, Dispatch dispatch);
  SendAccumulator(const SendAccumulator&) = delete;
  SendAccumulator& operator=(const SendAccumulator&) = delete;

  void Add(const std::string& topic, PendingSend send);
  // A dispatched batch of `topic` has its outcome: frees its slot and sends the oldest waiting
  // batches the slots allow, if any.
  void Completed(const std::string& topic);
  // `brokers` (at least 1) serve `topic` now: the topic may have max_in_flight x brokers
  // requests outstanding. The producer tells this whenever it picks a queue from a route.
  void SetBrokers(const std::string& topic, int brokers);

 private:
  struct Batch {
    std::vector<PendingSend> sends;
    int64_t bytes = 0;
  };
  struct Topic {
    int in_flight = 0;
    std::deque<Batch> waiting;  // the back one is open while it has room
  };
  bool Fits(const Batch& batch, int64_t bytes) const;
  int InFlightLimit(const std::string& topic) const;  // mu_ held

  const Limits limits_;
  const Dispatch dispatch_;
  std::mutex mu_;
  std::map<std::string, Topic, std::less<>> topics_;  // guarded by mu_; idle topics are erased
  std::map<std::string, int, std::less<>> brokers_;   // guarded by mu_; one entry per topic sent to
};

}  // namespace mq::client
