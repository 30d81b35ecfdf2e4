// The commit log record format, decode side: RocketMQ's CommitLog message layout (v1 magic, IPv4
// hosts, big-endian), made self-checking by a CRC32C trailer carried as the last property.
//
//  offset size field                      notes
//  ------ ---- -------------------------- ----------------------------------------------
//     0    4   TOTALSIZE                  whole record, bytes
//     4    4   MAGICCODE                  0xDAA320A7 (v1); BLANK record uses 0xCBD43194
//     8    4   BODYCRC                    crc32c(body) & 0x7FFFFFFF
//    12    4   QUEUEID
//    16    4   FLAG                       producer flag, opaque
//    20    8   QUEUEOFFSET                index in the topic/queue's consume queue
//    28    8   PHYSICALOFFSET             commit log offset of this record (self-position)
//    36    4   SYSFLAG                    MessageSysFlag bits
//    40    8   BORNTIMESTAMP              producer clock, ms
//    48    8   BORNHOST                   IPv4 (4) + port (4)
//    56    8   STORETIMESTAMP             broker clock at append, ms
//    64    8   STOREHOSTADDRESS           IPv4 (4) + port (4)
//    72    4   RECONSUMETIMES
//    76    8   PreparedTransactionOffset
//    84    4   BODYLEN   | BODY (BODYLEN bytes)
//     .    1   TOPICLEN  | TOPIC (1..127 bytes)
//     .    2   PROPLEN   | PROPERTIES: key 0x01 value 0x02 ... ending with the trailer
//                          "__CRC32C" 0x01 dddddddddd 0x02   (10 decimal digits)
//
// The trailer's digits are crc32c(record[0, TOTALSIZE - 11)), i.e. of every byte before the
// digits. RocketMQ's BODYCRC only covers the body; the trailer covers header, topic and
// properties too, so a torn or stale tail is detected by recovery. The trailer is an ordinary
// property, so RocketMQ-style decoders still parse the record.
//
// BLANK (end-of-file) record: TOTALSIZE = bytes left in the segment, MAGICCODE = 0xCBD43194;
// the rest of the segment is ignored. Every segment keeps >= 8 bytes for it.
//
// Decoding lives in common because a consumer decodes these records too: a pull reply carries
// the found messages as stored (mq.v1.PullMessageResponse.records), and the broker's store
// (broker/store/message_format.h) adds the encoder.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace mq::record {

inline constexpr uint32_t kMessageMagicCode = 0xDAA320A7u;
inline constexpr uint32_t kMessageMagicCodeV2 = 0xDAA320ABu;  // recognised, not written
inline constexpr uint32_t kBlankMagicCode = 0xCBD43194u;
inline constexpr int32_t kEndFileMinBlankLength = 8;

inline constexpr int32_t kQueueIdPos = 12;
inline constexpr int32_t kQueueOffsetPos = 20;
inline constexpr int32_t kPhysicalOffsetPos = 28;
inline constexpr int32_t kStoreTimestampPos = 56;
inline constexpr int32_t kBodyLenPos = 84;
inline constexpr int32_t kMaxTopicLength = 127;
inline constexpr int32_t kMaxPropertiesLength = 32767;

inline constexpr char kNameValueSeparator = '\x01';
inline constexpr char kPropertySeparator = '\x02';
inline constexpr std::string_view kPropertyKeys = "KEYS";
inline constexpr std::string_view kPropertyTags = "TAGS";
inline constexpr std::string_view kPropertyUniqKey = "UNIQ_KEY";
inline constexpr std::string_view kPropertyCrc = "__CRC32C";
inline constexpr int32_t kCrcTrailerDigits = 10;
inline constexpr int32_t kCrcTrailerTail = kCrcTrailerDigits + 1;  // digits + 0x02
// "__CRC32C" 0x01 dddddddddd 0x02
inline constexpr int32_t kCrcTrailerSize = static_cast<int32_t>(kPropertyCrc.size()) + 1 + kCrcTrailerTail;
// Every field but BODY, TOPIC and PROPERTIES.
inline constexpr int32_t kRecordFixedPart = kBodyLenPos + 4 + 1 + 2;

struct HostAddress {
  uint32_t ip = 0;  // IPv4, host byte order (127.0.0.1 = 0x7F000001)
  uint32_t port = 0;
};

// A decoded record whose views point into the buffer it was decoded from.
struct RecordView {
  int32_t total_size = 0;
  uint32_t body_crc = 0;
  int32_t queue_id = 0;
  int32_t flag = 0;
  int64_t queue_offset = 0;
  int64_t physical_offset = 0;
  int32_t sys_flag = 0;
  int64_t born_timestamp = 0;
  HostAddress born_host;
  int64_t store_timestamp = 0;
  HostAddress store_host;
  int32_t reconsume_times = 0;
  int64_t prepared_transaction_offset = 0;
  std::string_view body;
  std::string_view topic;
  std::string_view properties;  // raw, including the CRC trailer
};

enum class RecordKind { kMessage, kBlank, kEndOfData };
struct RecordProbe {
  RecordKind kind;
  int32_t size;  // record size, or the blank's size
};
// Looks at the first 8 bytes of `avail` (the rest of a segment). kEndOfData for zeros (or
// fewer than 8 bytes), Corruption for an unknown magic or a size that cannot fit.
Result<RecordProbe> ProbeRecord(std::string_view avail);

// Decodes a full record. With verify_crc, checks the CRC trailer first (it covers BODYCRC and
// the body, so BODYCRC is not computed again). When
// expected_physical_offset >= 0, PHYSICALOFFSET must equal it (catches stale records).
Result<RecordView> DecodeRecord(std::string_view record, bool verify_crc,
                                int64_t expected_physical_offset = -1);

// Splits records laid back to back (a pull reply's) and decodes each: fn(const RecordView&)
// per record, in order. Corruption, naming the record's position, when one does not decode or
// the last is cut short; the records before it were passed to fn.
template <typename Fn>
Status ForEachRecord(std::string_view records, bool verify_crc, const Fn& fn);

// Value of `key` in raw properties, or empty.
std::string_view FindProperty(std::string_view properties, std::string_view key);

// Calls fn(key, value) for each well-formed property of raw `properties` in stored order,
// skipping the CRC trailer.
template <typename Fn>
void ForEachProperty(std::string_view props, const Fn& fn) {
  while (!props.empty()) {
    size_t end = props.find(kPropertySeparator);
    if (end == std::string_view::npos) end = props.size();
    std::string_view kv = props.substr(0, end);
    size_t sep = kv.find(kNameValueSeparator);
    if (sep != std::string_view::npos && kv.substr(0, sep) != kPropertyCrc)
      fn(kv.substr(0, sep), kv.substr(sep + 1));
    props.remove_prefix(std::min(props.size(), end + 1));
  }
}

// Calls fn(key) for each key of a KEYS property value (space separated; empty ones skipped).
template <typename Fn>
void ForEachKey(std::string_view keys, const Fn& fn) {
  while (!keys.empty()) {
    const size_t space = std::min(keys.find(' '), keys.size());
    if (space > 0) fn(keys.substr(0, space));
    keys.remove_prefix(std::min(keys.size(), space + 1));
  }
}

// Appends keys [first, last) as a KEYS property value: a space before each key once something
// was written (so a leading empty key adds nothing). ForEachKey reads it back.
template <typename It>
void AppendJoinedKeys(It first, It last, std::string* out) {
  const size_t start = out->size();
  for (; first != last; ++first) {
    if (out->size() > start) out->push_back(' ');
    out->append(*first);
  }
}

// Properties the broker and clients set themselves (KEYS, TAGS, UNIQ_KEY, DELAY, RETRY_TOPIC,
// ...); a consumer sees every other property as a user property.
bool IsSystemPropertyKey(std::string_view key);

// offsetMsgId: store host ip(4) port(4) physical offset(8) as 32 uppercase hex digits.
inline constexpr size_t kOffsetMessageIdLength = 32;
std::string CreateOffsetMessageId(HostAddress store_host, int64_t physical_offset);
// The same digits written to out[0, kOffsetMessageIdLength).
void WriteOffsetMessageId(HostAddress store_host, int64_t physical_offset, char* out);
Result<int64_t> DecodeOffsetMessageId(std::string_view id);

// "record at byte <pos> of <size>", the context of ForEachRecord's errors.
std::string RecordPositionContext(size_t pos, size_t size);

template <typename Fn>
Status ForEachRecord(std::string_view records, bool verify_crc, const Fn& fn) {
  size_t pos = 0;
  while (pos < records.size()) {
    auto probe = ProbeRecord(records.substr(pos));
    if (!probe.ok()) return probe.status().WithContext(RecordPositionContext(pos, records.size()));
    // Only messages lie back to back; a blank or zeros mean the records were cut short.
    if (probe->kind != RecordKind::kMessage) {
      return Status::Corruption(RecordPositionContext(pos, records.size()) + ": not a message record");
    }
    auto view = DecodeRecord(records.substr(pos, static_cast<size_t>(probe->size)), verify_crc);
    if (!view.ok()) return view.status().WithContext(RecordPositionContext(pos, records.size()));
    fn(*view);
    pos += static_cast<size_t>(probe->size);
  }
  return Status::OK();
}

// How many message records lie back to back before the first whose size or magic code is
// wrong (reads only those 8 bytes of each): an upper bound of what ForEachRecord visits.
size_t CountRecords(std::string_view records);

}  // namespace mq::record
