// What the broker answers to a client's Telemetry Settings, and how that client is registered
// in the broker's client tables (so mqadmin consumerConnection/producerConnection and consumer
// group auto-creation see v2 clients as they see v1 ones). The reply echoes the client's
// settings completed as the RocketMQ proxy completes them; the SDKs depend on it (a producer
// reply without backoff_policy.exponential_backoff crashes the Node SDK, max_body_size 0 fails
// every send). Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "apache/rocketmq/v2/definition.pb.h"
#include "broker/v2/consumer_rpcs.h"
#include "common/result.h"
#include "mq/v1/broker.pb.h"

namespace mq::broker::v2 {

struct ServerSettings {
  int32_t max_body_size = 4 * 1024 * 1024;  // maxMessageSize
  bool fifo = false;                        // the consumer group consumes orderly
  int32_t max_attempts = 17;                // the group's retryMaxTimes + 1
  // The group's retry delays (RocketMQ delay levels 3..18 by default), as customized backoff;
  // empty: exponential 1 s .. 10 s x2.
  std::vector<int64_t> retry_delays_ms;
  int32_t receive_batch_size = 32;
  int64_t long_polling_timeout_ms = 20000;
};

bool IsConsumer(apache::rocketmq::v2::ClientType type);

// The client's settings with the server's fields filled in.
apache::rocketmq::v2::Settings SettingsReply(const apache::rocketmq::v2::Settings& client,
                                             const ServerSettings& server);

// The v1 heartbeat registering this client: a producer under one group per publishing topic
// (the proxy's convention: producer group = topic), a consumer under its group with its
// subscriptions. Names carry the call's namespace. InvalidArgument naming the field for a
// consumer without a group or with an unknown filter type.
Result<mq::v1::HeartbeatRequest> RegistrationOf(const apache::rocketmq::v2::Settings& client,
                                                const CallContext& call);

}  // namespace mq::broker::v2
