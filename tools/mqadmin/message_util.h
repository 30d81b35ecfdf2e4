// Message helpers of mqadmin: the offsetMsgId decoder (mqadmin links no broker code) and the
// message renderings shared by the query and consume verbs. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "common/result.h"
#include "mq/v1/common.pb.h"
#include "output.h"

namespace mq::admin {

// offsetMsgId = store host IPv4(4) + port(4) + commit log offset(8), big-endian, as 32 hex
// characters (RocketMQ MessageDecoder.createMessageId):
//
//   +--------+--------+----------------+
//   | ip (4) |port (4)| phy offset (8) |
//   +--------+--------+----------------+
struct OffsetMsgId {
  std::string broker_addr;  // "a.b.c.d:port"
  int64_t commit_log_offset = 0;
};
// InvalidArgument when id is not 32 hex characters or its port is not 1..65535.
Result<OffsetMsgId> DecodeOffsetMsgId(const std::string& id);

// The consumeMessage --json contract fields (msgId, offsetMsgId, topic, tags, keys, queueId,
// queueOffset, bornTimestamp, storeTimestamp, body) plus brokerName; `detailed` adds the
// commit log offset, hosts, sysFlag, reconsumeTimes and properties.
Json MessageToJson(const mq::v1::MessageExt& m, bool detailed);
// RocketMQ's queryMsgById layout: one "Name: value" line per field.
void PrintMessageDetail(const mq::v1::MessageExt& m, std::ostream& out);
// Keys joined by spaces (RocketMQ KEYS).
std::string JoinKeys(const mq::v1::Message& m);

}  // namespace mq::admin
