// SendProcessor: validates a send, resolves (or auto-creates) the topic, picks the queue and
// hands the message(s) to the store. Completion is asynchronous: `done` runs inline when the
// store acknowledges from the page cache (ASYNC_FLUSH) or later on the store's flush thread
// (SYNC_FLUSH), so a network thread never waits on fsync.
// Thread-safe; stateless apart from the round-robin counter.
#pragma once

#include <atomic>
#include <functional>

#include "broker/broker_context.h"
#include "broker/store/message_format.h"
#include "common/status.h"
#include "mq/v1/broker.pb.h"

namespace mq::broker {

class SendProcessor {
 public:
  using Done = std::function<void(const Status&, const mq::v1::SendMessageResponse&)>;

  explicit SendProcessor(BrokerContext ctx);
  void Send(const mq::v1::SendMessageRequest& request, Done done);

 private:
  BrokerContext ctx_;
  const store::HostAddress store_host_;  // stamped into offset message ids
  std::atomic<uint32_t> round_robin_{0};
};

}  // namespace mq::broker
