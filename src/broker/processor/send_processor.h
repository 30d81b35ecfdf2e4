// SendProcessor: validates a send, resolves (or auto-creates) the topic, picks the queue and
// hands the message(s) to the store. Completion is asynchronous: `done` runs inline when the
// store acknowledges from the page cache (ASYNC_FLUSH) or later on the store's flush thread
// (SYNC_FLUSH), so a network thread never waits on fsync. On a master with an HaService the
// composition is PutMessage -> local flush policy -> replication: the store wakes the
// replication streams at every append (HaService's append listener) and, on a SYNC_MASTER,
// `done` runs once the slaves acknowledged the
// bytes (on an HA ack thread) or with SLAVE_NOT_AVAILABLE / FLUSH_SLAVE_TIMEOUT. In
// SYNC_FLUSH the first sends to an auto-created topic are answered once the topic is in
// topics.json (from the metadata writer's thread; never a gRPC thread).
// Thread-safe; stateless apart from the round-robin counter.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/broker_context.h"
#include "broker/processor/byte_budget.h"
#include "broker/store/message_format.h"
#include "broker/store/store_types.h"
#include "common/result.h"
#include "common/status.h"
#include "mq/v1/broker.pb.h"

namespace mq::ha {
class HaService;
}

namespace mq::broker {

// The refusal of a send whose request bytes would pass `budget` (sendRequestMemoryQuota), the
// same from every port that takes sends.
Status SendBudgetExhausted(const ByteBudget& budget);

class SendProcessor {
 public:
  using Done = std::function<void(const Status&)>;

  // `ha` (may be null: no replication) must outlive this processor.
  explicit SendProcessor(BrokerContext ctx, ha::HaService* ha = nullptr);
  // Moves the messages' bodies and strings out of `request` into the store's input (it is read
  // during this call only). On success `response` is filled in place before `done` runs, so it
  // must live until then (gRPC's own response object, for one).
  void Send(mq::v1::SendMessageRequest* request, mq::v1::SendMessageResponse* response, Done done);

  // The same send from the request's wire bytes, for plain messages (send_request_wire.h): the
  // records are encoded straight from `wire` and the reply is the SendMessageResponse's bytes.
  // Returns false, having done nothing, for a request it leaves to Send (a delayed, scheduled or
  // transactional message, a message without a unique key, anything ReadSendRequest does not
  // take): parse it and call Send, which reports every error the same way. `wire` must stay
  // valid until `done` runs. Messages without a born host get `sender` (the client's address,
  // as RocketMQ records the channel's remote address).
  using WireDone = std::function<void(const Status&, std::string response)>;
  bool TrySendWire(std::string_view wire, store::HostAddress sender, WireDone done);
  // Any send from its wire bytes, whatever carried them (the gRPC port, the fast send port):
  // TrySendWire, else the bytes parsed and Send. `wire` must stay valid until `done` runs; an
  // unparsable request is InvalidArgument. `sender` is the client's "host:port".
  void SendWire(std::string_view wire, const std::string& sender, WireDone done);

 private:
  // The queue a send goes to: checks the broker's role and permission, creates the topic if
  // allowed, picks a queue round-robin (requested < 0) or checks the requested one.
  Result<int32_t> ResolveQueue(const std::string& topic, int32_t default_topic_queue_nums,
                               int32_t requested_queue);
  // `reply` wrapped with what every send's completion does: stats, then the durable topic
  // (SYNC_FLUSH) and replication steps.
  store::PutCallback Completion(int64_t messages, int64_t body_bytes,
                                std::function<void(const store::PutResult&)> reply) const;
  // Wraps the completion with the replication step (ha_ != null).
  store::PutCallback WithReplication(store::PutCallback complete) const;
  // SYNC_FLUSH: an acknowledged message's topic must survive a crash too, so the reply also
  // waits for an auto-created topic to reach topics.json (TopicConfigManager::WhenDurable).
  store::PutCallback WithDurableTopic(store::PutCallback complete) const;
  // Parks scheduled messages in the timer topic; returns the recall handle or "".
  Result<std::string> ScheduleTimer(const mq::v1::SendMessageRequest& req,
                                    std::vector<store::MessageInput>* inputs) const;

  BrokerContext ctx_;
  ha::HaService* const ha_;
  const store::HostAddress store_host_;  // stamped into offset message ids
  std::atomic<uint32_t> round_robin_{0};
};

}  // namespace mq::broker
