// SendAccumulator: transparent batching of single-message sends per topic (Kafka's
// RecordAccumulator, RocketMQ 5's auto-batching). Sends of a topic gather in its open batch.
// A batch that is not full leaves while the topic has fewer requests outstanding than brokers
// serving it (SetBrokers; 1 until known): an idle producer sends each message at once, and a
// busy one sends what gathered during a round trip (and the broker's fsync, with SYNC_FLUSH) in
// the next request, group commit on the client's side. A full batch (`max_batch_messages` or
// `max_batch_bytes` of bodies, or one a message no longer fitted into) leaves while fewer than
// `max_in_flight` requests per broker are outstanding, so a producer with more to send than
// one request holds keeps several requests in flight per broker. Batches leave in FIFO order.
// With a linger (Kafka's linger.ms, RocketMQ 5's batchMaxDelayMs), a batch that is not full
// also waits until its first send is that old: fewer, fuller requests at moderate rates, for up
// to the linger in latency. It leaves from the Add or Completed that finds it old enough, or
// from the topic's timer (`schedule`, one armed at a time per topic) when none comes.
//
// The accumulator only decides what goes out when: `dispatch` (the producer) sends a batch and
// must call Completed(topic) exactly once per dispatched batch, whatever its outcome.
// Memory: pending sends are bounded by the producer's back pressure limits (async) and the
// blocked callers (sync), not here.
//
// Thread-safety: all methods from any thread. mu_ guards topics_ and brokers_; `dispatch` is
// never called with mu_ held (it may run inline in Add(), Completed() or a linger timer's task,
// on that thread). The owner keeps the accumulator alive while a scheduled task may still run.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"
#include "mq/client/send_result.h"
#include "result_slot.h"

namespace mq::client {

// Where a Send() blocked on one message waits for its result.
using SendSlot = ResultSlot<Result<SendResult>>;

struct PendingSend {
  size_t wire_bytes = 0;    // its message's bytes in its batch's wire (set by Add)
  int64_t body_bytes = 0;   // its body's size, what max_batch_bytes counts
  int64_t deadline_ms = 0;  // MonotonicMillis() by which its send_timeout_ms ends
  // Who hears of the result: `done` (an async send's callback as its caller gave it, run on a
  // callback thread; `held_bytes` of backpressure room are returned after it), or, for a Send()
  // blocked on it, `waiter`, set on the thread the reply came on, with one wake-up for all the
  // waiters of a reply (ResultSlot::SetQuietly), saving a hop through the callback pool per
  // sync send.
  std::function<void(const Result<SendResult>&)> done;
  int64_t held_bytes = -1;
  std::shared_ptr<SendSlot> waiter;
};

// What `dispatch` gets: sends of one topic, oldest first, and their messages as
// SendMessageRequest.messages elements (send_wire.h) back to back in the same order, each
// sends[i].wire_bytes long.
struct SendBatch {
  std::vector<PendingSend> sends;
  std::string wire;
};

class SendAccumulator {
 public:
  using Clock = std::chrono::steady_clock;
  struct Limits {
    int max_in_flight = 4;         // requests outstanding per broker of a topic, full batches included
    int max_batch_messages = 256;  // the broker takes up to 1,024 per request
    int64_t max_batch_bytes = 256 * 1024;
    std::chrono::microseconds linger{0};  // how long a batch that is not full waits for more
  };
  using Dispatch = std::function<void(const std::string& topic, SendBatch batch)>;
  // Runs the task once, about `delay` from now, on some thread (not inline).
  using Schedule = std::function<void(std::chrono::microseconds delay, std::function<void()> task)>;

  // `schedule` and `now` are used only with a linger (`now` defaults to Clock::now).
  SendAccumulator(Limits limits, Dispatch dispatch, Schedule schedule = {},
                  std::function<Clock::time_point()> now = {});
  SendAccumulator(const SendAccumulator&) = delete;
  SendAccumulator& operator=(const SendAccumulator&) = delete;

  // Adds `send`. append_wire(std::string* out) appends its message's wire bytes to `out`, the
  // batch it joins (AppendMessageField): a message is encoded once, straight into the request it
  // leaves in, with no buffer of its own to allocate and free. It runs under the lock.
  template <typename AppendWire>
  void Add(const std::string& topic, PendingSend send, const AppendWire& append_wire) {
    std::vector<SendBatch> ready;
    {
      std::lock_guard lock(mu_);
      Topic& t = OpenLocked(topic, send.body_bytes);
      std::string& wire = t.waiting.back().batch.wire;
      const size_t before = wire.size();
      try {
        append_wire(&wire);
      } catch (...) {  // bad_alloc: the batch keeps only whole messages, and none is empty
        wire.resize(before);
        if (t.waiting.back().batch.sends.empty()) t.waiting.pop_back();
        throw;
      }
      send.wire_bytes = wire.size() - before;
      AddLocked(topic, t, std::move(send), &ready);
    }
    for (auto& batch : ready) dispatch_(topic, std::move(batch));
  }
  // A dispatched batch of `topic` has its outcome: frees its slot and sends the oldest waiting
  // batches the slots allow, if any.
  void Completed(const std::string& topic);
  // A dispatched batch of `topic` has its outcome and `requeues` sync senders of it are about to
  // be woken (call before waking them): most will send again at once. Its slot stays taken
  // until the topic has gathered that many more sends, whose Add then frees it and sends them
  // as one request from the sender's thread, or until the batch's Completed(topic), whichever
  // comes first. Completed(topic) must still follow exactly once.
  void AwaitRequeues(const std::string& topic, int requeues);
  // `brokers` (at least 1) serve `topic` now; the producer tells this whenever it picks a
  // queue from a route. Takes effect at the topic's next Add or Completed.
  void SetBrokers(const std::string& topic, int brokers);

 private:
  struct Batch {
    SendBatch batch;
    int64_t bytes = 0;              // of bodies
    Clock::time_point opened_at{};  // its first send's Add (with a linger)
  };
  struct Topic {
    int in_flight = 0;           // requests outstanding, slots awaiting requeues included
    int awaiting = 0;            // slots of completed batches awaiting their senders' requeues
    int64_t release_at = 0;      // the waiting sends that free an awaiting slot
    int released_early = 0;      // awaiting slots freed by Add whose Completed is still due
    std::deque<Batch> waiting;   // the back one is open while it has room
    size_t last_wire_bytes = 0;  // of the last batch that left: what a new one reserves
    bool timer_armed = false;    // a linger timer task of this topic is scheduled
  };
  static int64_t WaitingSends(const Topic& t);
  bool Fits(const Batch& batch, int64_t bytes) const;
  int Brokers(const std::string& topic) const;  // mu_ held
  // The topic, its last waiting batch open to a send of `body_bytes` (mu_ held).
  Topic& OpenLocked(const std::string& topic, int64_t body_bytes);
  // Counts `send`, whose wire is in the open batch already, and takes what may leave (mu_ held).
  void AddLocked(const std::string& topic, Topic& t, PendingSend send, std::vector<SendBatch>* ready);
  // Moves the batches the topic's slots allow from `t->waiting` to `out`, oldest first, and arms
  // the topic's timer when only the linger holds the oldest back (mu_ held).
  void TakeReady(const std::string& topic, Topic* t, std::vector<SendBatch>* out);
  // The topic's linger timer: sends what became old enough.
  void OnLingerTimer(const std::string& topic);
  // Erases a topic with nothing out, waiting or scheduled (mu_ held).
  void EraseIfIdleLocked(std::map<std::string, Topic, std::less<>>::iterator it);

  const Limits limits_;
  const Dispatch dispatch_;
  const Schedule schedule_;
  const std::function<Clock::time_point()> now_;
  std::mutex mu_;
  std::map<std::string, Topic, std::less<>> topics_;  // guarded by mu_; idle topics are erased
  std::map<std::string, int, std::less<>> brokers_;   // guarded by mu_; one entry per topic sent to
};

}  // namespace mq::client
