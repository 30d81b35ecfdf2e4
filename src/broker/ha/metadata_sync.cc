#include "broker/ha/metadata_sync.h"

#include <map>
#include <string>

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

int AdoptAhead(const mq::v1::ConsumerOffsetTable& incoming, broker::ConsumerOffsetManager* offsets) {
  const mq::v1::ConsumerOffsetTable mine = offsets->Snapshot();
  mq::v1::ConsumerOffsetTable ahead = LocalCommits(incoming, mine);
  int moved = 0;
  for (const auto& [key, queues] : ahead.offset_table()) moved += queues.offsets_size();
  if (moved > 0) offsets->MergeFrom(ahead);
  return moved;
}

Status ApplyMetadata(const mq::v1::GetMetadataResponse& metadata, const MetadataManagers& m) {
  Status first;
  for (const auto& [name, topic] : metadata.topics().topic_config_table()) {
    auto existing = m.topics->Get(name);
    if (existing && existing->SerializeAsString() == topic.SerializeAsString()) continue;
    if (Status s = m.topics->CreateOrUpdate(topic); !s.ok() && first.ok()) first = s;
  }
  for (const auto& [name, group] : metadata.groups().subscription_group_table()) {
    auto existing = m.groups->Get(name);
    if (existing && existing->SerializeAsString() == group.SerializeAsString()) continue;
    if (Status s = m.groups->CreateOrUpdate(group); !s.ok() && first.ok()) first = s;
  }
  m.offsets->MergeFrom(metadata.offsets());
  if (m.delay_offsets != nullptr && metadata.has_delay_offsets()) {
    m.delay_offsets->Adopt(metadata.delay_offsets());
    if (Status s = m.delay_offsets->Persist(); !s.ok() && first.ok()) first = s;
  }
  return first;
}

}  // namespace mq::ha
