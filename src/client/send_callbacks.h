// SendCallbacks: where a producer runs its async send callbacks.
//
// By default (ClientOptions::callback_threads > 0) a reply's callbacks go to the client's
// callback threads until callback_meter rates them fast: measured over 16 calls, at most
// ClientOptions::callback_on_reply_thread_max_us each on average, and a reply's callbacks
// within 200 µs together (call_meter.h). From then on they run on the thread that read the
// broker's reply from its fast port, with no hand-off: on a machine whose thread wake-ups cost
// 15-30 µs of CPU each, the hand-off was about a tenth of an end-to-end client's CPU
// (docs/benchmarks.md). A callback that slows down lifts the mean, and the next replies'
// callbacks go back to the callback threads. Replies read by other threads (gRPC's, for a
// broker without a fast port) always hand their callbacks to the callback threads.
// With callback_threads = 0 every callback runs on the thread that finished its send, as Kafka's
// producer does (Kafka's IO thread), fast or not.
// Either way a callback never runs inside a producer call on the caller's thread (SendAsync,
// Send): a send that fails at once there goes to a callback thread, so a caller holding its own
// lock is never re-entered.
//
// Threads: Run() from any thread. ProducerCallScope marks the calling thread for the scope of a
// producer call; OnReplyThreadCallback() says whether this thread is running a callback on a
// reply thread, where a blocking Send() must not wait for a reply that only this thread can
// read, and OnFastReplyThreadCallback() whether that thread is a fast port's reader. The marks
// are thread_local counters, so nesting (a callback sending) is counted correctly. The meter's
// state is relaxed atomics (call_meter.h).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "call_meter.h"
#include "common/io_executor.h"

namespace mq::client {

class SendCallbacks {
 public:
  // pool: the callback threads. fast_io: the fast ports' reply reader. callback_threads = 0
  // runs every callback where its send finished; otherwise callbacks measured to take at most
  // reply_thread_max_us (0 = never) run on fast_io's thread.
  SendCallbacks(IoExecutor* pool, const IoExecutor* fast_io, int callback_threads, int reply_thread_max_us)
      : pool_(pool),
        fast_io_(fast_io),
        always_here_(callback_threads == 0),
        measured_(callback_threads > 0 && reply_thread_max_us > 0),
        meter_(int64_t{reply_thread_max_us} * 1000) {}

  // Runs fn, which makes `calls` callbacks, here (on a reply thread, when configured or measured
  // fast, and not inside a producer call) or on the callback threads. A template, so a
  // callback run here is not wrapped in a std::function (an allocation per reply for a batch's
  // callbacks).
  template <typename Fn>
  void Run(Fn&& fn, size_t calls = 1) {
    if (tls_producer_calls_ == 0) {
      const bool fast_reader = fast_io_->RunningInThisThread();
      if (always_here_ || (measured_ && fast_reader && meter_.ReplyThreadMayRun(calls))) {
        ReplyThreadCallbackMark mark(fast_reader);
        return Measured(fn, calls);
      }
    }
    pool_->Post([this, fn = std::forward<Fn>(fn), calls]() mutable { Measured(fn, calls); });
  }

  class ProducerCallScope {
   public:
    ProducerCallScope() { ++tls_producer_calls_; }
    ~ProducerCallScope() { --tls_producer_calls_; }
    ProducerCallScope(const ProducerCallScope&) = delete;
    ProducerCallScope& operator=(const ProducerCallScope&) = delete;
  };

  static bool OnReplyThreadCallback() { return tls_reply_thread_callbacks_ > 0; }
  static bool OnFastReplyThreadCallback() { return tls_fast_reply_thread_callbacks_ > 0; }

 private:
  struct ReplyThreadCallbackMark {
    explicit ReplyThreadCallbackMark(bool fast_reader) : fast(fast_reader) {
      ++tls_reply_thread_callbacks_;
      tls_fast_reply_thread_callbacks_ += fast ? 1 : 0;
    }
    ~ReplyThreadCallbackMark() {
      --tls_reply_thread_callbacks_;
      tls_fast_reply_thread_callbacks_ -= fast ? 1 : 0;
    }
    const bool fast;
  };

  template <typename Fn>
  void Measured(Fn& fn, size_t calls) {
    if (!measured_) return fn();
    const auto start = std::chrono::steady_clock::now();
    fn();
    meter_.Record(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
            .count(),
        calls);
  }

  static inline thread_local int tls_producer_calls_ = 0;               // producer calls in progress here
  static inline thread_local int tls_reply_thread_callbacks_ = 0;       // callbacks Run() runs here
  static inline thread_local int tls_fast_reply_thread_callbacks_ = 0;  // of those, on a fast port's reader

  IoExecutor* const pool_;
  const IoExecutor* const fast_io_;
  const bool always_here_;  // callback_threads = 0
  const bool measured_;     // callbacks may move to the fast port's reader once measured fast
  CallMeter meter_;
};

}  // namespace mq::client
