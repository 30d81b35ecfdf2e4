#include "broker/meta/consumer_offset_manager.h"

#include <fmt/format.h>

#include <set>
#include <utility>

#include "broker/meta/json_file.h"
#include "common/logging.h"

namespace mq::broker {
namespace {

// Splits "topic@group"; false when the key is malformed.
bool SplitKey(const std::string& key, std::string* topic, std::string* group) {
  size_t at = key.find('@');
  if (at == std::string::npos || at == 0 || at + 1 == key.size()) return false;
  *topic = key.substr(0, at);
  *group = key.substr(at + 1);
  return true;
}

Status ValidateTable(const google::protobuf::Message& message) {
  const auto& table = static_cast<const mq::v1::ConsumerOffsetTable&>(message);
  std::string topic, group;
  for (const auto& [key, offsets] : table.offset_table()) {
    if (!SplitKey(key, &topic, &group)) {
      return Status::InvalidArgument(fmt::format("offset_table: key '{}' is not 'topic@group'", key));
    }
  }
  return Status::OK();
}

}  // namespace

ConsumerOffsetManager::ConsumerOffsetManager(std::string config_dir)
    : file_path_(std::move(config_dir) + "/consumerOffset.json") {}

Status ConsumerOffsetManager::Load() {
  std::lock_guard persist_lock(persist_mu_);
  mq::v1::ConsumerOffsetTable table;
  MQ_ASSIGN_OR_RETURN(LoadSource source, LoadJsonFile(file_path_, &table, &ValidateTable));
  std::lock_guard lock(mu_);
  offsets_.clear();
  pending_resets_.clear();
  for (const auto& [key, queues] : table.offset_table()) {
    offsets_[key] = QueueOffsets(queues.offsets().begin(), queues.offsets().end());
  }
  // A table restored from the backup is rewritten by the next Persist().
  persisted_seq_ = change_seq_;
  if (source == LoadSource::kBackup) ++change_seq_;
  MQ_LOG_INFO(Logger("broker"), "loaded consumer offsets file={} keys={} source={}", file_path_,
              offsets_.size(), source == LoadSource::kBackup ? "backup" : "main");
  return Status::OK();
}

bool ConsumerOffsetManager::Commit(const std::string& group, const std::string& topic, int32_t queue_id,
                                   int64_t offset) {
  const std::string key = Key(topic, group);
  std::lock_guard lock(mu_);
  auto pending = pending_resets_.find(key);
  if (pending != pending_resets_.end() && pending->second.count(queue_id) != 0) {
    MQ_LOG_DEBUG(Logger("broker"), "ignored commit group={} topic={} queue={} offset={}: reset pending",
                 group, topic, queue_id, offset);
    return false;
  }
  auto [it, inserted] = offsets_[key].try_emplace(queue_id, offset);
  if (inserted || it->second != offset) {
    it->second = offset;
    ++change_seq_;
  }
  return true;
}

std::optional<int64_t> ConsumerOffsetManager::Query(const std::string& group, const std::string& topic,
                                                    int32_t queue_id) const {
  std::lock_guard lock(mu_);
  auto it = offsets_.find(Key(topic, group));
  if (it == offsets_.end()) return std::nullopt;
  auto q = it->second.find(queue_id);
  if (q == it->second.end()) return std::nullopt;
  return q->second;
}

std::map<int32_t, int64_t> ConsumerOffsetManager::QueryAll(const std::string& group,
                                                           const std::string& topic) const {
  std::lock_guard lock(mu_);
  auto it = offsets_.find(Key(topic, group));
  if (it == offsets_.end()) return {};
  return it->second;
}

std::vector<std::string> ConsumerOffsetManager::TopicsOfGroup(const std::string& group) const {
  std::set<std::string> out;
  std::string t, g;
  std::lock_guard lock(mu_);
  for (const auto& [key, queues] : offsets_) {
    if (SplitKey(key, &t, &g) && g == group) out.insert(t);
  }
  return {out.begin(), out.end()};
}

std::vector<std::string> ConsumerOffsetManager::GroupsOfTopic(const std::string& topic) const {
  std::set<std::string> out;
  std::string t, g;
  std::lock_guard lock(mu_);
  for (const auto& [key, queues] : offsets_) {
    if (SplitKey(key, &t, &g) && t == topic) out.insert(g);
  }
  return {out.begin(), out.end()};
}

void ConsumerOffsetManager::RemoveMatchingLocked(int part, const std::string& name) {
  std::string t, g;
  for (auto* table : {&offsets_, &pending_resets_}) {
    for (auto it = table->begin(); it != table->end();) {
      bool match = SplitKey(it->first, &t, &g) && (part == 0 ? t : g) == name;
      if (match) {
        if (table == &offsets_) ++change_seq_;
        it = table->erase(it);
      } else {
        ++it;
      }
    }
  }
}

void ConsumerOffsetManager::RemoveGroup(const std::string& group) {
  std::lock_guard lock(mu_);
  RemoveMatchingLocked(1, group);
}

std::vector<std::string> ConsumerOffsetManager::ClampToQueueEnds(
    const std::function<int64_t(const std::string&, int32_t)>& queue_end) {
  std::vector<std::string> clamped;
  std::lock_guard lock(mu_);
  for (auto& [key, queues] : offsets_) {
    const std::string topic = key.substr(0, key.find('@'));
    for (auto& [queue_id, offset] : queues) {
      const int64_t end = queue_end(topic, queue_id);
      if (offset <= end) continue;
      clamped.push_back(fmt::format("{}/{} {}->{}", key, queue_id, offset, end));
      offset = end;
    }
  }
  if (!clamped.empty()) ++change_seq_;
  return clamped;
}

void ConsumerOffsetManager::RemoveTopic(const std::string& topic) {
  std::lock_guard lock(mu_);
  RemoveMatchingLocked(0, topic);
}

void ConsumerOffsetManager::ResetOffsets(const std::string& group, const std::string& topic,
                                         const std::map<int32_t, int64_t>& offsets) {
  const std::string key = Key(topic, group);
  std::lock_guard lock(mu_);
  for (const auto& [queue_id, offset] : offsets) {
    offsets_[key][queue_id] = offset;
    pending_resets_[key][queue_id] = offset;
  }
  ++change_seq_;
  MQ_LOG_INFO(Logger("broker"), "reset offsets group={} topic={} queues={}", group, topic, offsets.size());
}

std::optional<int64_t> ConsumerOffsetManager::TakePendingReset(const std::string& group,
                                                               const std::string& topic, int32_t queue_id) {
  std::lock_guard lock(mu_);
  auto it = pending_resets_.find(Key(topic, group));
  if (it == pending_resets_.end()) return std::nullopt;
  auto q = it->second.find(queue_id);
  if (q == it->second.end()) return std::nullopt;
  int64_t offset = q->second;
  it->second.erase(q);
  if (it->second.empty()) pending_resets_.erase(it);
  return offset;
}

bool ConsumerOffsetManager::dirty() const {
  std::lock_guard lock(mu_);
  return change_seq_ != persisted_seq_;
}

mq::v1::ConsumerOffsetTable ConsumerOffsetManager::Snapshot() const {
  mq::v1::ConsumerOffsetTable table;
  std::lock_guard lock(mu_);
  for (const auto& [key, queues] : offsets_) {
    auto* out = (*table.mutable_offset_table())[key].mutable_offsets();
    for (const auto& [queue_id, offset] : queues) (*out)[queue_id] = offset;
  }
  return table;
}

void ConsumerOffsetManager::MergeFrom(const mq::v1::ConsumerOffsetTable& table) {
  std::string t, g;
  std::lock_guard lock(mu_);
  for (const auto& [key, queues] : table.offset_table()) {
    if (!SplitKey(key, &t, &g)) {
      MQ_LOG_WARN(Logger("broker"), "ignored offset key={} in merged table: not 'topic@group'", key);
      continue;
    }
    for (const auto& [queue_id, offset] : queues.offsets()) offsets_[key][queue_id] = offset;
    ++change_seq_;
  }
}

int ConsumerOffsetManager::MergeForward(const mq::v1::ConsumerOffsetTable& table) {
  std::string t, g;
  int moved = 0;
  std::lock_guard lock(mu_);
  for (const auto& [key, queues] : table.offset_table()) {
    if (!SplitKey(key, &t, &g)) {
      MQ_LOG_WARN(Logger("broker"), "ignored offset key={} in merged table: not 'topic@group'", key);
      continue;
    }
    auto pending = pending_resets_.find(key);
    for (const auto& [queue_id, offset] : queues.offsets()) {
      if (pending != pending_resets_.end() && pending->second.count(queue_id) != 0) continue;
      auto [it, inserted] = offsets_[key].try_emplace(queue_id, offset);
      if (!inserted && it->second >= offset) continue;
      it->second = offset;
      ++moved;
    }
  }
  if (moved > 0) ++change_seq_;
  return moved;
}

void ConsumerOffsetManager::RemoveUnchanged(const mq::v1::ConsumerOffsetTable& table) {
  std::lock_guard lock(mu_);
  for (const auto& [key, queues] : table.offset_table()) {
    auto mine = offsets_.find(key);
    if (mine == offsets_.end()) continue;
    for (const auto& [queue_id, offset] : queues.offsets()) {
      auto it = mine->second.find(queue_id);
      if (it == mine->second.end() || it->second != offset) continue;
      mine->second.erase(it);
      ++change_seq_;
    }
    if (mine->second.empty()) offsets_.erase(mine);
  }
}

Status ConsumerOffsetManager::Persist() {
  std::lock_guard persist_lock(persist_mu_);
  uint64_t seq = 0;
  {
    std::lock_guard lock(mu_);
    if (change_seq_ == persisted_seq_) return Status::OK();
    seq = change_seq_;
  }
  // Changes racing with the snapshot below are written too; they just get written again later.
  mq::v1::ConsumerOffsetTable table = Snapshot();
  Status s = SaveJsonFile(file_path_, table);
  if (!s.ok()) {
    MQ_LOG_ERROR(Logger("broker"), "persist consumer offsets file={} failed: {}", file_path_, s.ToString());
    return s;
  }
  std::lock_guard lock(mu_);
  persisted_seq_ = seq;
  return Status::OK();
}

}  // namespace mq::broker
