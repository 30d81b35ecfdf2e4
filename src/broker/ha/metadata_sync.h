// Metadata sync between a master and its slaves (RocketMQ SlaveSynchronize): topic configs,
// subscription groups, consumer offsets, delay-level offsets and the transaction scan's
// positions. Pure functions over the metadata managers and
// tables; the master's HaService serves GetMetadata with them and the slave's HaClient applies
// the answer.
//
// Offsets committed on a slave (consumers that read from it while the master was away) flow
// back: the slave sends every offset that is ahead of the table it last received from the
// master (LocalCommits), and the master adopts each one that is ahead of its own value
// (AdoptAhead): offsets only move forward through this path, so a slave never rewinds the
// master's consumers. Thread-safety: as the managers (all thread-safe).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>

#include "broker/meta/consumer_offset_manager.h"
#include "broker/meta/subscription_group_manager.h"
#include "broker/meta/topic_config_manager.h"
#include "broker/schedule/delay_offset_table.h"
#include "mq/v1/ha.pb.h"

namespace mq::ha {

struct MetadataManagers {
  broker::TopicConfigManager* topics = nullptr;
  broker::SubscriptionGroupManager* groups = nullptr;
  broker::ConsumerOffsetManager* offsets = nullptr;
  schedule::DelayOffsetTable* delay_offsets = nullptr;  // delayOffset.json; may be null
  std::string transaction_progress_path = {};           // transactionProgress; empty: none
  // The local commit log's end (MaxPhyOffset); unset: progress is taken as it comes.
  std::function<int64_t()> log_end = {};
};

// The master's answer: every topic, group and offset, and the transaction scan's positions as
// its file has them (durable ones only).
mq::v1::GetMetadataResponse BuildMetadata(const MetadataManagers& m);
// Order-independent hash of the metadata; slaves re-sync when the master's value changes.
uint64_t MetadataFingerprint(const mq::v1::GetMetadataResponse& metadata);

// Offsets of `current` that are absent from, or greater than, `last_from_master`.
mq::v1::ConsumerOffsetTable LocalCommits(const mq::v1::ConsumerOffsetTable& current,
                                         const mq::v1::ConsumerOffsetTable& last_from_master);
// Master side: takes the offsets of `incoming` that are ahead of (or absent from) `offsets`,
// compared and set under the manager's lock, each at most queue_end(topic, queue_id) when given
// (a slave cannot have consumed past what the master holds). Returns how many moved.
int AdoptAhead(const mq::v1::ConsumerOffsetTable& incoming, broker::ConsumerOffsetManager* offsets,
               const std::function<int64_t(const std::string& topic, int32_t queue_id)>& queue_end = nullptr);

// The queue offsets of `previous` that `current` no longer has (with their values in `previous`).
mq::v1::ConsumerOffsetTable GoneFrom(const mq::v1::ConsumerOffsetTable& previous,
                                     const mq::v1::ConsumerOffsetTable& current);

// What a slave keeps of the master's last answer, to tell what the master deleted since: the
// names of its topics and groups, and its consumer offsets.
struct MasterTables {
  std::set<std::string> topics;
  std::set<std::string> groups;
  mq::v1::ConsumerOffsetTable offsets;
};
MasterTables TablesOf(const mq::v1::GetMetadataResponse& metadata);

// Slave side: creates or updates every topic and group of `metadata` (unchanged ones are
// no-ops) and takes every offset it carries. What `previous` (the master's last answer) had
// and `metadata` no longer has was deleted on the master, and is deleted here too (RocketMQ's
// slaves mirror deletions as well): topics, groups, and offsets unless committed on this slave
// since, so the next sync does not offer them back as local commits. What the slave created
// itself (a group auto-created by a consumer reading from it) is kept. Returns the first
// error, after trying everything.
Status ApplyMetadata(const mq::v1::GetMetadataResponse& metadata, const MasterTables& previous,
                     const MetadataManagers& m);

// Slave side: the delay-level offsets and transaction scan positions of the master's answer. They
// count work whose records (re-puts, check copies, ends) are in the master's log before
// progress_log_end; taken before this slave's log holds those records, a promoted slave would
// skip scheduled messages and transactions it holds but whose delivery or end it never
// received. So each answer is applied once the local log reaches its progress_log_end: at once,
// or at a later call, from `pending` (the newest answer not applied yet; an older one it
// replaces only means more duplicates after a promotion, never a skip).
Status ApplyProgress(const mq::v1::GetMetadataResponse& metadata,
                     std::optional<mq::v1::GetMetadataResponse>* pending, const MetadataManagers& m);

}  // namespace mq::ha
