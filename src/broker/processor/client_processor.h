// ClientProcessor: everything a client does besides send and pull: consumer offsets
// (query/update, queue min/max, search by time), heartbeats and unregistration, the consumer
// ids of a group (optionally long-polled until the group changes), and orderly queue locks.
// Thread-safe; `done` of GetConsumerIds may run later on an IoExecutor thread.
#pragma once

#include <functional>
#include <string>

#include "broker/broker_context.h"
#include "common/result.h"
#include "mq/v1/broker.pb.h"

namespace mq::broker {

std::string GroupWaitKey(const std::string& group);

class ClientProcessor {
 public:
  explicit ClientProcessor(BrokerContext ctx) : ctx_(ctx) {}

  Result<int64_t> QueryConsumerOffset(const mq::v1::QueryConsumerOffsetRequest& request);
  Status UpdateConsumerOffset(const mq::v1::UpdateConsumerOffsetRequest& request);
  Result<mq::v1::GetQueueOffsetsResponse> GetQueueOffsets(const mq::v1::GetQueueOffsetsRequest& request);
  Result<int64_t> SearchOffset(const mq::v1::SearchOffsetRequest& request);

  Result<mq::v1::HeartbeatResponse> Heartbeat(const mq::v1::HeartbeatRequest& request,
                                              const std::string& peer);
  Status Unregister(const mq::v1::UnregisterClientRequest& request);
  using IdsDone = std::function<void(const Status&, const mq::v1::GetConsumerIdsResponse&)>;
  void GetConsumerIds(const mq::v1::GetConsumerIdsRequest& request, IdsDone done);

  Result<mq::v1::LockBatchResponse> LockBatch(const mq::v1::LockBatchRequest& request);
  Status UnlockBatch(const mq::v1::LockBatchRequest& request);

 private:
  // Checks the queue exists on this broker (topic known, id below its queue count).
  Status CheckQueue(const mq::v1::QueueRef& queue, const char* field) const;

  BrokerContext ctx_;
};

}  // namespace mq::broker
