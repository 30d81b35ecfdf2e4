// Fuzz target: the broker's wire reading of a SendMessageRequest (send_request_wire.h), against
// protobuf's. The bytes are a request as a producer sends it.
// Properties: whatever ReadSendRequest takes, protobuf parses to the same fields; the records
// EncodeRecords writes are byte for byte those of the protobuf path (ToMessageInput +
// EncodeMessage), and it refuses only what that path refuses or does differently (a message
// without a unique key); EncodeSendResponse parses back as the SendMessageResponse it stands for.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "broker/processor/message_convert.h"
#include "broker/processor/send_request_wire.h"
#include "fuzz_support.h"

namespace {

constexpr mq::store::HostAddress kStoreHost{0x7F000001, 10911};
constexpr int64_t kMaxRecord = 4 * 1024 * 1024;

void CheckSameFields(const mq::broker::WireSendRequest& w, const mq::v1::SendMessageRequest& pb) {
  MQ_FUZZ_CHECK(w.producer_group == pb.producer_group() && w.topic == pb.topic() &&
                    w.queue_id == pb.queue_id() &&
                    w.default_topic_queue_nums == pb.default_topic_queue_nums() &&
                    w.transaction_prepared == pb.transaction_prepared(),
                "request fields differ from protobuf's");
  MQ_FUZZ_CHECK(w.messages.size() == static_cast<size_t>(pb.messages_size()), "message count differs");
  for (size_t i = 0; i < w.messages.size(); ++i) {
    const auto& m = w.messages[i];
    const auto& p = pb.messages(static_cast<int>(i));
    MQ_FUZZ_CHECK(m.topic == p.topic() && m.tags == p.tags() && m.body == p.body() &&
                      m.unique_key == p.unique_key() && m.born_host == p.born_host() &&
                      m.delay_level == p.delay_level() && m.flag == p.flag() &&
                      m.reconsume_times == p.reconsume_times() && m.born_timestamp == p.born_timestamp() &&
                      m.deliver_time_ms == p.deliver_time_ms(),
                  "message " + std::to_string(i) + " differs from protobuf's");
    MQ_FUZZ_CHECK(m.key_count == static_cast<uint32_t>(p.keys_size()), "key count differs");
    for (uint32_t k = 0; k < m.key_count; ++k) {
      MQ_FUZZ_CHECK(w.keys[m.first_key + k] == p.keys(static_cast<int>(k)), "key differs");
    }
    MQ_FUZZ_CHECK(m.property_count == p.user_properties().size(), "property count differs");
    for (uint32_t k = 0; k < m.property_count; ++k) {
      const auto& [key, value] = w.properties[m.first_property + k];
      auto it = p.user_properties().find(std::string(key));
      MQ_FUZZ_CHECK(it != p.user_properties().end() && it->second == value, "property differs");
    }
  }
}

// The protobuf path's records (the queue id left 0, as EncodeRecords leaves it), or false
// where it refuses one.
bool ProtobufPathRecords(mq::v1::SendMessageRequest pb, std::string* out) {
  for (auto& m : *pb.mutable_messages()) {
    const std::string id = m.unique_key();
    std::string record;
    if (!mq::store::EncodeMessage(mq::broker::ToMessageInput(&m, pb.topic(), 0, id), kStoreHost, &record)
             .ok() ||
        static_cast<int64_t>(record.size()) > kMaxRecord) {
      return false;
    }
    *out += record;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view wire(reinterpret_cast<const char*>(data), size);
  mq::broker::WireSendRequest w;
  if (!mq::broker::ReadSendRequest(wire, &w)) return 0;
  mq::v1::SendMessageRequest pb;
  MQ_FUZZ_CHECK(pb.ParseFromArray(data, static_cast<int>(size)),
                "the wire reader took bytes protobuf refuses");
  CheckSameFields(w, pb);

  std::string fast;
  const bool encoded = mq::broker::EncodeRecords(w, kStoreHost, {}, kMaxRecord, &fast);
  bool has_ids = true;
  for (const auto& m : w.messages) has_ids = has_ids && !m.unique_key.empty();
  std::string slow;
  const bool slow_ok = ProtobufPathRecords(pb, &slow);
  MQ_FUZZ_CHECK(encoded == (slow_ok && has_ids),
                "EncodeRecords " + std::string(encoded ? "took" : "refused") + " a request whose messages " +
                    (has_ids ? "all have" : "do not all have") + " unique keys and which the protobuf path " +
                    (slow_ok ? "stores" : "refuses"));
  if (encoded) MQ_FUZZ_CHECK(fast == slow, "records differ from the protobuf path's");

  std::vector<int64_t> offsets;
  for (size_t i = 0; i < w.messages.size(); ++i) offsets.push_back(static_cast<int64_t>(i) * 1000);
  mq::v1::SendMessageResponse reply;
  MQ_FUZZ_CHECK(reply.ParseFromString(mq::broker::EncodeSendResponse(mq::v1::FLUSH_DISK_TIMEOUT, "broker-a",
                                                                     1, 7, w, offsets, kStoreHost)),
                "response does not parse");
  MQ_FUZZ_CHECK(reply.status() == mq::v1::FLUSH_DISK_TIMEOUT && reply.broker_name() == "broker-a" &&
                    reply.queue_id() == 1 && reply.queue_offset() == 7 &&
                    reply.entries_size() == static_cast<int>(w.messages.size()),
                "response header differs");
  for (int i = 0; i < reply.entries_size(); ++i) {
    const auto& e = reply.entries(i);
    MQ_FUZZ_CHECK(e.msg_id() == w.messages[static_cast<size_t>(i)].unique_key && e.queue_offset() == 7 + i &&
                      e.commit_log_offset() == offsets[static_cast<size_t>(i)] &&
                      e.offset_msg_id() ==
                          mq::store::CreateOffsetMessageId(kStoreHost, offsets[static_cast<size_t>(i)]),
                  "response entry differs");
  }
  return 0;
}
