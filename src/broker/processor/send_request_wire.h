// The mq.v1 send, read and answered in its wire form: SendMessageRequest bytes are read into
// views (no protobuf objects, no per-message strings), plain messages are encoded from those
// views straight into one buffer of commit-log records, and the SendMessageResponse is written
// as bytes. These are the same bytes protobuf would read and write; a request this reader does
// not take (anything unusual, see ReadSendRequest) goes the protobuf way instead, which keeps
// every rule and error message in one place. Pure functions, any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "broker/store/commit_log.h"
#include "broker/store/message_format.h"
#include "mq/v1/broker.pb.h"

namespace mq::broker {

// One SendMessageRequest.messages entry, as views into the request bytes.
struct WireMessage {
  std::string_view topic;
  std::string_view tags;
  std::string_view body;
  std::string_view unique_key;
  std::string_view born_host;
  uint32_t first_key = 0;  // keys: WireSendRequest::keys[first_key, first_key + key_count)
  uint32_t key_count = 0;
  uint32_t first_property = 0;  // user_properties, likewise in WireSendRequest::properties
  uint32_t property_count = 0;
  int32_t delay_level = 0;
  int32_t flag = 0;
  int32_t reconsume_times = 0;
  int64_t born_timestamp = 0;
  int64_t deliver_time_ms = 0;
};

struct WireSendRequest {
  std::string_view producer_group;
  std::string_view topic;
  int32_t queue_id = 0;
  int32_t default_topic_queue_nums = 0;
  bool transaction_prepared = false;
  std::vector<WireMessage> messages;
  std::vector<std::string_view> keys;
  std::vector<std::pair<std::string_view, std::string_view>> properties;
};

// Reads a SendMessageRequest's `bytes` (which must outlive `out`'s views). False when the bytes are malformed
// or use anything left to protobuf: an unknown field or wire type, a non-ASCII string (protobuf checks
// UTF-8), a user property key that is empty, repeated, reserved by RocketMQ or holds a record separator, and
// the same for a value, the tags, the keys or the unique key.
bool ReadSendRequest(std::string_view bytes, WireSendRequest* out);

// Appends each message of `req` as a commit-log record of req.topic to `out`, exactly as
// EncodeMessage encodes what ToMessageInput makes of it, but for QUEUEID (0: the queue is
// chosen later, and CommitLog::Append(RecordBatch*) writes it). False (out unchanged) when a
// message has no unique key (the broker picks one) or a record would break a store limit
// (properties, topic or record size): the protobuf path does the one and reports the other.
// A message without a born host gets `sender`.
bool EncodeRecords(const WireSendRequest& req, store::HostAddress store_host, store::HostAddress sender,
                   int64_t max_record_size, std::string* out);

// The SendMessageResponse of a stored batch: one entry per message with its msg id (the
// message's unique key), offset msg id, queue offset and commit log offset.
std::string EncodeSendResponse(mq::v1::SendStatus status, std::string_view broker_name, int32_t queue_id,
                               int64_t queue_offset, const WireSendRequest& req,
                               const std::vector<int64_t>& physical_offsets, store::HostAddress store_host);

}  // namespace mq::broker
