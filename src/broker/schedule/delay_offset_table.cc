#include "broker/schedule/delay_offset_table.h"

#include <fmt/format.h>

#include "broker/meta/json_file.h"
#include "common/file_util.h"

namespace mq::schedule {

DelayOffsetTable::DelayOffsetTable(std::string config_dir) : path_(config_dir + "/delayOffset.json") {}

Status DelayOffsetTable::Load() {
  std::lock_guard persist(persist_mu_);
  mq::v1::DelayOffsetTable table;
  // Protobuf's JSON parser accepts RocketMQ's lowerCamel "offsetTable" and numeric values.
  auto source = broker::LoadJsonFile(path_, &table, [](const google::protobuf::Message& m) {
    for (const auto& [level, offset] : static_cast<const mq::v1::DelayOffsetTable&>(m).offset_table()) {
      if (level <= 0 || offset < 0) {
        return Status::Corruption(fmt::format("delay level {} offset {} is out of range", level, offset));
      }
    }
    return Status::OK();
  });
  if (!source.ok()) return source.status();
  std::lock_guard lock(mu_);
  offsets_.clear();
  for (const auto& [level, offset] : table.offset_table()) offsets_[level] = offset;
  persisted_seq_ = change_seq_;
  return Status::OK();
}

DelayOffsetTable::Version DelayOffsetTable::Take() const {
  std::lock_guard lock(mu_);
  return Version{offsets_, change_seq_};
}

Status DelayOffsetTable::Persist(const Version& version) {
  std::lock_guard persist(persist_mu_);
  {
    std::lock_guard lock(mu_);
    if (version.seq <= persisted_seq_) return Status::OK();
  }
  // RocketMQ's exact layout (numbers, not protobuf JSON's quoted int64s).
  std::string json = "{\n\t\"offsetTable\":{";
  bool first = true;
  for (const auto& [level, offset] : version.offsets) {
    json += fmt::format("{}\n\t\t\"{}\":{}", first ? "" : ",", level, offset);
    first = false;
  }
  json += "\n\t}\n}\n";
  MQ_RETURN_IF_ERROR(WriteFileAtomically(path_, json));
  MQ_RETURN_IF_ERROR(WriteFileAtomically(path_ + ".bak", json));
  std::lock_guard lock(mu_);
  persisted_seq_ = std::max(persisted_seq_, version.seq);
  return Status::OK();
}

int64_t DelayOffsetTable::Get(int32_t level) const {
  std::lock_guard lock(mu_);
  auto it = offsets_.find(level);
  return it == offsets_.end() ? 0 : it->second;
}

void DelayOffsetTable::Set(int32_t level, int64_t offset) {
  std::lock_guard lock(mu_);
  auto& slot = offsets_[level];
  if (slot == offset) return;
  slot = offset;
  ++change_seq_;
}

mq::v1::DelayOffsetTable DelayOffsetTable::Snapshot() const {
  mq::v1::DelayOffsetTable out;
  std::lock_guard lock(mu_);
  for (const auto& [level, offset] : offsets_) (*out.mutable_offset_table())[level] = offset;
  return out;
}

void DelayOffsetTable::Adopt(const mq::v1::DelayOffsetTable& table) {
  std::lock_guard lock(mu_);
  for (const auto& [level, offset] : table.offset_table()) {
    if (level <= 0 || offset < 0) continue;
    auto& slot = offsets_[level];
    if (slot == offset) continue;
    slot = offset;
    ++change_seq_;
  }
}

}  // namespace mq::schedule
