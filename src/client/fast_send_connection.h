// FastSendConnection: one TCP connection to a broker's fast send port (common/frame.h), on
// which any number of SendMessage and PullMessage calls are in flight at once, matched by
// request id.
//
// Threads: Call() runs on the sender's thread and writes the request straight into the socket
// (no hand-off to another thread); only what the socket does not take at once, and requests
// made while the connection is still being opened, wait for the IO thread. The IO thread (the
// client's fast-send IoExecutor) connects, reads replies and runs each call's `done` there,
// so `done` must not block (as gRPC's callback threads). A call's `done` runs exactly once: its
// reply, a timeout (checked every 50 ms while calls are in flight), or the connection's failure,
// which fails every call in flight and marks the connection broken for good; the owner opens
// another. A connection not open within 3 s fails the same way. A CallStream() call (a standing
// pull) takes every reply the broker flags kMoreReplies as well, then ends the same ways.
// Locking: mu_ guards the calls in flight, the unsent bytes, the state and the timer's flags;
// `done` is never run with mu_ held. Destroy only after Close() on an IO executor still running.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/frame.h"
#include "common/result.h"

namespace asio {
class io_context;
}

namespace mq::client {

class FastSendConnection : public std::enable_shared_from_this<FastSendConnection> {
 public:
  // The reply's payload (a SendMessageResponse's bytes), valid only while `done` runs.
  using Done = std::function<void(Result<std::string_view>)>;
  // The same, and whether the broker keeps the call open for more replies (frame::kMoreReplies).
  using StreamDone = std::function<void(Result<std::string_view>, bool more)>;

  // Starts connecting to `addr` (host:port) on `io`'s thread; calls made meanwhile wait.
  static std::shared_ptr<FastSendConnection> Open(asio::io_context& io, const std::string& addr);
  ~FastSendConnection();
  FastSendConnection(const FastSendConnection&) = delete;
  FastSendConnection& operator=(const FastSendConnection&) = delete;

  // Sends a `method` request made of `parts` (concatenated, at most 7) and calls done(reply) later;
  // returns the call's request id (for Cancel).
  uint64_t Call(frame::Method method, std::initializer_list<std::string_view> parts, int64_t timeout_ms,
                Done done);
  // As Call, for a request the broker may answer several times: done(reply, true) for each reply
  // flagged kMoreReplies (each restarts the timeout), then exactly one done(..., false).
  uint64_t CallStream(frame::Method method, std::initializer_list<std::string_view> parts, int64_t timeout_ms,
                      StreamDone done);
  // A call still in flight gets done(why) on the IO thread (its reply, if one comes, is dropped).
  // A CallStream() call is cancelled on the broker too (a kCancel frame): a pull it holds ends.
  void Cancel(uint64_t request_id, const Status& why);
  // Fails every call in flight with Unavailable and closes the socket; later calls fail at once.
  void Close();
  // Failed or closed: no call will succeed on it.
  bool broken() const { return broken_.load(std::memory_order_acquire); }
  const std::string& addr() const { return addr_; }

 private:
  static constexpr size_t kMaxRequestParts = 7;  // a request's payload pieces
  struct Impl;
  FastSendConnection(asio::io_context& io, std::string addr);
  void Connect();
  void ReadMore();
  void OnRead(size_t n);
  // Writes a request frame (its header, then `parts`, at most kMaxRequestParts) into the socket,
  // or leaves what it does not take (all of it while connecting) to the IO thread. Caller holds
  // mu_.
  void WriteRequestLocked(frame::Method method, uint64_t request_id,
                          std::initializer_list<std::string_view> parts);
  void AwaitWritable();
  void ArmTick();
  void Tick();
  // Marks the connection broken, closes it and fails every call in flight (IO thread).
  void Fail(const Status& why);

  struct Pending {
    std::chrono::steady_clock::time_point deadline;
    std::chrono::milliseconds timeout{0};
    Done done;                           // a Call's
    std::shared_ptr<StreamDone> stream;  // a CallStream's (shared: called outside mu_ while kept)
    // Its last call: the reply, or why there is none.
    void End(const Result<std::string_view>& r) const {
      if (stream) return (*stream)(r, false);
      done(r);
    }
  };
  uint64_t Start(frame::Method method, std::initializer_list<std::string_view> parts, Pending pending);

  const std::string addr_;
  std::unique_ptr<Impl> impl_;  // the socket and timer (IO thread, and writes under mu_)
  std::atomic<bool> broken_{false};
  std::mutex mu_;
  bool connected_ = false;  // guarded by mu_
  bool closed_ = false;     // guarded by mu_: no write after the socket closed
  Status failure_;          // guarded by mu_: why it closed (set with closed_), every later call's answer
  std::map<uint64_t, Pending> pending_;  // guarded by mu_
  uint64_t next_id_ = 1;                 // guarded by mu_
  std::string unsent_;                   // guarded by mu_
  bool tick_armed_ = false;              // guarded by mu_
  bool called_since_tick_ = false;       // guarded by mu_
  const std::chrono::steady_clock::time_point opened_at_;
  std::vector<char> in_;  // IO thread only
  size_t in_len_ = 0;     // IO thread only
};

}  // namespace mq::client
