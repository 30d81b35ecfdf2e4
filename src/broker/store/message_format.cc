#include "broker/store/message_format.h"

#include <fmt/format.h>

#include <cstring>

#include "common/coding.h"
#include "common/crc32c.h"

namespace mq::store {
namespace {

constexpr int32_t kTrailerTail = record::kCrcTrailerTail;
constexpr int32_t kFixedPart = record::kRecordFixedPart;

bool HasSeparator(std::string_view s) {
  return s.find(kNameValueSeparator) != std::string_view::npos ||
         s.find(kPropertySeparator) != std::string_view::npos;
}

}  // namespace

std::string StoredMessage::Property(std::string_view key) const {
  auto it = properties.find(std::string(key));
  return it == properties.end() ? std::string() : it->second;
}

Status AppendRecord(const RecordFields& f, std::string_view properties, HostAddress store_host,
                    std::string* out) {
  if (f.topic.empty()) return Status::InvalidArgument("topic: must not be empty");
  if (f.topic.size() > static_cast<size_t>(kMaxTopicLength)) {
    return Status::InvalidArgument(
        fmt::format("topic: {} bytes exceeds the maximum of {}", f.topic.size(), kMaxTopicLength));
  }
  const size_t props_size = properties.size() + record::kCrcTrailerSize;
  if (props_size > static_cast<size_t>(kMaxPropertiesLength)) {
    return Status::InvalidArgument(
        fmt::format("properties: {} bytes exceeds the maximum of {}", props_size, kMaxPropertiesLength));
  }
  if (f.body.size() > static_cast<size_t>(INT32_MAX - kFixedPart - 128 - kMaxPropertiesLength)) {
    return Status::InvalidArgument("body: too large");
  }
  const size_t total = kFixedPart + f.body.size() + f.topic.size() + props_size;
  out->reserve(out->size() + total);
  PutFixed32BE(out, static_cast<uint32_t>(total));
  PutFixed32BE(out, kMessageMagicCode);
  PutFixed32BE(out, crc32c::Value(f.body) & 0x7FFFFFFFu);
  PutFixed32BE(out, static_cast<uint32_t>(f.queue_id));
  PutFixed32BE(out, static_cast<uint32_t>(f.flag));
  PutFixed64BE(out, 0);  // QUEUEOFFSET
  PutFixed64BE(out, 0);  // PHYSICALOFFSET
  PutFixed32BE(out, static_cast<uint32_t>(f.sys_flag));
  PutFixed64BE(out, static_cast<uint64_t>(f.born_timestamp));
  PutFixed32BE(out, f.born_host.ip);
  PutFixed32BE(out, f.born_host.port);
  PutFixed64BE(out, 0);  // STORETIMESTAMP
  PutFixed32BE(out, store_host.ip);
  PutFixed32BE(out, store_host.port);
  PutFixed32BE(out, static_cast<uint32_t>(f.reconsume_times));
  PutFixed64BE(out, static_cast<uint64_t>(f.prepared_transaction_offset));
  PutFixed32BE(out, static_cast<uint32_t>(f.body.size()));
  out->append(f.body);
  out->push_back(static_cast<char>(f.topic.size()));
  out->append(f.topic);
  PutFixed16BE(out, static_cast<uint16_t>(props_size));
  out->append(properties);
  out->append(kPropertyCrc).push_back(kNameValueSeparator);
  out->append(static_cast<size_t>(kCrcTrailerDigits), '0').push_back(kPropertySeparator);
  return Status::OK();
}

Status EncodeMessage(const MessageInput& msg, HostAddress store_host, std::string* out) {
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
  const RecordFields fields{msg.topic,     msg.queue_id,        msg.flag,
                            msg.body,      msg.sys_flag,        msg.born_timestamp,
                            msg.born_host, msg.reconsume_times, msg.prepared_transaction_offset};
  out->clear();
  return AppendRecord(fields, props, store_host, out);
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

int32_t JavaHashCode(std::string_view s, int32_t prefix_hash) {
  auto h = static_cast<uint32_t>(prefix_hash);
  for (char c : s) h = 31 * h + static_cast<uint32_t>(static_cast<unsigned char>(c));
  return static_cast<int32_t>(h);
}

int64_t TagsCode(std::string_view tags) { return tags.empty() ? 0 : JavaHashCode(tags); }

}  // namespace mq::store
