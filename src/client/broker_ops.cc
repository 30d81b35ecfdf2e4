#include "broker_ops.h"

#include "convert.h"
#include "fast_send_connection.h"

namespace mq::client {

Result<int64_t> QueryCommittedOffset(ClientInstance& c, const std::string& addr, const std::string& group,
                                     const MessageQueue& q) {
  mq::v1::QueryConsumerOffsetRequest req;
  req.set_consumer_group(group);
  *req.mutable_queue() = ToQueueRef(q);
  auto stub = c.Broker(addr);
  MQ_ASSIGN_OR_RETURN(auto resp, BlockingCall<mq::v1::QueryConsumerOffsetResponse>(
                                     c.options().rpc_timeout_ms, [&](auto* ctx, auto* r) {
                                       return stub->QueryConsumerOffset(ctx, req, r);
                                     }));
  return resp.offset();
}

Status CommitOffset(ClientInstance& c, const std::string& addr, const std::string& group,
                    const MessageQueue& q, int64_t offset) {
  mq::v1::UpdateConsumerOffsetRequest req;
  req.set_consumer_group(group);
  *req.mutable_queue() = ToQueueRef(q);
  req.set_offset(offset);
  auto stub = c.Broker(addr);
  auto r = BlockingCall<mq::v1::UpdateConsumerOffsetResponse>(
      c.options().rpc_timeout_ms,
      [&](auto* ctx, auto* resp) { return stub->UpdateConsumerOffset(ctx, req, resp); });
  return r.ok() ? Status::OK() : r.status();
}

void CommitOffsetAsync(ClientInstance& c, const std::string& addr, const std::string& group,
                       const MessageQueue& q, int64_t offset, std::function<void(Status)> done,
                       const std::shared_ptr<FastSendConnection>& fast) {
  mq::v1::UpdateConsumerOffsetRequest req;
  req.set_consumer_group(group);
  *req.mutable_queue() = ToQueueRef(q);
  req.set_offset(offset);
  if (fast) {
    // A gRPC call costs the broker about 100 µs of CPU here, a fast port frame a few.
    const std::string bytes = req.SerializeAsString();
    fast->Call(frame::Method::kUpdateConsumerOffset, {bytes}, c.options().rpc_timeout_ms,
               [&c, addr, group, q, offset, done](Result<std::string_view> r) {
                 if (!r.ok() && r.status().code() == StatusCode::kNotSupported) {
                   return CommitOffsetAsync(c, addr, group, q, offset, done);
                 }
                 done(r.ok() ? Status::OK() : r.status());
               });
    return;
  }
  auto stub = c.Broker(addr);
  StartCall<mq::v1::UpdateConsumerOffsetRequest, mq::v1::UpdateConsumerOffsetResponse>(
      [stub](auto* ctx, auto* rq, auto* rs, auto cb) {
        stub->async()->UpdateConsumerOffset(ctx, rq, rs, std::move(cb));
      },
      std::move(req), c.options().rpc_timeout_ms, &c.internal(), c.inflight(),
      [done = std::move(done)](Result<mq::v1::UpdateConsumerOffsetResponse> r) {
        done(r.ok() ? Status::OK() : r.status());
      });
}

Result<std::pair<int64_t, int64_t>> QueueMinMax(ClientInstance& c, const std::string& addr,
                                                const MessageQueue& q) {
  mq::v1::GetQueueOffsetsRequest req;
  *req.mutable_queue() = ToQueueRef(q);
  auto stub = c.Broker(addr);
  MQ_ASSIGN_OR_RETURN(auto resp, BlockingCall<mq::v1::GetQueueOffsetsResponse>(
                                     c.options().rpc_timeout_ms,
                                     [&](auto* ctx, auto* r) { return stub->GetQueueOffsets(ctx, req, r); }));
  return std::make_pair(resp.min_offset(), resp.max_offset());
}

Result<int64_t> SearchOffset(ClientInstance& c, const std::string& addr, const MessageQueue& q,
                             int64_t ts_ms) {
  mq::v1::SearchOffsetRequest req;
  *req.mutable_queue() = ToQueueRef(q);
  req.set_timestamp(ts_ms);
  auto stub = c.Broker(addr);
  MQ_ASSIGN_OR_RETURN(auto resp, BlockingCall<mq::v1::SearchOffsetResponse>(
                                     c.options().rpc_timeout_ms,
                                     [&](auto* ctx, auto* r) { return stub->SearchOffset(ctx, req, r); }));
  return resp.offset();
}

Result<std::vector<MessageQueue>> LockQueues(ClientInstance& c, const std::string& addr,
                                             const std::string& group,
                                             const std::vector<MessageQueue>& queues, bool unlock) {
  mq::v1::LockBatchRequest req;
  req.set_consumer_group(group);
  req.set_client_id(c.client_id());
  for (const auto& q : queues) *req.add_queues() = ToQueueRef(q);
  auto stub = c.Broker(addr);
  MQ_ASSIGN_OR_RETURN(
      auto resp, BlockingCall<mq::v1::LockBatchResponse>(c.options().rpc_timeout_ms, [&](auto* ctx, auto* r) {
        return unlock ? stub->UnlockBatchQueues(ctx, req, r) : stub->LockBatchQueues(ctx, req, r);
      }));
  std::vector<MessageQueue> out;
  for (const auto& ref : resp.locked()) {
    for (const auto& q : queues) {
      if (q.topic == ref.topic() && q.queue_id == ref.queue_id()) out.push_back(q);
    }
  }
  return out;
}

Status SendHeartbeat(ClientInstance& c, const std::string& addr, const mq::v1::HeartbeatRequest& req) {
  auto stub = c.Broker(addr);
  auto r = BlockingCall<mq::v1::HeartbeatResponse>(
      c.options().rpc_timeout_ms, [&](auto* ctx, auto* resp) { return stub->Heartbeat(ctx, req, resp); });
  return r.ok() ? Status::OK() : r.status();
}

Result<std::string> RecallMessage(ClientInstance& c, const std::string& addr, const std::string& broker,
                                  const std::string& topic, const std::string& handle, int64_t timeout_ms) {
  if (addr.empty()) {
    return Status::Unavailable("recall: no master of broker '" + broker + "' in the route of '" + topic +
                               "'");
  }
  auto stub = c.Broker(addr);
  mq::v1::RecallMessageRequest req;
  req.set_topic(topic);
  req.set_recall_handle(handle);
  MQ_ASSIGN_OR_RETURN(auto resp,
                      BlockingCall<mq::v1::RecallMessageResponse>(
                          timeout_ms, [&](auto* ctx, auto* r) { return stub->RecallMessage(ctx, req, r); }));
  return resp.msg_id();
}

}  // namespace mq::client
