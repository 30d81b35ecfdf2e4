// PopService's persistence: replay of the journal (rmq_sys_REVIVE_LOG_<cluster>) at start and
// the config/popState.json snapshot. Locking as in pop_service.h (snapshot_mu_ -> mu_).
#include <algorithm>

#include "broker/meta/json_file.h"
#include "broker/pop/pop_service.h"
#include "broker/store/message_store.h"
#include "common/logging.h"

namespace mq::broker::pop {
namespace {

// Journal records read per store call while replaying, and their byte bound.
constexpr int32_t kReplayBatch = 256;
constexpr int32_t kReplayMaxBytes = 8 << 20;

}  // namespace

Status PopService::Replay(int64_t from, int64_t settled_epoch) {
  const std::string& topic = options_.journal_topic;
  const int64_t min = ctx_.store->MinOffsetInQueue(topic, 0);
  const int64_t end = ctx_.store->MaxOffsetInQueue(topic, 0);
  if (from < min) {
    MQ_LOG_WARN(Logger("broker"), "pop journal: records {}..{} were removed by retention before replay", from,
                min);
  }
  int64_t offset = std::max(from, min);
  int64_t records = 0;
  while (offset < end) {
    auto r = ctx_.store->GetMessages("pop-journal", topic, 0, offset, kReplayBatch, kReplayMaxBytes);
    if (r.status != store::GetMessageStatus::kFound) {
      if (r.next_begin_offset <= offset) break;
      offset = r.next_begin_offset;
      continue;
    }
    for (const auto& record : r.messages) {
      auto view = store::DecodeRecord(record, /*verify_crc=*/false);
      if (!view.ok()) continue;
      auto entries = DecodeJournal(view->body);
      if (!entries.ok()) {
        MQ_LOG_WARN(Logger("broker"), "pop journal: skipping record at queue offset {}: {}",
                    view->queue_offset, entries.status().ToString());
        continue;
      }
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& e : *entries) {
        ApplyJournalEntry(e, settled_epoch, &table_);
        epoch_ = std::max({epoch_, e.epoch, e.new_epoch});
      }
      ++records;
    }
    offset = r.next_begin_offset;
  }
  const bool state_ahead = from > end;
  if (state_ahead) {
    MQ_LOG_WARN(Logger("broker"),
                "pop journal ends at {} but the snapshot was taken at {}: the store lost its tail since", end,
                from);
  }
  // Also when the journal kept the snapshot's records: a snapshot holds the changes of puts
  // still outstanding when it was taken, whose records (and messages) a power cut may lose.
  TruncateToStore();
  {
    std::lock_guard<std::mutex> lock(mu_);
    journal_next_ = end;
    std::vector<QueueKey> keys;
    for (const auto& [key, q] : table_.queues()) keys.push_back(key);
    CommitLowWatersLocked(keys);
  }
  // The corrected state replaces the snapshot at once: the next start must not find it ahead.
  if (state_ahead) MQ_RETURN_IF_ERROR(Snapshot());
  MQ_LOG_INFO(Logger("broker"), "pop state loaded in_flight={} journal_records_replayed={} journal_end={}",
              InFlightCount(), records, end);
  return Status::OK();
}

void PopService::TruncateToStore() {
  // A store that lost its tail after the snapshot was written (a power cut under ASYNC_FLUSH,
  // a store wiped under its config/) leaves positions and deliveries past the queues' ends,
  // which new messages will reuse.
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [key, q] : table_.queues()) {
    const int64_t end = ctx_.store->MaxOffsetInQueue(key.topic, key.queue_id);
    if (q.next_offset <= end) continue;
    const int64_t was = q.next_offset;
    const size_t dropped = table_.TruncateTo(key, end);
    MQ_LOG_WARN(Logger("broker"),
                "pop {}@{} queue={}: position {} -> {}, {} deliveries of lost messages dropped", key.topic,
                key.group, key.queue_id, was, end, dropped);
  }
}

Status PopService::Snapshot() {
  std::lock_guard<std::mutex> snapshot_lock(snapshot_mu_);
  mq::v1::PopStateSnapshot snapshot;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Every change of the table writes a journal record: no new record, nothing to write.
    if (journal_next_ == snapshot_journal_next_) return Status::OK();
    // Taken with journal puts outstanding too: a busy broker may never be without one. The
    // table holds the change of every record below journal_next_ (a change is made before its
    // record is appended, and journal_next_ is past stored records only); records at or past
    // it whose changes the table already holds replay as no-ops.
    table_.ToProto(&snapshot);
    snapshot.set_journal_offset(journal_next_);
    snapshot.set_max_epoch(epoch_);
  }
  MQ_RETURN_IF_ERROR(SaveJsonFile(options_.state_path, snapshot));
  snapshot_journal_next_ = snapshot.journal_offset();
  return Status::OK();
}

}  // namespace mq::broker::pop
