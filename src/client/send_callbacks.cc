#include "send_callbacks.h"

namespace mq::client {

namespace {
thread_local int tls_producer_calls = 0;          // producer calls in progress on this thread
thread_local int tls_reply_thread_callbacks = 0;  // callbacks SendCallbacks runs here
}  // namespace

void SendCallbacks::Run(std::function<void()> fn) {
  if (!on_reply_thread_ || tls_producer_calls > 0) return pool_->Post(std::move(fn));
  struct Mark {
    Mark() { ++tls_reply_thread_callbacks; }
    ~Mark() { --tls_reply_thread_callbacks; }
  } mark;
  fn();
}

SendCallbacks::ProducerCallScope::ProducerCallScope() { ++tls_producer_calls; }
SendCallbacks::ProducerCallScope::~ProducerCallScope() { --tls_producer_calls; }

bool SendCallbacks::OnReplyThreadCallback() { return tls_reply_thread_callbacks > 0; }

}  // namespace mq::client
