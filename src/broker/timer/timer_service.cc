#include "broker/timer/timer_service.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "broker/store/message_store.h"
#include "common/file_util.h"
#include "common/logging.h"
#include "common/thread_name.h"

namespace mq::broker::timer {
namespace {

constexpr int32_t kEnqueueBatch = 512;
constexpr int32_t kEnqueueBatchBytes = 8 * 1024 * 1024;
constexpr int64_t kRetryDelayMs = 1000;
constexpr int64_t kCheckpointEveryMs = 1000;

int64_t FloorTo(int64_t ms, int64_t precision) { return ms - ((ms % precision) + precision) % precision; }

}  // namespace

TimerService::TimerService(TimerServiceOptions options, store::MessageStore* store, PutFn put, Clock* clock)
    : options_(std::move(options)),
      roll_window_ms_(options_.roll_window_slots * options_.precision_ms),
      store_(store),
      put_(std::move(put)),
      clock_(clock) {}

TimerService::~TimerService() { Shutdown(); }

Status TimerService::Start() {
  MQ_RETURN_IF_ERROR(CreateDirectoriesDurably(options_.dir));
  // Checkpoint: "progress_ms enqueue_offset confirmed_cq" (files before confirmed_cq have two:
  // the timer then confirmed everything it had read).
  const std::string cp_path = options_.dir + "/checkpoint";
  if (std::filesystem::exists(cp_path)) {
    MQ_ASSIGN_OR_RETURN(std::string cp, ReadFileToString(cp_path));
    std::vector<int64_t> numbers;
    for (std::string_view rest = cp; !rest.empty();) {
      const size_t end = std::min(rest.find_first_of(" \n"), rest.size());
      if (end > 0) numbers.push_back(ParseI64Or(rest.substr(0, end), -1));
      rest.remove_prefix(std::min(end + 1, rest.size()));
    }
    if (numbers.size() < 2 || numbers.size() > 3 || *std::min_element(numbers.begin(), numbers.end()) < 0) {
      return Status::Corruption(
          fmt::format("{}: '{}' is not 'progress_ms enqueue_offset [confirmed_cq]'", cp_path, cp));
    }
    progress_ms_ = numbers[0];
    enqueue_offset_ = numbers[1];
    confirmed_cq_ = numbers.size() == 3 ? numbers[2] : enqueue_offset_;
  } else if (options_.deliver) {
    progress_ms_ = FloorTo(clock_->NowMillis(), options_.precision_ms);
  } else {
    progress_ms_ = 0;  // a new slave knows of no delivery until a progress record says so
  }
  const bool have_checkpoint = std::filesystem::exists(cp_path);
  saved_progress_ms_ = progress_ms_;
  saved_enqueue_offset_ = enqueue_offset_;
  saved_confirmed_cq_ = confirmed_cq_;
  log_ = std::make_unique<TimerLog>(options_.dir + "/timerlog", options_.units_per_segment);
  // The store recovered before this start, so the timer queue's end is final. It is below what
  // the timer read when the log lost its tail since (a power cut under ASYNC_FLUSH, a corrupt
  // record cut): the records sent from now on take those queue offsets again, and their
  // commit log offsets too, so units of the lost records go and enqueue resumes at the end.
  const int64_t queue_end = store_->MaxOffsetInQueue(std::string(kTimerTopic), 0);
  if (enqueue_offset_ > queue_end) {
    MQ_LOG_WARN(Logger("broker"),
                "timer: the timer queue ends at {}, before the checkpoint's {}: the log lost "
                "its tail; resuming at its end",
                queue_end, enqueue_offset_);
    enqueue_offset_ = queue_end;
    confirmed_cq_ = std::min(confirmed_cq_, queue_end);  // the lost offsets are taken again
  }
  int64_t next_cq = enqueue_offset_;
  int64_t after_last_unit = 0;
  std::map<int64_t, Slot> below_progress;
  MQ_RETURN_IF_ERROR(log_->Open(
      [&](int64_t pos, const TimerUnit& u) {
        next_cq = std::max(next_cq, u.cq_offset + 1);
        after_last_unit = u.cq_offset + 1;
        // Without a checkpoint (a crash before the first one) nothing is known to be delivered.
        if (u.slot_ms >= progress_ms_ || !have_checkpoint) {
          AddUnit(pos, u);
        } else {
          AddToSlot(below_progress[u.slot_ms], pos, u);
        }
      },
      // Units follow their records' queue order: the first past the end starts the lost ones.
      [queue_end](const TimerUnit& u) { return u.cq_offset < queue_end; }));
  // A slot under the progress holding a record not confirmed delivered (a slave's, whose master
  // had not read it) is delivered whole once promoted: at least once.
  for (const auto& [slot_ms, slot] : below_progress) {
    if (slot.max_cq_offset < confirmed_cq_) continue;
    wheel_[slot_ms] = slot;
    stat_pending_ += slot.count;
  }
  stat_slots_ = static_cast<int64_t>(wheel_.size());
  if (options_.deliver && !wheel_.empty()) progress_ms_ = std::min(progress_ms_, wheel_.begin()->first);
  // Units past the checkpoint are already in the wheel: resume after the newest one. Units the
  // log lost (a torn tail, or a corrupt unit below the checkpoint) are made again from their
  // records, read from after the last unit kept; what the checkpoint confirms delivered is
  // skipped (EnqueueRecord).
  enqueue_offset_ = log_->cut() ? after_last_unit : next_cq;
  const int64_t min_cq = store_->MinOffsetInQueue(std::string(kTimerTopic), 0);
  if (enqueue_offset_ < min_cq) {
    MQ_LOG_WARN(Logger("broker"), "timer: enqueue offset {} was cleaned; resuming at {}", enqueue_offset_,
                min_cq);
    enqueue_offset_ = min_cq;
  }
  stat_progress_ = progress_ms_;
  stat_enqueue_ = enqueue_offset_;
  MQ_LOG_INFO(Logger("broker"),
              "timer started dir={} deliver={} progress_ms={} enqueue_offset={} pending={} slots={} "
              "timer_log=[{}, {})",
              options_.dir, options_.deliver, progress_ms_, enqueue_offset_, stat_pending_.load(),
              wheel_.size(), log_->begin(), log_->end());
  started_ = true;
  thread_ = StartNamedThread("mq-timer", [this] { Loop(); });
  return Status::OK();
}

void TimerService::Shutdown() {
  if (!started_) return;
  started_ = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  std::deque<PendingRecall> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    left.swap(recalls_);
  }
  for (auto& r : left) r.done(Status::Unavailable("recall: the broker is shutting down"));
  if (Status s = SaveCheckpoint(); !s.ok())
    MQ_LOG_ERROR(Logger("broker"), "timer checkpoint: {}", s.ToString());
}

void TimerService::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = true;
  }
  cv_.notify_one();
}

TimerStats TimerService::Stats() const {
  TimerStats s;
  s.pending = stat_pending_.load();
  s.progress_ms = stat_progress_.load();
  s.enqueue_offset = stat_enqueue_.load();
  s.delivered = stat_delivered_.load();
  s.recalled = stat_recalled_.load();
  s.rolled = stat_rolled_.load();
  s.slots = stat_slots_.load();
  return s;
}

void TimerService::AddToSlot(Slot& slot, int64_t pos, const TimerUnit& u) {
  // Units are visited and appended in position order, so pos is the slot's newest unit.
  slot.last_pos = pos;
  ++slot.count;
  slot.max_cq_offset = std::max(slot.max_cq_offset, u.cq_offset);
}

void TimerService::AddUnit(int64_t pos, const TimerUnit& u) {
  AddToSlot(wheel_[u.slot_ms], pos, u);
  ++stat_pending_;
  stat_slots_ = static_cast<int64_t>(wheel_.size());
}

int64_t TimerService::DoneBeforeMs() const {
  return wheel_.empty() ? progress_ms_ : std::min(progress_ms_, wheel_.begin()->first);
}

void TimerService::Loop() {
  int64_t retry_at = 0;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (stop_) break;
      wake_ = false;
    }
    const int64_t now = clock_->NowMillis();
    if (store_->DispatchedPhyOffset() >= dispatch_mark_.end) {
      // Every record stored before the mark's time is in the timer queue (if it is a timer
      // record): the log end was read after that time, and the dispatch has passed it.
      dispatched_before_ms_ = dispatch_mark_.ms;
      dispatch_mark_ = {now, store_->MaxPhyOffset()};
    }
    ProcessRecalls(now);
    bool ok = true;
    bool held = false;  // a slot due by the clock waits for records not read yet
    if (now >= retry_at) {
      ok = EnqueueAvailable();
      // A slot is complete once every record stored before its end has been read (a record
      // parked for it was stored before its time). The enqueue has read every record stored
      // before the last one it read, and, having reached the queue's end after the dispatch
      // check, every one stored before dispatched_before_ms_.
      const int64_t complete_ms =
          std::min(now, enqueue_more_ ? read_until_ms_ : std::max(read_until_ms_, dispatched_before_ms_));
      held = complete_ms < now;
      if (ok && options_.deliver) ok = DequeueDue(complete_ms, now);
      if (ok && late_unconfirmed_) PutProgressRecord(now);  // so slaves let the late ones go
      if (!ok) retry_at = now + kRetryDelayMs;
    }
    if (now - last_save_ms_ >= kCheckpointEveryMs) {
      last_save_ms_ = now;
      if (Status s = SaveCheckpoint(); !s.ok())
        MQ_LOG_ERROR(Logger("broker"), "timer checkpoint: {}", s.ToString());
    }
    // Sleep until the oldest slot is due, a record arrives, a recall comes, or at most 100 ms
    // (the clock may be stepped; recalls waiting for the index re-check).
    int64_t wait_ms = 100;
    if (!ok) wait_ms = std::max<int64_t>(1, retry_at - clock_->NowMillis());
    if (ok && enqueue_more_) continue;
    if (ok && options_.deliver && !wheel_.empty()) {
      wait_ms = std::min(wait_ms, wheel_.begin()->first + options_.precision_ms - clock_->NowMillis());
      // The dispatch was behind: no wake-up says when it passes the mark.
      if (held) wait_ms = std::max<int64_t>(wait_ms, 1);
    }
    if (wait_ms <= 0) continue;
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(wait_ms), [this] { return stop_ || wake_; });
  }
}

bool TimerService::EnqueueAvailable() {
  const std::string topic(kTimerTopic);
  enqueue_more_ = true;
  for (int round = 0; round < 64; ++round) {  // bounded: dequeue must get its turn
    const int64_t max = store_->MaxOffsetInQueue(topic, 0);
    if (enqueue_offset_ > max) {
      // The queue was rebuilt shorter (crash before its tail was flushed): the records beyond
      // it are re-dispatched from the commit log at the same offsets.
      enqueue_more_ = false;
      return true;
    }
    if (enqueue_offset_ == max) {
      enqueue_more_ = false;
      return true;
    }
    auto got = store_->GetMessages("timer", topic, 0, enqueue_offset_, kEnqueueBatch, kEnqueueBatchBytes);
    if (got.status == store::GetMessageStatus::kOffsetTooSmall) {
      MQ_LOG_WARN(Logger("broker"), "timer: records from {} were cleaned; resuming at {}", enqueue_offset_,
                  got.next_begin_offset);
      enqueue_offset_ = got.next_begin_offset;
      continue;
    }
    if (got.messages.empty()) {
      if (got.next_begin_offset > enqueue_offset_) {
        enqueue_offset_ = got.next_begin_offset;
        continue;
      }
      enqueue_more_ = false;
      return true;
    }
    for (size_t i = 0; i < got.messages.size(); ++i) {
      auto view = store::DecodeRecord(got.messages[i], /*verify_crc=*/false);
      if (!view.ok()) {
        MQ_LOG_ERROR(Logger("broker"), "timer: undecodable record at queue offset {}: {}",
                     got.queue_offsets[i], view.status().ToString());
        enqueue_offset_ = got.queue_offsets[i] + 1;
        continue;
      }
      if (!EnqueueRecord(*view, got.queue_offsets[i])) return false;
      enqueue_offset_ = got.queue_offsets[i] + 1;
      read_until_ms_ = view->store_timestamp;
    }
    enqueue_offset_ = std::max(enqueue_offset_, got.next_begin_offset);
    stat_enqueue_ = enqueue_offset_;
  }
  return true;  // enqueue_more_ stays set: the loop comes back at once
}

bool TimerService::EnqueueRecord(const store::RecordView& record, int64_t cq_offset) {
  const int64_t out_ms = ParseI64Or(store::FindProperty(record.properties, kPropOutMs), -1);
  if (out_ms < 0) {
    MQ_LOG_WARN(Logger("broker"), "timer: record at commit log offset {} has no TIMER_OUT_MS; ignored",
                record.physical_offset);
    return true;
  }
  if (!store::FindProperty(record.properties, kPropProgress).empty()) {
    // The master delivered slots below out_ms. The master itself already knows.
    if (!options_.deliver) {
      FollowProgress(out_ms, ParseI64Or(store::FindProperty(record.properties, kPropProgressEnqueued), -1));
    }
    return true;
  }
  const bool marker = !store::FindProperty(record.properties, kPropDelUniqKey).empty();
  TimerUnit unit;
  unit.deliver_ms = out_ms;
  unit.slot_ms = SlotOf(out_ms, options_.precision_ms);
  unit.commit_log_offset = record.physical_offset;
  unit.size = record.total_size;
  unit.flags = marker ? TimerUnit::kFlagRecall : 0;
  unit.cq_offset = cq_offset;
  // Read again after the timer log lost units: delivered before the checkpoint.
  if (unit.slot_ms < progress_ms_ && cq_offset < confirmed_cq_) return true;
  if (options_.deliver && unit.slot_ms < progress_ms_) {
    // Its slot was already taken (it arrived late, e.g. parked just before its time):
    // deliver now — still not early, since its slot has fully passed. A late marker cancels
    // nothing; Recall refused it before it was written unless the broker crashed in between.
    // (A slave keeps a late record in its slot until a progress record covers it.)
    if (marker) return true;
    auto stored = store_->LookMessageByOffset(record.physical_offset);
    if (!stored.ok()) {
      MQ_LOG_ERROR(Logger("broker"), "timer: cannot read record {}: {}", record.physical_offset,
                   stored.status().ToString());
      return true;
    }
    auto restored = RestoreForDelivery(*stored, clock_->NowMillis());
    if (!restored.ok()) {
      MQ_LOG_ERROR(Logger("broker"), "timer: {}", restored.status().ToString());
      return true;
    }
    std::vector<store::MessageInput> one;
    one.push_back(std::move(*restored));
    if (!PutAll(std::move(one))) return false;
    ++stat_delivered_;
    late_unconfirmed_ = true;
    return true;
  }
  if (options_.deliver && unit.slot_ms >= progress_ms_ + roll_window_ms_) {
    // Beyond the window: wait in its last slot, then be parked again (a fresh record, so the
    // commit log's retention never removes a pending message).
    unit.slot_ms = progress_ms_ + roll_window_ms_ - options_.precision_ms;
    unit.flags |= TimerUnit::kFlagRoll;
  }
  if (!AppendUnit(unit)) return false;
  // A slave keeps every message in its real slot: its progress moves only with the master's
  // progress records, and a roll unit in place of the message would be erased by one before
  // the master's roll copy arrived. Beside it, where the master's roll falls by the record's
  // store time, it adds a roll unit: promoted before the master's copy came, it re-parks the
  // message itself before retention can delete the only record (while it is a slave, the
  // master's progress erases that unit once the master has rolled). The slot's delivery after
  // a promotion skips the copies.
  const int64_t roll_slot =
      FloorTo(record.store_timestamp, options_.precision_ms) + roll_window_ms_ - options_.precision_ms;
  if (!options_.deliver && unit.slot_ms > roll_slot) {
    unit.slot_ms = roll_slot;
    unit.flags |= TimerUnit::kFlagRoll;
    if (!AppendUnit(unit)) return false;
  }
  return true;
}

bool TimerService::AppendUnit(TimerUnit unit) {
  auto it = wheel_.find(unit.slot_ms);
  unit.prev_pos = it == wheel_.end() ? -1 : it->second.last_pos;
  auto pos = log_->Append(unit);
  if (!pos.ok()) {
    MQ_LOG_ERROR(Logger("broker"), "timer: {}", pos.status().ToString());
    return false;
  }
  AddUnit(*pos, unit);
  return true;
}

bool TimerService::DequeueDue(int64_t complete_ms, int64_t now_ms) {
  while (!wheel_.empty() && wheel_.begin()->first + options_.precision_ms <= complete_ms) {
    const int64_t slot_ms = wheel_.begin()->first;
    const Slot slot = wheel_.begin()->second;
    if (!ProcessSlot(slot_ms, slot, now_ms)) return false;
    wheel_.erase(wheel_.begin());
    stat_pending_ -= slot.count;
    stat_slots_ = static_cast<int64_t>(wheel_.size());
    recalled_.erase(recalled_.begin(), recalled_.upper_bound(slot_ms));
    progress_ms_ = slot_ms + options_.precision_ms;
    stat_progress_ = progress_ms_;
    PutProgressRecord(now_ms);
  }
  // Every slot below floor(complete_ms) is empty or done.
  const int64_t floor_now = FloorTo(complete_ms, options_.precision_ms);
  if (floor_now > progress_ms_ && (wheel_.empty() || wheel_.begin()->first >= floor_now)) {
    progress_ms_ = floor_now;
    stat_progress_ = progress_ms_;
  }
  if (log_->segment_count() > 1 && log_->DeleteDoneSegments(DoneBeforeMs()) > 0) {
    MQ_LOG_INFO(Logger("broker"), "timer: deleted delivered timer log segments; begin={}", log_->begin());
  }
  return true;
}

void TimerService::PutProgressRecord(int64_t now_ms) {
  // Tells slaves (through the replicated log) which deliveries happened. The late ones were
  // delivered as they were read, so the enqueue offset covers them too.
  put_(MakeProgressRecord(progress_ms_, enqueue_offset_, now_ms), [](const store::PutResult&) {});
  late_unconfirmed_ = false;
}

void TimerService::FollowProgress(int64_t progress_ms, int64_t enqueued) {
  if (enqueued >= 0) confirmed_cq_ = std::max(confirmed_cq_, enqueued);
  progress_ms_ = std::max(progress_ms_, progress_ms);
  for (auto it = wheel_.begin(); it != wheel_.end() && it->first < progress_ms;) {
    if (enqueued >= 0 && it->second.max_cq_offset >= confirmed_cq_) {
      ++it;  // the master had not read all of it: it delivers the rest late
      continue;
    }
    stat_pending_ -= it->second.count;
    it = wheel_.erase(it);
  }
  stat_slots_ = static_cast<int64_t>(wheel_.size());
  stat_progress_ = progress_ms_;
  log_->DeleteDoneSegments(DoneBeforeMs());
}

bool TimerService::ProcessSlot(int64_t slot_ms, const Slot& slot, int64_t now_ms) {
  std::vector<TimerUnit> units;
  units.reserve(static_cast<size_t>(std::min<int64_t>(slot.count, 1 << 20)));
  int64_t pos = slot.last_pos;
  for (int64_t i = 0; i < slot.count && pos >= 0; ++i) {
    auto unit = log_->Read(pos);
    if (!unit.ok()) {
      MQ_LOG_ERROR(Logger("broker"), "timer: slot {} chain broken at {}: {}", slot_ms, pos,
                   unit.status().ToString());
      break;
    }
    units.push_back(*unit);
    pos = unit->prev_pos;
  }
  std::sort(units.begin(), units.end(), [](const TimerUnit& a, const TimerUnit& b) {
    return a.deliver_ms != b.deliver_ms ? a.deliver_ms < b.deliver_ms : a.cq_offset < b.cq_offset;
  });
  std::set<std::string> deleted;
  if (auto it = recalled_.find(slot_ms); it != recalled_.end()) deleted = it->second;
  // The recall markers first (small records): a recalled message may come before its marker.
  for (const TimerUnit& u : units) {
    if (!(u.flags & TimerUnit::kFlagRecall)) continue;
    auto marker = ReadParked(u);
    if (!marker.ok()) {
      MQ_LOG_ERROR(Logger("broker"), "timer: cannot read recall marker {}: {}", u.commit_log_offset,
                   marker.status().ToString());
      continue;
    }
    deleted.insert(marker->Property(kPropDelUniqKey));
  }
  // Then the messages, read, restored and put a batch at a time. A slot that fails part-way is
  // retried whole: the batches already stored are delivered twice (at least once), none lost.
  std::vector<store::MessageInput> out;
  std::set<std::string> delivered_keys;  // a message and its roll copies share the slot
  int64_t out_bytes = 0;
  int64_t delivered = 0;
  int64_t out_delivered = 0;
  int64_t retention_deleted = 0;
  auto flush = [&] {
    if (!PutAll(std::move(out))) return false;
    out.clear();
    out_bytes = 0;
    delivered += std::exchange(out_delivered, 0);
    return true;
  };
  for (const TimerUnit& u : units) {
    // A marker beyond the window travels with its message's copies to their real slot: only
    // there does it cancel (and the in-memory recall does not outlive a restart).
    if ((u.flags & TimerUnit::kFlagRecall) && !(u.flags & TimerUnit::kFlagRoll)) continue;
    auto stored = ReadParked(u);
    if (!stored.ok()) {
      if (u.commit_log_offset < store_->MinPhyOffset()) {
        ++retention_deleted;
      } else {
        MQ_LOG_ERROR(Logger("broker"), "timer: cannot read parked record {}: {}", u.commit_log_offset,
                     stored.status().ToString());
      }
      continue;
    }
    if (u.flags & TimerUnit::kFlagRoll) {
      out.push_back(CopyParked(*stored));
      ++stat_rolled_;
    } else {
      const std::string key = stored->Property(store::kPropertyUniqKey);
      if (deleted.count(key) > 0) {
        ++stat_recalled_;
        continue;
      }
      // The same message again: a roll copy a slave kept beside the original.
      if (!key.empty() && !delivered_keys.insert(key).second) continue;
      auto restored = RestoreForDelivery(*stored, now_ms);
      if (!restored.ok()) {
        MQ_LOG_ERROR(Logger("broker"), "timer: {}", restored.status().ToString());
        continue;
      }
      out.push_back(std::move(*restored));
      ++out_delivered;
    }
    out_bytes += u.size;
    if (std::ssize(out) >= options_.delivery_batch_messages || out_bytes >= options_.delivery_batch_bytes) {
      if (!flush()) return false;
    }
  }
  if (!flush()) return false;
  stat_delivered_ += delivered;
  if (retention_deleted > 0) {
    // Expected after a promotion: a slave keeps a far message's original and roll copies in
    // its slot, and the newest copy, delivered here, outlives the older records.
    MQ_LOG_WARN(Logger("broker"),
                "timer: slot {}: {} parked records were deleted by retention (a promoted slave's "
                "older copies of messages delivered from their newest; otherwise lost)",
                slot_ms, retention_deleted);
  }
  return true;
}

Result<store::StoredMessage> TimerService::ReadParked(const TimerUnit& u) const {
  MQ_ASSIGN_OR_RETURN(store::StoredMessage stored, store_->LookMessageByOffset(u.commit_log_offset));
  if (stored.topic != kTimerTopic || stored.header.queue_offset != u.cq_offset) {
    return Status::NotFound(
        fmt::format("the record there is {} queue offset {}, not the timer record {} the unit "
                    "was made for (the log lost its tail since)",
                    stored.topic, stored.header.queue_offset, u.cq_offset));
  }
  return stored;
}

bool TimerService::PutAll(std::vector<store::MessageInput> messages) {
  if (messages.empty()) return true;
  struct Wait {
    std::mutex mu;
    std::condition_variable cv;
    size_t left = 0;
    std::string error;  // GUARDED_BY(mu)
  };
  auto wait = std::make_shared<Wait>();
  wait->left = messages.size();
  for (auto& m : messages) {
    put_(std::move(m), [wait](const store::PutResult& r) {
      std::lock_guard<std::mutex> lock(wait->mu);
      if (r.status != store::PutStatus::kOk && r.status != store::PutStatus::kFlushDiskTimeout &&
          r.status != store::PutStatus::kFlushSlaveTimeout &&
          r.status != store::PutStatus::kSlaveNotAvailable && wait->error.empty()) {
        wait->error = fmt::format("{}: {}", store::PutStatusName(r.status), r.error);
      }
      if (--wait->left == 0) wait->cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> lock(wait->mu);
  wait->cv.wait(lock, [&] { return wait->left == 0; });
  if (!wait->error.empty()) {
    // The slot is kept and retried: the messages already stored are delivered twice
    // (at least once), none is lost.
    MQ_LOG_ERROR(Logger("broker"), "timer: delivery refused by the store ({}); retrying in {} ms",
                 wait->error, kRetryDelayMs);
    return false;
  }
  return true;
}

Status TimerService::SaveCheckpoint() {
  // A master delivers all it reads below its progress (the late ones at once).
  const int64_t confirmed = options_.deliver ? enqueue_offset_ : confirmed_cq_;
  if (progress_ms_ == saved_progress_ms_ && enqueue_offset_ == saved_enqueue_offset_ &&
      confirmed == saved_confirmed_cq_) {
    return Status::OK();
  }
  // The units up to enqueue_offset_ must be durable before the checkpoint says so.
  MQ_RETURN_IF_ERROR(log_->Sync());
  MQ_RETURN_IF_ERROR(WriteFileAtomically(
      options_.dir + "/checkpoint", fmt::format("{} {} {}\n", progress_ms_, enqueue_offset_, confirmed)));
  saved_progress_ms_ = progress_ms_;
  saved_enqueue_offset_ = enqueue_offset_;
  saved_confirmed_cq_ = confirmed;
  return Status::OK();
}

}  // namespace mq::broker::timer
