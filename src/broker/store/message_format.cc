#include "broker/store/message_format.h"

#include <fmt/format.h>

#include <cstring>

#include "common/coding.h"
#include "common/crc32c.h"

namespace mq::store {
namespace {

constexpr int32_t kTrailerTail = kCrcTrailerDigits + 1;  // digits + 0x02
// "__CRC32C" 0x01 dddddddddd 0x02
constexpr int32_t kTrailerSize = static_cast<int32_t>(kPropertyCrc.size()) + 1 + kTrailerTail;
constexpr int32_t kFixedPart = kBodyLenPos + 4 + 1 + 2;

bool HasSeparator(std::string_view s) {
  return s.find(kNameValueSeparator) != std::string_view::npos ||
         s.find(kPropertySeparator) != std::string_view::npos;
}

Status Bad(std::string_view what) { return Status::Corruption(std::string(what)); }

}  // namespace

std::string StoredMessage::Property(std::string_view key) const {
  auto it = properties.find(std::string(key));
  return it == properties.end() ? std::string() : it->second;
}

Status EncodeMessage(const MessageInput& msg, HostAddress store_host, std::string* out) {
  if (msg.topic.empty()) return Status::InvalidArgument("topic: must not be empty");
  if (msg.topic.size() > static_cast<size_t>(kMaxTopicLength)) {
    return Status::InvalidArgument(
        fmt::format("topic: {} bytes exceeds the maximum of {}", msg.topic.size(), kMaxTopicLength));
  }
  std::string props;
  for (const auto& [key, value] : msg.properties) {
    if (key.empty() || HasSeparator(key) || HasSeparator(value)) {
      return Status::InvalidArgument(
          fmt::format("properties: key '{}' or its value is empty or contains 0x01/0x02", key));
    }
    if (key == kPropertyCrc) return Status::InvalidArgument("properties: '__CRC32C' is reserved");
    props.append(key).push_back(kNameValueSeparator);
    props.append(value).push_back(kPropertySeparator);
  }
  props.append(kPropertyCrc).push_back(kNameValueSeparator);
  props.append(static_cast<size_t>(kCrcTrailerDigits), '0').push_back(kPropertySeparator);
  if (props.size() > static_cast<size_t>(kMaxPropertiesLength)) {
    return Status::InvalidArgument(
        fmt::format("properties: {} bytes exceeds the maximum of {}", props.size(), kMaxPropertiesLength));
  }
  if (msg.body.size() > static_cast<size_t>(INT32_MAX - kFixedPart - 128 - kMaxPropertiesLength)) {
    return Status::InvalidArgument("body: too large");
  }
  size_t total = kFixedPart + msg.body.size() + msg.topic.size() + props.size();
  out->clear();
  out->reserve(total);
  PutFixed32BE(out, static_cast<uint32_t>(total));
  PutFixed32BE(out, kMessageMagicCode);
  PutFixed32BE(out, crc32c::Value(msg.body) & 0x7FFFFFFFu);
  PutFixed32BE(out, static_cast<uint32_t>(msg.queue_id));
  PutFixed32BE(out, static_cast<uint32_t>(msg.flag));
  PutFixed64BE(out, 0);  // QUEUEOFFSET
  PutFixed64BE(out, 0);  // PHYSICALOFFSET
  PutFixed32BE(out, static_cast<uint32_t>(msg.sys_flag));
  PutFixed64BE(out, static_cast<uint64_t>(msg.born_timestamp));
  PutFixed32BE(out, msg.born_host.ip);
  PutFixed32BE(out, msg.born_host.port);
  PutFixed64BE(out, 0);  // STORETIMESTAMP
  PutFixed32BE(out, store_host.ip);
  PutFixed32BE(out, store_host.port);
  PutFixed32BE(out, static_cast<uint32_t>(msg.reconsume_times));
  PutFixed64BE(out, static_cast<uint64_t>(msg.prepared_transaction_offset));
  PutFixed32BE(out, static_cast<uint32_t>(msg.body.size()));
  out->append(msg.body);
  out->push_back(static_cast<char>(msg.topic.size()));
  out->append(msg.topic);
  PutFixed16BE(out, static_cast<uint16_t>(props.size()));
  out->append(props);
  return Status::OK();
}

void FinalizeRecord(char* record, int32_t size, int64_t queue_offset, int64_t physical_offset,
                    int64_t store_timestamp) {
  EncodeFixed64BE(record + kQueueOffsetPos, static_cast<uint64_t>(queue_offset));
  EncodeFixed64BE(record + kPhysicalOffsetPos, static_cast<uint64_t>(physical_offset));
  EncodeFixed64BE(record + kStoreTimestampPos, static_cast<uint64_t>(store_timestamp));
  uint32_t crc = crc32c::Value(record, static_cast<size_t>(size - kTrailerTail));
  char* digits = record + size - kTrailerTail;
  for (int i = kCrcTrailerDigits - 1; i >= 0; --i, crc /= 10) digits[i] = static_cast<char>('0' + crc % 10);
}

void EncodeBlank(char* dst, int32_t size) {
  EncodeFixed32BE(dst, static_cast<uint32_t>(size));
  EncodeFixed32BE(dst + 4, kBlankMagicCode);
}

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
  if (size < kFixedPart + 1 + kTrailerSize || static_cast<size_t>(size) > avail.size()) {
    return Status::Corruption(fmt::format("record size {} out of range (available {})", size, avail.size()));
  }
  return RecordProbe{RecordKind::kMessage, size};
}

Result<RecordView> DecodeRecord(std::string_view rec, bool verify_crc, int64_t expected_physical_offset) {
  if (rec.size() < static_cast<size_t>(kFixedPart)) return Bad("record shorter than its fixed header");
  const char* p = rec.data();
  RecordView v;
  v.total_size = static_cast<int32_t>(DecodeFixed32BE(p));
  if (static_cast<size_t>(v.total_size) != rec.size()) {
    return Status::Corruption(fmt::format("TOTALSIZE {} != buffer size {}", v.total_size, rec.size()));
  }
  uint32_t magic = DecodeFixed32BE(p + 4);
  if (magic != kMessageMagicCode) return Status::Corruption(fmt::format("bad magic code 0x{:08X}", magic));
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
  if (prop_len < kTrailerSize ||
      v.properties.substr(prop_len - kTrailerSize, kPropertyCrc.size()) != kPropertyCrc ||
      v.properties.back() != kPropertySeparator) {
    return Bad("missing CRC32C trailer property");
  }
  if (verify_crc) {
    std::string_view digits = rec.substr(rec.size() - kTrailerTail, kCrcTrailerDigits);
    uint64_t stored = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return Bad("CRC32C trailer is not decimal");
      stored = stored * 10 + static_cast<uint64_t>(c - '0');
    }
    uint32_t actual = crc32c::Value(p, rec.size() - kTrailerTail);
    if (stored != actual) {
      return Status::Corruption(fmt::format("record CRC32C mismatch: stored {} computed {}", stored, actual));
    }
    if ((crc32c::Value(v.body) & 0x7FFFFFFFu) != v.body_crc) return Bad("BODYCRC mismatch");
  }
  return v;
}

StoredMessage ToStoredMessage(const RecordView& view, std::string_view raw) {
  StoredMessage m;
  m.header = view;
  m.header.body = m.header.topic = m.header.properties = {};
  m.topic = std::string(view.topic);
  m.body = std::string(view.body);
  m.raw = std::string(raw);
  ForEachProperty(view.properties, [&](std::string_view k, std::string_view v) {
    m.properties.emplace(std::string(k), std::string(v));
  });
  return m;
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

int32_t JavaHashCode(std::string_view s) {
  uint32_t h = 0;
  for (char c : s) h = 31 * h + static_cast<uint32_t>(static_cast<unsigned char>(c));
  return static_cast<int32_t>(h);
}

int64_t TagsCode(std::string_view tags) { return tags.empty() ? 0 : JavaHashCode(tags); }

std::string CreateOffsetMessageId(HostAddress store_host, int64_t physical_offset) {
  std::string id(32, '0');
  char* p = PutUpperHex(store_host.ip, 8, id.data());
  p = PutUpperHex(store_host.port, 8, p);
  PutUpperHex(static_cast<uint64_t>(physical_offset), 16, p);
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

}  // namespace mq::store
