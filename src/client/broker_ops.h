// Broker calls used by consumers (offsets, membership, queue locks) and a producer's recall:
// blocking unless noted, never to be called on the client's internal executor. Each call has
// the client's rpc_timeout_ms deadline unless it takes its own. Thread-safe free functions.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "client_instance.h"
#include "mq/client/message.h"

namespace mq::client {

// kNotFound when the group has no committed offset for q.
Result<int64_t> QueryCommittedOffset(ClientInstance& c, const std::string& addr, const std::string& group,
                                     const MessageQueue& q);
Status CommitOffset(ClientInstance& c, const std::string& addr, const std::string& group,
                    const MessageQueue& q, int64_t offset);
// Non-blocking commit: `done` runs on the client's internal executor. With `fast` (the node's
// fast port connection, ClientInstance::FastSendTo) it goes over that instead, and `done` runs
// on the connection's IO thread; a broker whose fast port does not take commits
// (kNotSupported) gets it over gRPC.
void CommitOffsetAsync(ClientInstance& c, const std::string& addr, const std::string& group,
                       const MessageQueue& q, int64_t offset, std::function<void(Status)> done,
                       const std::shared_ptr<FastSendConnection>& fast = nullptr);
Result<std::pair<int64_t, int64_t>> QueueMinMax(ClientInstance& c, const std::string& addr,
                                                const MessageQueue& q);
Result<int64_t> SearchOffset(ClientInstance& c, const std::string& addr, const MessageQueue& q,
                             int64_t ts_ms);
// Locks (or unlocks) queues of one broker for this client; returns the queues it holds.
Result<std::vector<MessageQueue>> LockQueues(ClientInstance& c, const std::string& addr,
                                             const std::string& group,
                                             const std::vector<MessageQueue>& queues, bool unlock);

// Recalls a scheduled message (Producer::RecallMessage) at `addr`, the master of `broker` (the
// broker its handle names; empty: Unavailable), within timeout_ms; returns the message id.
Result<std::string> RecallMessage(ClientInstance& c, const std::string& addr, const std::string& broker,
                                  const std::string& topic, const std::string& handle, int64_t timeout_ms);

// One heartbeat to one broker (the broker validates the subscriptions in it).
Status SendHeartbeat(ClientInstance& c, const std::string& addr, const mq::v1::HeartbeatRequest& req);

}  // namespace mq::client
