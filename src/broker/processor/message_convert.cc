#include "broker/processor/message_convert.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include "common/naming.h"
#include "common/string_set.h"

namespace mq::broker {
namespace {

// The rest of RocketMQ's MessageConst.STRING_HASH_SET and the keys its timer and the proxy add:
// with the system properties (record::IsSystemPropertyKey), what an SDK may not set and never sees as a user
// property (v2). v1 clients keep seeing these among the properties (the timer tests read TIMER_OUT_MS there).
const StringSet kReservedProperties = {
    "TRANSFER_FLAG",
    "CORRECTION_FLAG",
    "MQ2_FLAG",
    "MSG_REGION",
    "TRACE_ON",
    "POP_CK",
    "POP_CK_OFFSET",
    "FIRST_POP_TIME",
    "TRAN_PREPARED_TS",
    "TRANSACTION_CHECK_TIMES",
    "CHECK_IMMUNITY_TIME_IN_SECONDS",
    "CLUSTER",
    "INNER_NUM",
    "INNER_BASE",
    "TIMER_DELAY_MS",
    "TIMER_OUT_MS",
    "TIMER_ENQUEUE_MS",
    "TIMER_DEQUEUE_MS",
    "TIMER_DEL_UNIQKEY",
    "TIMER_PROGRESS",
    "TIMER_PROGRESS_ENQUEUED",
    "__STARTDELIVERTIME",
};

}  // namespace

bool IsReservedPropertyKey(std::string_view key) {
  return kReservedProperties.count(key) > 0 || record::IsSystemPropertyKey(key);
}

store::HostAddress ParseHostAddress(std::string_view host_port) {
  auto hp = ParseHostPort("host", host_port);
  store::HostAddress out;
  in_addr addr{};
  if (hp.ok() && inet_pton(AF_INET, hp->host.c_str(), &addr) == 1) {
    out.ip = ntohl(addr.s_addr);
    out.port = hp->port;
  }
  return out;
}

std::string PeerHostPort(std::string_view peer) {
  for (std::string_view scheme : {"ipv4:", "ipv6:"}) {
    if (peer.substr(0, scheme.size()) == scheme) return std::string(peer.substr(scheme.size()));
  }
  return std::string(peer);
}

std::string FormatHostAddress(const store::HostAddress& host) {
  // By hand: two per delivered message, where fmt's format parsing showed in profiles.
  std::string out;
  out.reserve(21);
  auto put = [&out](uint32_t v) {
    char digits[10];
    int n = 0;
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0) out.push_back(digits[--n]);
  };
  for (int shift = 24; shift >= 0; shift -= 8) {
    put((host.ip >> shift) & 0xFF);
    out.push_back(shift > 0 ? '.' : ':');
  }
  put(host.port);
  return out;
}

store::MessageInput ToMessageInput(mq::v1::Message* msg, const std::string& topic, int32_t queue_id,
                                   const std::string& unique_key) {
  const mq::v1::Message& message = *msg;
  store::MessageInput in;
  in.topic = topic;
  in.queue_id = queue_id;
  in.flag = message.flag();
  in.body = std::move(*msg->mutable_body());
  for (auto& [k, v] : *msg->mutable_user_properties()) in.properties.emplace(k, std::move(v));
  if (!message.tags().empty())
    in.properties[std::string(store::kPropertyTags)] = std::move(*msg->mutable_tags());
  if (message.keys_size() > 0) {
    std::string keys;
    record::AppendJoinedKeys(message.keys().begin(), message.keys().end(), &keys);
    in.properties[std::string(store::kPropertyKeys)] = std::move(keys);
  }
  in.properties[std::string(store::kPropertyUniqKey)] = unique_key;
  in.born_timestamp = message.born_timestamp();
  in.born_host = ParseHostAddress(message.born_host());
  in.reconsume_times = message.reconsume_times();
  in.reserve_bytes = kSendBackGrowthBytes;
  return in;
}

namespace {

// The MessageExt of a record: `h` holds its numeric fields, `for_each_property(fn)` calls
// fn(key, value) for each property except the CRC trailer. One copy of the body; the
// properties go straight from the record (or the map) into the protobuf.
template <typename ForEachProperty>
void FillMessageExt(const store::RecordView& h, std::string_view topic, std::string_view body,
                    const ForEachProperty& for_each_property, const std::string& broker_name,
                    mq::v1::MessageExt* out) {
  auto* m = out->mutable_message();
  m->set_topic(topic.data(), topic.size());
  m->set_body(body.data(), body.size());
  m->set_flag(h.flag);
  m->set_born_timestamp(h.born_timestamp);
  m->set_born_host(FormatHostAddress(h.born_host));
  m->set_reconsume_times(h.reconsume_times);
  for_each_property([&](std::string_view k, std::string_view v) {
    if (k == store::kPropertyCrc) return;
    auto& map =
        record::IsSystemPropertyKey(k) ? *out->mutable_system_properties() : *m->mutable_user_properties();
    // A repeated key keeps its first value, as StoredMessage's map does.
    if (!map.try_emplace(std::string(k), v.data(), v.size()).second) return;
    if (k == store::kPropertyTags) {
      m->set_tags(v.data(), v.size());
    } else if (k == store::kPropertyKeys) {
      record::ForEachKey(v, [m](std::string_view key) { m->add_keys(key.data(), key.size()); });
    } else if (k == store::kPropertyUniqKey) {
      m->set_unique_key(v.data(), v.size());
    }
  });
  out->set_msg_id(m->unique_key());
  out->set_offset_msg_id(store::CreateOffsetMessageId(h.store_host, h.physical_offset));
  out->set_broker_name(broker_name);
  out->set_queue_id(h.queue_id);
  out->set_queue_offset(h.queue_offset);
  out->set_commit_log_offset(h.physical_offset);
  out->set_store_timestamp(h.store_timestamp);
  out->set_store_host(FormatHostAddress(h.store_host));
  out->set_store_size(h.total_size);
  out->set_sys_flag(h.sys_flag);
  out->set_body_crc(h.body_crc);
}

}  // namespace

void ToMessageExt(const store::StoredMessage& stored, const std::string& broker_name,
                  mq::v1::MessageExt* out) {
  auto each = [&](const auto& fn) {
    for (const auto& [k, v] : stored.properties) fn(k, v);
  };
  FillMessageExt(stored.header, stored.topic, stored.body, each, broker_name, out);
}

Status ToMessageExt(std::string_view record, const std::string& broker_name, mq::v1::MessageExt* out) {
  auto view = store::DecodeRecord(record, /*verify_crc=*/false);
  if (!view.ok()) return view.status();
  auto each = [&](const auto& fn) { store::ForEachProperty(view->properties, fn); };
  FillMessageExt(*view, view->topic, view->body, each, broker_name, out);
  return Status::OK();
}

}  // namespace mq::broker
