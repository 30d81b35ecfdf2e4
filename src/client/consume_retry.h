// Consume-failure handling shared by the push consumer's modes: the group's retry topic, the
// original topic of a message read from it, and the blocking send-back RPC
// (ConsumerSendMsgBack). Free functions; thread-safe. SendMessageBack blocks for up to
// rpc_timeout_ms: call it on a consume thread, never on the client's internal executor.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "client_instance.h"
#include "common/status.h"
#include "mq/client/message.h"

namespace mq::client {

inline constexpr std::string_view kRetryTopicPrefix = "%RETRY%";

std::string RetryTopic(const std::string& group);
bool IsRetryTopic(std::string_view topic);

// A message read from %RETRY%<group> is handed to the listener under its original topic
// (RETRY_TOPIC); `queue` keeps naming the retry queue (offsets are committed there).
void RestoreRetryTopic(ReceivedMessage* m);

// Sends `m` back to the master of its broker set. delay_level: 0 = the broker's backoff
// (3 + reconsume times), < 0 = straight to %DLQ%<group>. max_reconsume_times < 0 = the
// group's retryMaxTimes.
Status SendMessageBack(ClientInstance& c, const std::string& group, const ReceivedMessage& m,
                       int32_t delay_level, int32_t max_reconsume_times);

}  // namespace mq::client
