#include "broker/v2/settings_reply.h"

#include <fmt/format.h>

#include "broker/v2/call_context.h"

namespace mq::broker::v2 {
namespace pb = apache::rocketmq::v2;
namespace {

void SetDurationMs(int64_t ms, google::protobuf::Duration* d) {
  d->set_seconds(ms / 1000);
  d->set_nanos(static_cast<int32_t>(ms % 1000) * 1000000);
}

}  // namespace

bool IsConsumer(pb::ClientType type) {
  return type == pb::ClientType::PUSH_CONSUMER || type == pb::ClientType::SIMPLE_CONSUMER ||
         type == pb::ClientType::PULL_CONSUMER;
}

pb::Settings SettingsReply(const pb::Settings& client, const ServerSettings& server) {
  pb::Settings reply = client;
  auto* backoff = reply.mutable_backoff_policy();
  if (client.client_type() == pb::ClientType::PRODUCER) {
    backoff->set_max_attempts(3);
    auto* exp = backoff->mutable_exponential_backoff();
    SetDurationMs(10, exp->mutable_initial());
    SetDurationMs(1000, exp->mutable_max());
    exp->set_multiplier(2);
    auto* publishing = reply.mutable_publishing();
    publishing->set_max_body_size(server.max_body_size);
    publishing->set_validate_message_type(true);
  } else if (IsConsumer(client.client_type())) {
    backoff->set_max_attempts(server.max_attempts);
    if (server.retry_delays_ms.empty()) {
      auto* exp = backoff->mutable_exponential_backoff();
      SetDurationMs(1000, exp->mutable_initial());
      SetDurationMs(10000, exp->mutable_max());
      exp->set_multiplier(2);
    } else {
      auto* custom = backoff->mutable_customized_backoff();
      for (int64_t ms : server.retry_delays_ms) SetDurationMs(ms, custom->add_next());
    }
    auto* sub = reply.mutable_subscription();
    sub->set_fifo(server.fifo);
    sub->set_receive_batch_size(server.receive_batch_size);
    SetDurationMs(server.long_polling_timeout_ms, sub->mutable_long_polling_timeout());
  }
  reply.mutable_metric()->set_on(false);
  reply.mutable_metric()->clear_endpoints();
  return reply;
}

Result<mq::v1::HeartbeatRequest> RegistrationOf(const pb::Settings& client, const CallContext& call) {
  mq::v1::HeartbeatRequest hb;
  hb.set_client_id(call.client_id);
  if (client.client_type() == pb::ClientType::PRODUCER) {
    for (const auto& topic : client.publishing().topics()) {
      if (topic.name().empty()) continue;
      hb.add_producers()->set_group(StoredName(call, topic));
    }
    return hb;
  }
  if (!IsConsumer(client.client_type())) return hb;
  const auto& sub = client.subscription();
  if (!sub.has_group() || sub.group().name().empty()) {
    return Status::InvalidArgument("settings.subscription.group: required for a consumer");
  }
  auto* consumer = hb.add_consumers();
  consumer->set_group(StoredName(call, sub.group()));
  consumer->set_message_model(mq::v1::CLUSTERING);
  for (int i = 0; i < sub.subscriptions_size(); ++i) {
    const auto& entry = sub.subscriptions(i);
    auto* data = consumer->add_subscriptions();
    data->set_topic(StoredName(call, entry.topic()));
    const auto& expr = entry.expression();
    switch (expr.type()) {
      case pb::FilterType::FILTER_TYPE_UNSPECIFIED:
      case pb::FilterType::TAG:
        data->set_expression(expr.expression().empty() ? "*" : expr.expression());
        data->set_expression_type("TAG");
        break;
      case pb::FilterType::SQL:
        data->set_expression(expr.expression());
        data->set_expression_type("SQL92");
        break;
      default:
        return Status::InvalidArgument(
            fmt::format("settings.subscription.subscriptions[{}].expression.type: {} is not TAG or SQL", i,
                        static_cast<int>(expr.type())));
    }
  }
  return hb;
}

}  // namespace mq::broker::v2
