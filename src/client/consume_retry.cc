#include "consume_retry.h"

#include "route_info.h"
#include "rpc_call.h"

namespace mq::client {

std::string RetryTopic(const std::string& group) { return std::string(kRetryTopicPrefix) + group; }

bool IsRetryTopic(std::string_view topic) {
  return topic.substr(0, kRetryTopicPrefix.size()) == kRetryTopicPrefix;
}

void RestoreRetryTopic(ReceivedMessage* m) {
  if (!IsRetryTopic(m->message.topic)) return;
  auto it = m->system_properties.find("RETRY_TOPIC");
  if (it != m->system_properties.end() && !it->second.empty()) m->message.topic = it->second;
}

Status SendMessageBack(ClientInstance& c, const std::string& group, const ReceivedMessage& m,
                       int32_t delay_level, int32_t max_reconsume_times) {
  // The route of the queue the message was read from (the retry topic's for a retry message).
  MQ_ASSIGN_OR_RETURN(auto route, c.GetRoute(m.queue.topic));
  const std::string addr = MasterAddress(route, m.queue.broker_name);
  if (addr.empty()) {
    return Status::Unavailable("send back: broker set '" + m.queue.broker_name +
                               "' has no master in the route");
  }
  mq::v1::ConsumerSendMsgBackRequest req;
  req.set_group(group);
  req.set_offset_msg_id(m.offset_msg_id);
  req.set_delay_level(delay_level);
  if (max_reconsume_times >= 0) req.set_max_reconsume_times(max_reconsume_times);
  req.set_origin_topic(m.message.topic);
  req.set_msg_id(m.msg_id);
  auto stub = c.Broker(addr);
  auto r = BlockingCall<mq::v1::ConsumerSendMsgBackResponse>(
      c.options().rpc_timeout_ms,
      [&](auto* ctx, auto* resp) { return stub->ConsumerSendMsgBack(ctx, req, resp); });
  return r.ok() ? Status::OK() : r.status();
}

}  // namespace mq::client
