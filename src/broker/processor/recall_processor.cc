#include "broker/processor/recall_processor.h"

#include <fmt/format.h>

#include "broker/timer/timer_message.h"
#include "broker/timer/timer_service.h"
#include "common/naming.h"

namespace mq::broker {

void RecallProcessor::Recall(const mq::v1::RecallMessageRequest& req, Done done) {
  mq::v1::RecallMessageResponse response;
  auto fail = [&](const Status& s) { done(s, response); };
  const BrokerConfig& config = *ctx_.config;
  if (Status s = ValidateName("topic", req.topic()); !s.ok()) return fail(s);
  auto handle = timer::DecodeRecallHandle(req.recall_handle());
  if (!handle.ok()) {
    return fail(Status::InvalidArgument("recall_handle: " + handle.status().message()));
  }
  if (handle->topic != req.topic()) {
    return fail(Status::InvalidArgument(
        fmt::format("recall_handle: issued for topic '{}', not for topic '{}'", handle->topic, req.topic())));
  }
  if (!config.recallMessageEnable) {
    return fail(Status::FailedPrecondition(
        fmt::format("recall: disabled on broker {} (recallMessageEnable=false)", config.brokerName)));
  }
  if (IsSlave(config) || ctx_.timer == nullptr) {
    return fail(Status::PermissionDenied(
        fmt::format("recall: {} (brokerId {}) is a SLAVE; send the recall to the master", config.brokerName,
                    config.brokerId)));
  }
  std::string msg_id = handle->uniq_key;
  ctx_.timer->Recall(std::move(*handle), [done = std::move(done), msg_id](const Status& s) {
    mq::v1::RecallMessageResponse resp;
    if (s.ok()) resp.set_msg_id(msg_id);
    done(s, resp);
  });
}

}  // namespace mq::broker
