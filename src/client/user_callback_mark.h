// Whether the calling thread runs user code on a client's callback threads: a send callback or
// a transaction check. A Producer::Shutdown() from there is deferred (the shutdown stops those
// threads), and a send from there never waits for room under back pressure (the room may be
// held by the callbacks queued behind it). Thread-local; no locks.
#pragma once

namespace mq::client {

inline thread_local bool tls_in_user_callback = false;

// Sets the mark for its lifetime (callbacks do not nest).
class UserCallbackScope {
 public:
  UserCallbackScope() { tls_in_user_callback = true; }
  ~UserCallbackScope() { tls_in_user_callback = false; }
  UserCallbackScope(const UserCallbackScope&) = delete;
  UserCallbackScope& operator=(const UserCallbackScope&) = delete;
};

}  // namespace mq::client
