// On-disk commit log record format, encode side: the layout, the decoder and the CRC trailer
// are described in common/message_record.h.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/message_record.h"
#include "common/result.h"

namespace mq::store {

// The decode side of the format, shared with consumers (common/message_record.h).
using record::CreateOffsetMessageId;
using record::DecodeOffsetMessageId;
using record::DecodeRecord;
using record::FindProperty;
using record::ForEachProperty;
using record::HostAddress;
using record::kBlankMagicCode;
using record::kBodyLenPos;
using record::kCrcTrailerDigits;
using record::kEndFileMinBlankLength;
using record::kMaxPropertiesLength;
using record::kMaxTopicLength;
using record::kMessageMagicCode;
using record::kMessageMagicCodeV2;
using record::kNameValueSeparator;
using record::kPhysicalOffsetPos;
using record::kPropertyCrc;
using record::kPropertyKeys;
using record::kPropertySeparator;
using record::kPropertyTags;
using record::kPropertyUniqKey;
using record::kQueueOffsetPos;
using record::kStoreTimestampPos;
using record::ProbeRecord;
using record::RecordKind;
using record::RecordProbe;
using record::RecordView;

// SYSFLAG bit of a topic deletion marker (MessageStore::DeleteTopic), a record whose body names
// the deleted topic. Only the store writes one: a put that carries the bit is refused.
inline constexpr int32_t kSysFlagTopicDeletion = 1 << 28;
// The markers' topic. It has no consume queue: nothing consumes them, the dispatcher acts on them.
inline constexpr std::string_view kTopicDeletionTopic = "rmq_sys_TOPIC_DELETION_LOG";

// What a producer hands to the store. Store-assigned fields are absent.
struct MessageInput {
  std::string topic;
  int32_t queue_id = 0;
  int32_t flag = 0;
  std::string body;
  std::map<std::string, std::string> properties;  // TAGS, KEYS (space separated), UNIQ_KEY, ...
  int32_t sys_flag = 0;
  int64_t born_timestamp = 0;
  HostAddress born_host;
  int32_t reconsume_times = 0;
  int64_t prepared_transaction_offset = 0;
  // Bytes the record must leave free under both the properties and the maxMessageSize limits:
  // later copies of it carry more properties (a transaction check's bookkeeping), and a copy
  // the store refuses would stop whatever waits for it.
  int32_t reserve_bytes = 0;
};

// An owning copy of a record, as returned to callers.
struct StoredMessage {
  RecordView header;  // views cleared; numeric fields valid
  std::string topic;
  std::string body;
  std::map<std::string, std::string> properties;  // without the CRC trailer
  std::string raw;                                // the whole encoded record
  std::string Property(std::string_view key) const;
};

// The producer-supplied fields of one record, as views into the caller's buffers.
struct RecordFields {
  std::string_view topic;
  int32_t queue_id = 0;
  int32_t flag = 0;
  std::string_view body;
  int32_t sys_flag = 0;
  int64_t born_timestamp = 0;
  HostAddress born_host;
  int32_t reconsume_times = 0;
  int64_t prepared_transaction_offset = 0;
};

// Appends the record of `fields` to `out` (whatever it holds stays in front). `properties` are
// "key\1value\2" pairs already checked for separators; the CRC trailer is added here. Fields
// that FinalizeRecord() fills are left zero. InvalidArgument (nothing appended) for an empty or
// oversized topic, oversized properties or body.
Status AppendRecord(const RecordFields& fields, std::string_view properties, HostAddress store_host,
                    std::string* out);

// Validates and encodes `msg` into `out` (replacing its contents). QUEUEOFFSET,
// PHYSICALOFFSET, STORETIMESTAMP and the CRC trailer are left for FinalizeRecord().
// InvalidArgument for a bad topic, properties containing separators or oversized fields.
Status EncodeMessage(const MessageInput& msg, HostAddress store_host, std::string* out);

// Fills the store-assigned fields and the CRC trailer of an encoded record in place.
void FinalizeRecord(char* record, int32_t size, int64_t queue_offset, int64_t physical_offset,
                    int64_t store_timestamp);

// Writes a BLANK record of `size` (>= 8) bytes' header into dst.
void EncodeBlank(char* dst, int32_t size);

StoredMessage ToStoredMessage(const RecordView& view, std::string_view raw);

// RocketMQ's tag hash code: Java String.hashCode() of the TAGS value (equal for ASCII).
int64_t TagsCode(std::string_view tags);
// Java String.hashCode() over bytes. With `prefix_hash`, the hash of a string that starts with
// the bytes hashed into it and goes on with `s` (JavaHashCode(b, JavaHashCode(a)) == hash of a + b).
int32_t JavaHashCode(std::string_view s, int32_t prefix_hash = 0);

}  // namespace mq::store
