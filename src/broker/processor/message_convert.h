// Conversions between mq.v1 messages and the store's records. Pure functions, thread-safe.
// The processors speak mq.v1 (our own protocol is the broker's internal model); a second
// protocol adapter converts its messages to mq.v1 and calls the same processors.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "broker/store/message_format.h"
#include "common/result.h"
#include "mq/v1/common.pb.h"

namespace mq::broker {

// Whether `key` is any property RocketMQ reserves (record::IsSystemPropertyKey plus its other
// MessageConst keys, the timer's and the pop/proxy's): the v2 adapter refuses such a user
// property and never delivers one as a user property. v1 keeps its split above.
bool IsReservedPropertyKey(std::string_view key);

// "host:port" -> packed IPv4 host; anything else -> 0.0.0.0:0.
store::HostAddress ParseHostAddress(std::string_view host_port);
// "ipv4:1.2.3.4:5" / "ipv6:[::1]:5" (grpc peer()) -> "1.2.3.4:5" / "[::1]:5"; both adapters
// record a client's address with it.
std::string PeerHostPort(std::string_view peer);
std::string FormatHostAddress(const store::HostAddress& host);

// Room every message a producer sends keeps under the properties and size limits for what the
// broker's retry and DLQ copies of it add (SendBackProcessor: RETRY_TOPIC, ORIGIN_MESSAGE_ID,
// RECONSUME_TIME, MAX_RECONSUME_TIMES, DELAY, REAL_TOPIC, REAL_QID: 520 bytes at most with
// 127-byte topics and 128-byte ids), rounded up: a copy refused for size would leave the
// message stuck with its consumer (an orderly queue blocked for good).
inline constexpr int32_t kSendBackGrowthBytes = 576;

// Builds the store input, moving the body and strings out of `message`. `unique_key` is the
// UNIQ_KEY to store (already chosen). It keeps kSendBackGrowthBytes free.
store::MessageInput ToMessageInput(mq::v1::Message* message, const std::string& topic, int32_t queue_id,
                                   const std::string& unique_key);

// Decodes an encoded record (as returned by GetMessages) into a MessageExt.
Status ToMessageExt(std::string_view record, const std::string& broker_name, mq::v1::MessageExt* out);
void ToMessageExt(const store::StoredMessage& stored, const std::string& broker_name,
                  mq::v1::MessageExt* out);

}  // namespace mq::broker
