#include "broker/transaction/half_message.h"

#include <fmt/format.h>

#include <charconv>

namespace mq::broker::txn {
namespace {

Result<int64_t> ParseInt(std::string_view what, const std::string& value) {
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (ec != std::errc() || ptr != value.data() + value.size()) {
    return Status::Corruption(fmt::format("{}: '{}' is not an integer", what, value));
  }
  return out;
}

std::string Key(std::string_view k) { return std::string(k); }

// Every field of the stored record a re-put keeps, topic/queue left to the caller.
store::MessageInput CopyRecord(const store::StoredMessage& half) {
  store::MessageInput in;
  in.flag = half.header.flag;
  in.body = half.body;
  in.properties = half.properties;
  in.sys_flag = half.header.sys_flag;
  in.born_timestamp = half.header.born_timestamp;
  in.born_host = half.header.born_host;
  in.reconsume_times = half.header.reconsume_times;
  return in;
}

}  // namespace

void ToHalfMessage(store::MessageInput* msg, const std::string& producer_group) {
  // The check's own bookkeeping: a producer's copy could make the half unparseable or spend
  // its checks.
  msg->properties.erase(Key(kPropCheckTimes));
  msg->properties.erase(Key(kPropPreparedTs));
  msg->properties[Key(kPropRealTopic)] = msg->topic;
  msg->properties[Key(kPropRealQid)] = std::to_string(msg->queue_id);
  msg->properties[Key(kPropTranMsg)] = "true";
  msg->properties[Key(kPropProducerGroup)] = producer_group;
  msg->reserve_bytes += kHalfCopyGrowthBytes;
  // As RocketMQ's parseHalfMessageInner: the half record itself is an ordinary record of the
  // half topic (so it is indexed in that topic's queue); TRAN_MSG marks it.
  msg->sys_flag &= ~kSysFlagTransactionMask;
  msg->topic = std::string(kHalfTopic);
  msg->queue_id = 0;
}

Result<HalfInfo> ParseHalf(const store::StoredMessage& half) {
  HalfInfo info;
  info.transaction_id = half.Property(store::kPropertyUniqKey);
  info.producer_group = half.Property(kPropProducerGroup);
  info.real_topic = half.Property(kPropRealTopic);
  if (half.topic != kHalfTopic) {
    return Status::Corruption(fmt::format("topic: record is on '{}', not a half message", half.topic));
  }
  if (info.transaction_id.empty()) return Status::Corruption("UNIQ_KEY: missing on half message");
  if (info.real_topic.empty()) return Status::Corruption("REAL_TOPIC: missing on half message");
  MQ_ASSIGN_OR_RETURN(int64_t qid, ParseInt("REAL_QID", half.Property(kPropRealQid)));
  info.real_queue_id = static_cast<int32_t>(qid);
  if (std::string v = half.Property(kPropCheckTimes); !v.empty()) {
    MQ_ASSIGN_OR_RETURN(int64_t times, ParseInt("TRANSACTION_CHECK_TIMES", v));
    info.check_times = static_cast<int32_t>(times);
  }
  info.prepared_ts = half.header.store_timestamp;
  if (std::string v = half.Property(kPropPreparedTs); !v.empty()) {
    MQ_ASSIGN_OR_RETURN(info.prepared_ts, ParseInt("TRAN_PREPARED_TS", v));
  }
  if (std::string v = half.Property(kPropCheckImmunity); !v.empty()) {
    // A bad value from a producer only loses its override (RocketMQ falls back the same way).
    auto secs = ParseInt("CHECK_IMMUNITY_TIME_IN_SECONDS", v);
    if (secs.ok() && *secs >= 0) info.check_immunity_ms = std::min(*secs, kMaxCheckImmunitySec) * 1000;
  }
  return info;
}

store::MessageInput RestoreRealMessage(const store::StoredMessage& half, const HalfInfo& info) {
  store::MessageInput in = CopyRecord(half);
  in.topic = info.real_topic;
  in.queue_id = info.real_queue_id;
  for (auto k : {kPropRealTopic, kPropRealQid, kPropCheckTimes, kPropPreparedTs}) in.properties.erase(Key(k));
  in.sys_flag = (in.sys_flag & ~kSysFlagTransactionMask) | kSysFlagCommit;
  in.prepared_transaction_offset = half.header.physical_offset;
  return in;
}

store::MessageInput RenewHalf(const store::StoredMessage& half, const HalfInfo& info, int32_t check_times) {
  store::MessageInput in = CopyRecord(half);
  in.topic = std::string(kHalfTopic);
  in.queue_id = 0;
  in.properties[Key(kPropCheckTimes)] = std::to_string(check_times);
  in.properties[Key(kPropPreparedTs)] = std::to_string(info.prepared_ts);
  return in;
}

std::string_view ResolutionName(Resolution r) {
  switch (r) {
    case Resolution::kCommit:
      return "COMMIT";
    case Resolution::kRollback:
      return "ROLLBACK";
    case Resolution::kDiscard:
      return "DISCARDED";
  }
  return "?";
}

// Body: "<half queue offset>,<half max offset>,<C|R|D>"; the transaction id is the UNIQ_KEY.
store::MessageInput EncodeOp(const OpRecord& op) {
  store::MessageInput in;
  in.topic = std::string(kOpHalfTopic);
  in.queue_id = 0;
  char code = op.resolution == Resolution::kCommit ? 'C' : op.resolution == Resolution::kRollback ? 'R' : 'D';
  in.body = fmt::format("{},{},{}", op.half_queue_offset, op.half_max_offset, code);
  in.properties[std::string(store::kPropertyTags)] = std::string(kOpTag);
  in.properties[std::string(store::kPropertyUniqKey)] = op.transaction_id;
  return in;
}

Result<OpRecord> DecodeOp(const store::StoredMessage& stored) {
  OpRecord op;
  op.transaction_id = stored.Property(store::kPropertyUniqKey);
  if (op.transaction_id.empty()) return Status::Corruption("op: no UNIQ_KEY");
  const std::string& b = stored.body;
  size_t c1 = b.find(',');
  size_t c2 = c1 == std::string::npos ? c1 : b.find(',', c1 + 1);
  if (c2 == std::string::npos || c2 + 2 != b.size()) {
    return Status::Corruption(fmt::format("op: body '{}' is not offset,max,code", b));
  }
  MQ_ASSIGN_OR_RETURN(op.half_queue_offset, ParseInt("op half offset", b.substr(0, c1)));
  MQ_ASSIGN_OR_RETURN(op.half_max_offset, ParseInt("op half max", b.substr(c1 + 1, c2 - c1 - 1)));
  switch (b.back()) {
    case 'C':
      op.resolution = Resolution::kCommit;
      break;
    case 'R':
      op.resolution = Resolution::kRollback;
      break;
    case 'D':
      op.resolution = Resolution::kDiscard;
      break;
    default:
      return Status::Corruption(fmt::format("op: unknown resolution code '{}'", b.back()));
  }
  return op;
}

}  // namespace mq::broker::txn
