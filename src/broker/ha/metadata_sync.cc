#include "broker/ha/metadata_sync.h"

#include <map>
#include <string>

#include "broker/meta/transaction_progress_file.h"

namespace mq::ha {
namespace {

uint64_t Mix(uint64_t h, const std::string& bytes) {
  // FNV-1a, 64 bit.
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

mq::v1::GetMetadataResponse BuildMetadata(const MetadataManagers& m) {
  mq::v1::GetMetadataResponse resp;
  auto* topics = resp.mutable_topics()->mutable_topic_config_table();
  for (auto& t : m.topics->All()) (*topics)[t.topic_name()] = std::move(t);
  *resp.mutable_topics()->mutable_data_version() = m.topics->data_version();
  auto* groups = resp.mutable_groups()->mutable_subscription_group_table();
  for (auto& g : m.groups->All()) (*groups)[g.group_name()] = std::move(g);
  *resp.mutable_offsets() = m.offsets->Snapshot();
  if (m.delay_offsets != nullptr) *resp.mutable_delay_offsets() = m.delay_offsets->Snapshot();
  if (!m.transaction_progress_path.empty()) {
    // Absent until the scan first wrote it; a damaged file is the master's start-up error.
    if (auto p = broker::ReadTransactionProgress(m.transaction_progress_path); p.ok()) {
      resp.mutable_transaction_progress()->set_half_offset(p->half_offset);
      resp.mutable_transaction_progress()->set_op_offset(p->op_offset);
    }
  }
  // Read after the progress: the records it counts are before this end.
  if (m.log_end) resp.set_progress_log_end(m.log_end());
  return resp;
}

uint64_t MetadataFingerprint(const mq::v1::GetMetadataResponse& metadata) {
  // Protobuf maps serialise in no defined order, so hash through sorted std::maps.
  uint64_t h = 14695981039346656037ULL;
  std::map<std::string, std::string> sorted;
  for (const auto& [name, t] : metadata.topics().topic_config_table())
    sorted["t/" + name] = t.SerializeAsString();
  for (const auto& [name, g] : metadata.groups().subscription_group_table())
    sorted["g/" + name] = g.SerializeAsString();
  for (const auto& [key, queues] : metadata.offsets().offset_table()) {
    std::map<int32_t, int64_t> q(queues.offsets().begin(), queues.offsets().end());
    std::string v;
    for (const auto& [id, off] : q) v += std::to_string(id) + "=" + std::to_string(off) + ",";
    sorted["o/" + key] = std::move(v);
  }
  for (const auto& [level, off] : metadata.delay_offsets().offset_table())
    sorted["d/" + std::to_string(level)] = std::to_string(off);
  if (metadata.has_transaction_progress()) {
    sorted["x/"] = std::to_string(metadata.transaction_progress().half_offset()) + "," +
                   std::to_string(metadata.transaction_progress().op_offset());
  }
  for (const auto& [k, v] : sorted) h = Mix(Mix(h, k), v);
  return h;
}

mq::v1::ConsumerOffsetTable LocalCommits(const mq::v1::ConsumerOffsetTable& current,
                                         const mq::v1::ConsumerOffsetTable& last_from_master) {
  mq::v1::ConsumerOffsetTable out;
  for (const auto& [key, queues] : current.offset_table()) {
    auto last = last_from_master.offset_table().find(key);
    for (const auto& [queue_id, offset] : queues.offsets()) {
      bool ahead = true;
      if (last != last_from_master.offset_table().end()) {
        auto it = last->second.offsets().find(queue_id);
        ahead = it == last->second.offsets().end() || offset > it->second;
      }
      if (ahead) (*(*out.mutable_offset_table())[key].mutable_offsets())[queue_id] = offset;
    }
  }
  return out;
}

int AdoptAhead(const mq::v1::ConsumerOffsetTable& incoming, broker::ConsumerOffsetManager* offsets,
               const std::function<int64_t(const std::string& topic, int32_t queue_id)>& queue_end) {
  if (!queue_end) return offsets->MergeForward(incoming);
  mq::v1::ConsumerOffsetTable capped = incoming;
  for (auto& [key, queues] : *capped.mutable_offset_table()) {
    const std::string topic = key.substr(0, key.find('@'));  // "topic@group"
    for (auto& [queue_id, offset] : *queues.mutable_offsets())
      offset = std::min(offset, queue_end(topic, queue_id));
  }
  return offsets->MergeForward(capped);
}

mq::v1::ConsumerOffsetTable GoneFrom(const mq::v1::ConsumerOffsetTable& previous,
                                     const mq::v1::ConsumerOffsetTable& current) {
  mq::v1::ConsumerOffsetTable gone;
  for (const auto& [key, queues] : previous.offset_table()) {
    auto now = current.offset_table().find(key);
    for (const auto& [queue_id, offset] : queues.offsets()) {
      if (now != current.offset_table().end() && now->second.offsets().count(queue_id) != 0) continue;
      (*(*gone.mutable_offset_table())[key].mutable_offsets())[queue_id] = offset;
    }
  }
  return gone;
}

namespace {

// Slave side, for topics or groups: creates or updates each entry of the master's `table`
// (unchanged ones are no-ops) and deletes those `previous` named that `table` lacks, in one
// write of the manager's file (one per entry made a sync of 50,000 topics O(N^2) bytes).
template <typename Table, typename Manager, typename KeepFirst>
void MirrorTable(const Table& table, const std::set<std::string>& previous, Manager* manager,
                 const KeepFirst& keep_first) {
  std::vector<typename Table::mapped_type> upserts;
  for (const auto& [name, config] : table) {
    auto existing = manager->Get(name);
    if (existing && existing->SerializeAsString() == config.SerializeAsString()) continue;
    upserts.push_back(config);
  }
  std::vector<std::string> deletes;
  for (const auto& name : previous) {
    if (table.count(name) == 0) deletes.push_back(name);
  }
  if (!upserts.empty() || !deletes.empty()) keep_first(manager->ApplyChanges(std::move(upserts), deletes));
}

}  // namespace

MasterTables TablesOf(const mq::v1::GetMetadataResponse& metadata) {
  MasterTables t;
  for (const auto& [name, topic] : metadata.topics().topic_config_table()) t.topics.insert(name);
  for (const auto& [name, group] : metadata.groups().subscription_group_table()) t.groups.insert(name);
  t.offsets = metadata.offsets();
  return t;
}

Status ApplyMetadata(const mq::v1::GetMetadataResponse& metadata, const MasterTables& previous,
                     const MetadataManagers& m) {
  Status first;
  auto keep_first = [&first](Status s) {
    if (!s.ok() && first.ok()) first = std::move(s);
  };
  MirrorTable(metadata.topics().topic_config_table(), previous.topics, m.topics, keep_first);
  MirrorTable(metadata.groups().subscription_group_table(), previous.groups, m.groups, keep_first);
  m.offsets->MergeFrom(metadata.offsets());
  m.offsets->RemoveUnchanged(GoneFrom(previous.offsets, metadata.offsets()));
  return first;
}

namespace {

Status TakeProgress(const mq::v1::GetMetadataResponse& metadata, const MetadataManagers& m) {
  Status first;
  if (m.delay_offsets != nullptr && metadata.has_delay_offsets()) {
    m.delay_offsets->Adopt(metadata.delay_offsets());
    first = m.delay_offsets->Persist();
  }
  if (!m.transaction_progress_path.empty() && metadata.has_transaction_progress()) {
    const broker::TransactionPositions master{metadata.transaction_progress().half_offset(),
                                              metadata.transaction_progress().op_offset()};
    auto mine = broker::ReadTransactionProgress(m.transaction_progress_path);
    if (!mine.ok() || !(*mine == master)) {
      Status s = broker::WriteTransactionProgress(m.transaction_progress_path, master);
      if (first.ok()) first = std::move(s);
    }
  }
  return first;
}

}  // namespace

Status ApplyProgress(const mq::v1::GetMetadataResponse& metadata,
                     std::optional<mq::v1::GetMetadataResponse>* pending, const MetadataManagers& m) {
  auto covered = [&m](const mq::v1::GetMetadataResponse& r) {
    return !m.log_end || r.progress_log_end() <= m.log_end();
  };
  Status first;
  if (pending->has_value() && covered(**pending)) {
    first = TakeProgress(**pending, m);
    pending->reset();
  }
  mq::v1::GetMetadataResponse progress;
  *progress.mutable_delay_offsets() = metadata.delay_offsets();
  if (metadata.has_transaction_progress())
    *progress.mutable_transaction_progress() = metadata.transaction_progress();
  progress.set_progress_log_end(metadata.progress_log_end());
  if (covered(progress)) {
    Status s = TakeProgress(progress, m);
    if (first.ok()) first = std::move(s);
    pending->reset();
  } else {
    *pending = std::move(progress);
  }
  return first;
}

}  // namespace mq::ha
