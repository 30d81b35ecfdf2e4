// DurableProgress: which progress snapshot of a background task (a scan position, delivery
// offsets) may be written to its file, so that the file never gets ahead of the commit log it
// describes. A snapshot taken when the log ended at `log_end` covers the records the task put or
// read before it; it may be written once the log is durable (flushed) up to `log_end`. Under
// ASYNC_FLUSH a power cut can take the log's tail: a position written before its records were
// durable would then point past records that no longer exist, and what they carried (a
// delivered message's copy, a checked half's copy) would never be produced again.
// Not thread-safe: owned by the task's thread.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>

namespace mq {

template <typename Snapshot>
class DurableProgress {
 public:
  // `current` was taken when the log ended at `log_end`; `flushed` is the log's durable end now.
  // Returns the snapshot to write now, if any: `current` when it is durable (or `force`: the
  // caller flushes the log before it stops), else the oldest held one once that is durable.
  // A snapshot not written yet is held until it is.
  std::optional<Snapshot> Offer(Snapshot current, int64_t log_end, int64_t flushed, bool force) {
    if (force || flushed >= log_end) {
      held_.reset();
      return current;
    }
    if (held_ && flushed >= held_->log_end) {
      Snapshot ready = std::move(held_->snapshot);
      held_ = Held{std::move(current), log_end};
      return ready;
    }
    if (!held_) held_ = Held{std::move(current), log_end};
    return std::nullopt;
  }

 private:
  struct Held {
    Snapshot snapshot;
    int64_t log_end = 0;
  };
  std::optional<Held> held_;
};

}  // namespace mq
