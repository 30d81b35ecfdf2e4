#include "broker/pop/pop_journal.h"

#include <fmt/format.h>

#include "common/coding.h"

namespace mq::broker::pop {
namespace {

constexpr char kMagic = 'J';
constexpr char kVersion = 1;

void PutStr16(std::string* out, std::string_view s) {
  const size_t n = std::min<size_t>(s.size(), UINT16_MAX);
  PutFixed16BE(out, static_cast<uint16_t>(n));
  out->append(s.data(), n);
}

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool U8(uint8_t* v) {
    if (!Need(1)) return false;
    *v = static_cast<uint8_t>(data_[pos_++]);
    return true;
  }
  bool I32(int32_t* v) {
    if (!Need(4)) return false;
    *v = static_cast<int32_t>(DecodeFixed32BE(data_.data() + pos_));
    pos_ += 4;
    return true;
  }
  bool I64(int64_t* v) {
    if (!Need(8)) return false;
    *v = static_cast<int64_t>(DecodeFixed64BE(data_.data() + pos_));
    pos_ += 8;
    return true;
  }
  bool Str(std::string* v) {
    if (!Need(2)) return false;
    const uint16_t n = DecodeFixed16BE(data_.data() + pos_);
    pos_ += 2;
    if (!Need(n)) return false;
    v->assign(data_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  bool done() const { return pos_ == data_.size(); }

 private:
  bool Need(size_t n) const { return data_.size() - pos_ >= n; }
  std::string_view data_;
  size_t pos_ = 0;
};

bool KnownType(uint8_t t) {
  switch (static_cast<JournalType>(t)) {
    case JournalType::kPop:
    case JournalType::kAdvance:
    case JournalType::kAck:
    case JournalType::kChange:
    case JournalType::kRenew:
    case JournalType::kReset:
      return true;
  }
  return false;
}

}  // namespace

std::string EncodeJournal(const std::vector<JournalEntry>& entries) {
  std::string out;
  out.push_back(kMagic);
  out.push_back(kVersion);
  PutFixed32BE(&out, static_cast<uint32_t>(entries.size()));
  for (const auto& e : entries) {
    out.push_back(static_cast<char>(e.type));
    PutStr16(&out, e.key.group);
    PutStr16(&out, e.key.topic);
    PutFixed32BE(&out, static_cast<uint32_t>(e.key.queue_id));
    PutFixed64BE(&out, static_cast<uint64_t>(e.offset));
    PutFixed64BE(&out, static_cast<uint64_t>(e.epoch));
    PutFixed64BE(&out, static_cast<uint64_t>(e.new_epoch));
    PutFixed64BE(&out, static_cast<uint64_t>(e.deadline_ms));
    PutFixed32BE(&out, static_cast<uint32_t>(e.attempt));
    PutFixed64BE(&out, static_cast<uint64_t>(e.commit_log_offset));
    PutFixed64BE(&out, static_cast<uint64_t>(e.first_pop_ms));
    out.push_back(e.auto_renew ? 1 : 0);
    PutStr16(&out, e.client_id);
  }
  return out;
}

Result<std::vector<JournalEntry>> DecodeJournal(std::string_view body) {
  if (body.size() < 6 || body[0] != kMagic || body[1] != kVersion) {
    return Status::Corruption("pop journal: not a version 1 journal record");
  }
  Reader r(body.substr(2));
  int32_t count = 0;
  if (!r.I32(&count) || count < 0) return Status::Corruption("pop journal: bad entry count");
  std::vector<JournalEntry> out;
  for (int32_t i = 0; i < count; ++i) {
    JournalEntry e;
    uint8_t type = 0;
    uint8_t renew = 0;
    if (!r.U8(&type) || !KnownType(type) || !r.Str(&e.key.group) || !r.Str(&e.key.topic) ||
        !r.I32(&e.key.queue_id) || !r.I64(&e.offset) || !r.I64(&e.epoch) || !r.I64(&e.new_epoch) ||
        !r.I64(&e.deadline_ms) || !r.I32(&e.attempt) || !r.I64(&e.commit_log_offset) ||
        !r.I64(&e.first_pop_ms) || !r.U8(&renew) || !r.Str(&e.client_id)) {
      return Status::Corruption(fmt::format("pop journal: entry {} of {} is truncated or unknown", i, count));
    }
    e.type = static_cast<JournalType>(type);
    e.auto_renew = renew != 0;
    out.push_back(std::move(e));
  }
  if (!r.done()) return Status::Corruption("pop journal: trailing bytes");
  return out;
}

void ApplyJournalEntry(const JournalEntry& e, int64_t settled_epoch, PopStateTable* table) {
  switch (e.type) {
    case JournalType::kPop: {
      InFlight d;
      d.epoch = e.epoch;
      d.deadline_ms = e.deadline_ms;
      d.commit_log_offset = e.commit_log_offset;
      d.first_pop_ms = e.first_pop_ms;
      d.attempt = e.attempt;
      d.auto_renew = e.auto_renew;
      d.client_id = e.client_id;
      table->ApplyPop(e.key, e.offset, d, settled_epoch);
      table->ApplyAdvance(e.key, e.offset + 1);
      break;
    }
    case JournalType::kAdvance:
      table->ApplyAdvance(e.key, e.offset);
      break;
    case JournalType::kAck:
      table->ApplyAck(e.key, e.offset, e.epoch);
      break;
    case JournalType::kChange:
      table->ApplyChange(e.key, e.offset, e.epoch, e.new_epoch, e.deadline_ms);
      break;
    case JournalType::kRenew:
      table->ApplyRenew(e.key, e.offset, e.epoch, e.deadline_ms);
      break;
    case JournalType::kReset:
      table->ApplyReset(e.key, e.offset);
      break;
  }
}

}  // namespace mq::broker::pop
