#include "broker/v2/deliver_convert.h"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include <set>

#include "broker/store/message_format.h"
#include "broker/v2/call_context.h"
#include "common/digest.h"
#include "common/naming.h"

namespace mq::broker::v2 {
namespace {

namespace pb = apache::rocketmq::v2;
using google::protobuf::util::TimeUtil;

constexpr std::string_view kShardingKey = "__SHARDINGKEY";
constexpr std::string_view kTimerDeliverMs = "TIMER_DELIVER_MS";
constexpr std::string_view kStartDeliverTime = "__STARTDELIVERTIME";
constexpr std::string_view kDelayLevel = "DELAY";
constexpr std::string_view kTranMsg = "TRAN_MSG";

// RocketMQ MessageConst.STRING_HASH_SET plus the keys the timer and transactions add here.
const std::set<std::string, std::less<>> kSystemKeys = {"KEYS",
                                                        "TAGS",
                                                        "UNIQ_KEY",
                                                        "DELAY",
                                                        "WAIT",
                                                        "RETRY_TOPIC",
                                                        "REAL_TOPIC",
                                                        "REAL_QID",
                                                        "TRAN_MSG",
                                                        "PGROUP",
                                                        "MIN_OFFSET",
                                                        "MAX_OFFSET",
                                                        "BUYER_ID",
                                                        "ORIGIN_MESSAGE_ID",
                                                        "TRANSFER_FLAG",
                                                        "CORRECTION_FLAG",
                                                        "MQ2_FLAG",
                                                        "RECONSUME_TIME",
                                                        "MSG_REGION",
                                                        "TRACE_ON",
                                                        "MAX_RECONSUME_TIMES",
                                                        "CONSUME_START_TIME",
                                                        "POP_CK",
                                                        "POP_CK_OFFSET",
                                                        "FIRST_POP_TIME",
                                                        "TRAN_PREPARED_TS",
                                                        "TRANSACTION_CHECK_TIMES",
                                                        "CHECK_IMMUNITY_TIME_IN_SECONDS",
                                                        "CLUSTER",
                                                        "INNER_NUM",
                                                        "INNER_BASE",
                                                        "TIMER_DELIVER_MS",
                                                        "TIMER_DELAY_SEC",
                                                        "TIMER_DELAY_MS",
                                                        "TIMER_OUT_MS",
                                                        "TIMER_ENQUEUE_MS",
                                                        "TIMER_DEQUEUE_MS",
                                                        "TIMER_DEL_UNIQKEY",
                                                        "TIMER_PROGRESS"};

google::protobuf::Timestamp Millis(int64_t ms) { return TimeUtil::MillisecondsToTimestamp(ms); }

int64_t ParseMillis(const std::string& text) {
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + (c - '0');
    if (v > (int64_t{1} << 52)) return 0;
  }
  return v;
}

}  // namespace

bool IsSystemPropertyKey(std::string_view key) {
  return kSystemKeys.count(key) > 0 || key.substr(0, 2) == "__";
}

void ToV2Message(const pop::PoppedMessage& popped, std::string_view name_space, pb::Message* out) {
  const store::StoredMessage& m = popped.message;
  out->mutable_topic()->set_name(BareName(name_space, m.topic));
  if (!name_space.empty()) out->mutable_topic()->set_resource_namespace(std::string(name_space));
  out->set_body(m.body);
  auto* sys = out->mutable_system_properties();
  const std::string tag = m.Property(store::kPropertyTags);
  if (!tag.empty()) sys->set_tag(tag);
  for (const auto& key : SplitList(m.Property(store::kPropertyKeys), ' ')) sys->add_keys(key);
  std::string id = m.Property(store::kPropertyUniqKey);
  if (id.empty()) id = store::CreateOffsetMessageId(m.header.store_host, m.header.physical_offset);
  sys->set_message_id(id);
  sys->mutable_body_digest()->set_type(pb::DigestType::MD5);
  sys->mutable_body_digest()->set_checksum(mq::Md5UpperHex(m.body));
  sys->set_body_encoding(pb::Encoding::IDENTITY);

  const std::string group = m.Property(kShardingKey);
  int64_t deliver_ms = ParseMillis(m.Property(kTimerDeliverMs));
  if (deliver_ms == 0) deliver_ms = ParseMillis(m.Property(kStartDeliverTime));
  if (m.Property(kTranMsg) == "true") {
    sys->set_message_type(pb::MessageType::TRANSACTION);
  } else if (deliver_ms > 0 || !m.Property(kDelayLevel).empty()) {
    sys->set_message_type(pb::MessageType::DELAY);
  } else if (!group.empty()) {
    sys->set_message_type(pb::MessageType::FIFO);
  } else {
    sys->set_message_type(pb::MessageType::NORMAL);
  }
  if (!group.empty()) sys->set_message_group(group);
  if (deliver_ms > 0) *sys->mutable_delivery_timestamp() = Millis(deliver_ms);

  *sys->mutable_born_timestamp() = Millis(m.header.born_timestamp);
  sys->set_born_host(Ipv4ToString(m.header.born_host.ip));
  *sys->mutable_store_timestamp() = Millis(m.header.store_timestamp);
  sys->set_store_host(fmt::format("{}:{}", Ipv4ToString(m.header.store_host.ip), m.header.store_host.port));
  sys->set_queue_id(popped.queue_id);
  sys->set_queue_offset(popped.queue_offset);
  sys->set_delivery_attempt(popped.delivery_attempt);
  sys->set_receipt_handle(popped.receipt_handle);
  *sys->mutable_invisible_duration() = TimeUtil::MillisecondsToDuration(popped.invisible_ms);

  auto* user = out->mutable_user_properties();
  for (const auto& [key, value] : m.properties) {
    if (!IsSystemPropertyKey(key)) (*user)[key] = value;
  }
}

}  // namespace mq::broker::v2
