// SendCallbacks: where a producer runs its async send callbacks. By default they are posted to
// the client's callback threads. With ClientOptions::callback_threads = 0 they run on the
// thread that finished the send, the one that read the broker's reply (Kafka's producer runs
// its callbacks on its IO thread the same way): no hand-off to another thread per reply, which
// on a machine whose thread wake-ups cost 15-30 us of CPU each was about a tenth of an
// end-to-end client's CPU (docs/benchmarks.md). Even then a callback never runs inside a
// producer call on the caller's thread (SendAsync, Send): a send that fails at once there
// still goes to a callback thread, so a caller holding its own lock is never re-entered.
//
// Threads: Run() from any thread. ProducerCallScope marks the calling thread for the scope of a
// producer call; OnReplyThreadCallback() says whether this thread is running a callback on a
// reply thread, where a blocking Send() would wait for a reply that only this thread can read.
// The marks are thread_local counters, so nesting (a callback sending) is counted correctly.
#pragma once

#include <utility>

#include "common/io_executor.h"

namespace mq::client {

class SendCallbacks {
 public:
  SendCallbacks(IoExecutor* pool, bool on_reply_thread) : pool_(pool), on_reply_thread_(on_reply_thread) {}

  // Runs fn here (on a reply thread, when configured and not inside a producer call) or on
  // the callback threads. A template, so a callback run here is not wrapped in a
  // std::function (an allocation per reply for a batch's callbacks).
  template <typename Fn>
  void Run(Fn&& fn) {
    if (!on_reply_thread_ || tls_producer_calls_ > 0) return pool_->Post(std::forward<Fn>(fn));
    ReplyThreadCallbackMark mark;
    fn();
  }

  class ProducerCallScope {
   public:
    ProducerCallScope() { ++tls_producer_calls_; }
    ~ProducerCallScope() { --tls_producer_calls_; }
    ProducerCallScope(const ProducerCallScope&) = delete;
    ProducerCallScope& operator=(const ProducerCallScope&) = delete;
  };

  static bool OnReplyThreadCallback() { return tls_reply_thread_callbacks_ > 0; }

 private:
  struct ReplyThreadCallbackMark {
    ReplyThreadCallbackMark() { ++tls_reply_thread_callbacks_; }
    ~ReplyThreadCallbackMark() { --tls_reply_thread_callbacks_; }
  };

  static inline thread_local int tls_producer_calls_ = 0;          // producer calls in progress here
  static inline thread_local int tls_reply_thread_callbacks_ = 0;  // callbacks Run() runs here

  IoExecutor* const pool_;
  const bool on_reply_thread_;
};

}  // namespace mq::client
