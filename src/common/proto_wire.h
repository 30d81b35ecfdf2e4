// The Protocol Buffers wire format by hand, for the send path that skips protobuf objects: the
// client writes SendMessageRequests with it (client/send_wire.h), the broker reads them and
// writes SendMessageResponses (broker/processor/send_request_wire.h); the client also reads
// PullMessageResponses with it (client/pull_reply.h). What is written is
// exactly what protobuf writes for proto3 (zero scalars and empty strings left out). Also the
// mq.v1 field numbers of those messages. Pure inline functions and a reader over one buffer;
// any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mq::wire {

inline constexpr uint32_t kVarint = 0;
inline constexpr uint32_t kLengthDelimited = 2;

inline void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

inline size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

inline void PutTag(uint32_t field, uint32_t wire_type, std::string* out) {
  PutVarint(field << 3 | wire_type, out);
}

// int32 and int64 fields: protobuf writes a negative value as its 64-bit two's complement.
inline void PutInt(uint32_t field, int64_t v, std::string* out) {
  if (v == 0) return;
  PutTag(field, kVarint, out);
  PutVarint(static_cast<uint64_t>(v), out);
}

// A string or bytes field, written even when empty (a repeated element, a map entry's key).
inline void PutBytes(uint32_t field, std::string_view v, std::string* out) {
  PutTag(field, kLengthDelimited, out);
  PutVarint(v.size(), out);
  out->append(v);
}

// A singular string or bytes field: left out when empty.
inline void PutText(uint32_t field, std::string_view v, std::string* out) {
  if (!v.empty()) PutBytes(field, v, out);
}

// Reads fields from one buffer; every method returns false on malformed or truncated input.
class Reader {
 public:
  explicit Reader(std::string_view in) : p_(in.data()), end_(in.data() + in.size()) {}
  bool done() const { return p_ == end_; }

  bool Varint(uint64_t* v) {
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return false;
      const auto b = static_cast<uint8_t>(*p_++);
      r |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (b < 0x80) {
        *v = r;
        return true;
      }
    }
    return false;  // more than ten bytes
  }
  // Tags and lengths are varint32s: at most five bytes (protobuf refuses longer ones, even
  // padded with zero bytes).
  bool Varint32(uint32_t* v) {
    uint32_t r = 0;
    for (int i = 0; i < 5; ++i) {
      if (p_ == end_) return false;
      const auto b = static_cast<uint8_t>(*p_++);
      if (i == 4 && b > 0x0F) return false;
      r |= static_cast<uint32_t>(b & 0x7F) << (7 * i);
      if (b < 0x80) {
        *v = r;
        return true;
      }
    }
    return false;
  }
  bool Tag(uint32_t* field, uint32_t* wire_type) {
    uint32_t tag = 0;
    if (!Varint32(&tag)) return false;
    *field = tag >> 3;
    *wire_type = tag & 7;
    return *field != 0;
  }
  // A varint field's value, after its tag of wire type `type`.
  bool VarintField(uint32_t type, uint64_t* v) { return type == kVarint && Varint(v); }
  // An int32 or int64 field's value, after its tag (an over-long int32 varint truncated, as
  // protobuf does).
  template <typename Int>
  bool IntField(uint32_t type, Int* out) {
    uint64_t v = 0;
    if (!VarintField(type, &v)) return false;
    *out = static_cast<Int>(v);
    return true;
  }
  // A length-delimited field's contents, as a view into the buffer.
  bool Bytes(std::string_view* v) {
    uint32_t n = 0;
    if (!Varint32(&n) || n > INT32_MAX || n > static_cast<uint64_t>(end_ - p_)) return false;
    *v = std::string_view(p_, static_cast<size_t>(n));
    p_ += n;
    return true;
  }

 private:
  const char* p_;
  const char* end_;
};

// Field numbers of proto/mq/v1 (broker.proto, common.proto).
enum SendRequestField : uint32_t {
  kProducerGroup = 1,
  kTopic = 2,
  kQueueId = 3,
  kMessages = 4,
  kDefaultTopicQueueNums = 5,
  kTransactionPrepared = 40,
};
enum MessageField : uint32_t {
  kMessageTopic = 1,
  kTags = 2,
  kKeys = 3,
  kBody = 4,
  kUserProperties = 5,  // map<string, string>: entries of key = 1, value = 2
  kDelayLevel = 6,
  kFlag = 7,
  kUniqueKey = 8,
  kBornTimestamp = 9,
  kBornHost = 10,
  kReconsumeTimes = 11,
  kDeliverTimeMs = 30,
};
enum SendResponseField : uint32_t {
  kStatus = 1,
  kBrokerName = 2,
  kResponseQueueId = 3,
  kQueueOffset = 4,
  kEntries = 5,
};
enum SendResultEntryField : uint32_t {
  kMsgId = 1,
  kOffsetMsgId = 2,
  kEntryQueueOffset = 3,
  kRecallHandle = 30,
  kCommitLogOffset = 40,
};
enum PullResponseField : uint32_t {
  kPullStatus = 1,
  kNextBeginOffset = 2,
  kMinOffset = 3,
  kMaxOffset = 4,
  kSuggestWhichBrokerId = 5,
  kPulledMessages = 6,
  kRecords = 7,
};

}  // namespace mq::wire
