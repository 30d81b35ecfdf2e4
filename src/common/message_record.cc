#include "common/message_record.h"

#include <fmt/format.h>

#include "common/coding.h"
#include "common/crc32c.h"
#include "common/string_set.h"

namespace mq::record {
namespace {

Status Bad(std::string_view what) { return Status::Corruption(std::string(what)); }

const StringSet kSystemProperties = {"KEYS",
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
                                     "RECONSUME_TIME",
                                     "MAX_RECONSUME_TIMES",
                                     "__SHARDINGKEY",
                                     "TIMER_DELIVER_MS",
                                     "TIMER_DELAY_SEC",
                                     "CONSUME_START_TIME",
                                     std::string(kPropertyCrc)};

}  // namespace

bool IsSystemPropertyKey(std::string_view key) { return kSystemProperties.count(key) > 0; }

Result<RecordProbe> ProbeRecord(std::string_view avail) {
  if (avail.size() < 8) return RecordProbe{RecordKind::kEndOfData, 0};
  auto size = static_cast<int32_t>(DecodeFixed32BE(avail.data()));
  uint32_t magic = DecodeFixed32BE(avail.data() + 4);
  if (size == 0 && magic == 0) return RecordProbe{RecordKind::kEndOfData, 0};
  if (magic == kBlankMagicCode) {
    if (size < kEndFileMinBlankLength || static_cast<size_t>(size) != avail.size()) {
      return Status::Corruption(
          fmt::format("blank record size {} does not match the {} bytes left", size, avail.size()));
    }
    return RecordProbe{RecordKind::kBlank, size};
  }
  if (magic != kMessageMagicCode) {
    return Status::Corruption(fmt::format("bad magic code 0x{:08X}", magic));
  }
  if (size < kRecordFixedPart + 1 + kCrcTrailerSize || static_cast<size_t>(size) > avail.size()) {
    return Status::Corruption(fmt::format("record size {} out of range (available {})", size, avail.size()));
  }
  return RecordProbe{RecordKind::kMessage, size};
}

std::string RecordPositionContext(size_t pos, size_t size) {
  return fmt::format("record at byte {} of {}", pos, size);
}

size_t CountRecords(std::string_view records) {
  size_t count = 0;
  for (size_t pos = 0; pos < records.size(); ++count) {
    auto probe = ProbeRecord(records.substr(pos));
    if (!probe.ok() || probe->kind != RecordKind::kMessage) break;
    pos += static_cast<size_t>(probe->size);
  }
  return count;
}

namespace {

// The trailer's digits against a CRC of every byte before them: one sequential pass, taken
// before any field or the digits are read, so that those reads hit the cache (a record is
// usually new to this CPU; the first read of its last line was the costliest load when it came
// before the pass). BODYCRC is not computed again: the trailer covers both it and the body, and
// the broker wrote both.
Status CheckRecordCrc(std::string_view rec) {
  const uint32_t actual = crc32c::Value(rec.data(), rec.size() - kCrcTrailerTail);
  std::string_view digits = rec.substr(rec.size() - kCrcTrailerTail, kCrcTrailerDigits);
  uint64_t stored = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return Bad("CRC32C trailer is not decimal");
    stored = stored * 10 + static_cast<uint64_t>(c - '0');
  }
  if (stored != actual) {
    return Status::Corruption(fmt::format("record CRC32C mismatch: stored {} computed {}", stored, actual));
  }
  return Status::OK();
}

}  // namespace

Result<RecordView> DecodeRecord(std::string_view rec, bool verify_crc, int64_t expected_physical_offset) {
  if (rec.size() < static_cast<size_t>(kRecordFixedPart)) return Bad("record shorter than its fixed header");
  const char* p = rec.data();
  RecordView v;
  v.total_size = static_cast<int32_t>(DecodeFixed32BE(p));
  if (static_cast<size_t>(v.total_size) != rec.size()) {
    return Status::Corruption(fmt::format("TOTALSIZE {} != buffer size {}", v.total_size, rec.size()));
  }
  uint32_t magic = DecodeFixed32BE(p + 4);
  if (magic != kMessageMagicCode) return Status::Corruption(fmt::format("bad magic code 0x{:08X}", magic));
  if (verify_crc) MQ_RETURN_IF_ERROR(CheckRecordCrc(rec));
  v.body_crc = DecodeFixed32BE(p + 8);
  v.queue_id = static_cast<int32_t>(DecodeFixed32BE(p + 12));
  v.flag = static_cast<int32_t>(DecodeFixed32BE(p + 16));
  v.queue_offset = static_cast<int64_t>(DecodeFixed64BE(p + 20));
  v.physical_offset = static_cast<int64_t>(DecodeFixed64BE(p + 28));
  v.sys_flag = static_cast<int32_t>(DecodeFixed32BE(p + 36));
  v.born_timestamp = static_cast<int64_t>(DecodeFixed64BE(p + 40));
  v.born_host = {DecodeFixed32BE(p + 48), DecodeFixed32BE(p + 52)};
  v.store_timestamp = static_cast<int64_t>(DecodeFixed64BE(p + 56));
  v.store_host = {DecodeFixed32BE(p + 64), DecodeFixed32BE(p + 68)};
  v.reconsume_times = static_cast<int32_t>(DecodeFixed32BE(p + 72));
  v.prepared_transaction_offset = static_cast<int64_t>(DecodeFixed64BE(p + 76));
  if (expected_physical_offset >= 0 && v.physical_offset != expected_physical_offset) {
    return Status::Corruption(fmt::format("PHYSICALOFFSET {} != position {} (stale record)",
                                          v.physical_offset, expected_physical_offset));
  }
  size_t pos = kBodyLenPos;
  uint32_t body_len = DecodeFixed32BE(p + pos);
  pos += 4;
  if (body_len > rec.size() - pos - 3) return Bad("BODYLEN exceeds the record");
  v.body = rec.substr(pos, body_len);
  pos += body_len;
  auto topic_len = static_cast<uint8_t>(p[pos]);
  pos += 1;
  if (topic_len == 0 || topic_len > kMaxTopicLength || topic_len > rec.size() - pos - 2) {
    return Bad("TOPICLEN out of range");
  }
  v.topic = rec.substr(pos, topic_len);
  pos += topic_len;
  uint16_t prop_len = DecodeFixed16BE(p + pos);
  pos += 2;
  if (pos + prop_len != rec.size()) {
    return Status::Corruption(
        fmt::format("field lengths add up to {} but TOTALSIZE is {}", pos + prop_len, rec.size()));
  }
  v.properties = rec.substr(pos, prop_len);
  if (prop_len < kCrcTrailerSize ||
      v.properties.substr(prop_len - kCrcTrailerSize, kPropertyCrc.size()) != kPropertyCrc ||
      v.properties.back() != kPropertySeparator) {
    return Bad("missing CRC32C trailer property");
  }
  return v;
}

std::string_view FindProperty(std::string_view props, std::string_view key) {
  while (!props.empty()) {
    size_t end = props.find(kPropertySeparator);
    if (end == std::string_view::npos) end = props.size();
    std::string_view kv = props.substr(0, end);
    if (kv.size() > key.size() && kv.substr(0, key.size()) == key && kv[key.size()] == kNameValueSeparator) {
      return kv.substr(key.size() + 1);
    }
    props.remove_prefix(std::min(props.size(), end + 1));
  }
  return {};
}

void WriteOffsetMessageId(HostAddress store_host, int64_t physical_offset, char* out) {
  char* p = PutUpperHex(store_host.ip, 8, out);
  p = PutUpperHex(store_host.port, 8, p);
  PutUpperHex(static_cast<uint64_t>(physical_offset), 16, p);
}

std::string CreateOffsetMessageId(HostAddress store_host, int64_t physical_offset) {
  std::string id(kOffsetMessageIdLength, '0');
  WriteOffsetMessageId(store_host, physical_offset, id.data());
  return id;
}

Result<int64_t> DecodeOffsetMessageId(std::string_view id) {
  if (id.size() != 32) return Status::InvalidArgument("offset message id: expected 32 hex digits");
  uint64_t offset = 0;
  for (char c : id.substr(16)) {
    int d = (c >= '0' && c <= '9')   ? c - '0'
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                                     : -1;
    if (d < 0) return Status::InvalidArgument("offset message id: not hexadecimal");
    offset = offset * 16 + static_cast<uint64_t>(d);
  }
  return static_cast<int64_t>(offset);
}

}  // namespace mq::record
