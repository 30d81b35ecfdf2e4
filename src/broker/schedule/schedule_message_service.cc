#include "broker/schedule/schedule_message_service.h"

#include <fmt/format.h>

#include <charconv>
#include <chrono>
#include <memory>

#include "common/logging.h"
#include "common/thread_name.h"

namespace mq::schedule {
namespace {

constexpr int32_t kBatch = 32;
constexpr int32_t kBatchBytes = 1024 * 1024;
// Messages one level delivers before the others get a turn.
constexpr int kMaxPerPass = 1024;
constexpr int64_t kRetryAfterFailureMs = 1000;
constexpr auto kPutTimeout = std::chrono::seconds(30);

}  // namespace

ScheduleMessageService::ScheduleMessageService(Options options, store::MessageStore* store,
                                               DelayOffsetTable* offsets, Clock* clock)
    : options_(std::move(options)), store_(store), offsets_(offsets), clock_(clock) {
  DelayLevels levels = options_.levels;
  store_->SetTagsCodeFunction(std::string(kScheduleTopic), [levels](const store::RecordView& view) {
    return DeliverTimestamp(levels, view);
  });
  store_->AddArrivalListener([this](const std::string& topic, int32_t, int64_t) {
    if (topic == kScheduleTopic) Wakeup();
  });
}

ScheduleMessageService::~ScheduleMessageService() { Shutdown(); }

void ScheduleMessageService::Start() {
  {
    std::lock_guard lock(mu_);
    stop_ = false;
  }
  levels_to_deliver_.clear();
  const std::string topic(kScheduleTopic);
  const int32_t max_level = options_.levels.max_level();
  for (int32_t level = 1; level <= store_->options().max_queue_nums_per_topic; ++level) {
    if (level <= max_level) {
      levels_to_deliver_.push_back(level);
      continue;
    }
    const int32_t queue_id = level - 1;
    const int64_t waiting = store_->MaxOffsetInQueue(topic, queue_id) -
                            std::max(offsets_->Get(level), store_->MinOffsetInQueue(topic, queue_id));
    if (waiting <= 0) continue;
    MQ_LOG_WARN(Logger("broker"),
                "schedule level={} is not in messageDelayLevel ({} levels) any more; its {} waiting "
                "messages go out at the longest delay's time",
                level, max_level, waiting);
    levels_to_deliver_.push_back(level);
  }
  // The clock is read here, not on the new thread: a pass right after Start() then finds the
  // persist interval counted from the start.
  thread_ = StartNamedThread("mq-schedule", [this, started_ms = clock_->NowMillis()] { Loop(started_ms); });
  MQ_LOG_INFO(Logger("broker"), "schedule service started levels={}", options_.levels.max_level());
}

void ScheduleMessageService::Shutdown() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
    PersistOffsets(/*force=*/true);
  }
}

void ScheduleMessageService::Wakeup() {
  std::lock_guard lock(mu_);
  wake_ = true;
  cv_.notify_one();
}

void ScheduleMessageService::PersistOffsets(bool force) {
  const int64_t log_end = store_->MaxPhyOffset();  // before the offsets: they pass no later record
  auto version = durable_.Offer(offsets_->Take(), log_end, store_->FlushedPhyOffset(), force);
  if (!version) return;
  if (Status s = offsets_->Persist(*version); !s.ok()) {
    MQ_LOG_ERROR(Logger("broker"), "persist {}: {}", offsets_->file_path(), s.ToString());
  }
}

void ScheduleMessageService::Loop(int64_t started_ms) {
  int64_t last_persist = started_ms;
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
      wake_ = false;
    }
    int64_t now = clock_->NowMillis();
    int64_t next = now + options_.persist_interval_ms;
    for (const int32_t level : levels_to_deliver_) next = std::min(next, DeliverLevel(level, now));
    now = clock_->NowMillis();
    if (now - last_persist >= options_.persist_interval_ms) {
      PersistOffsets(/*force=*/false);
      last_persist = now;
      next = std::min(next, now + options_.persist_interval_ms);
    }
    std::unique_lock lock(mu_);
    const int64_t wait_ms = std::max<int64_t>(0, next - clock_->NowMillis());
    cv_.wait_for(lock, std::chrono::milliseconds(wait_ms), [this] { return stop_ || wake_; });
  }
}

int64_t ScheduleMessageService::DeliverLevel(int32_t level, int64_t now) {
  const std::string topic(kScheduleTopic);
  const int32_t queue_id = level - 1;
  int64_t offset = std::max(offsets_->Get(level), store_->MinOffsetInQueue(topic, queue_id));
  if (const int64_t end = store_->MaxOffsetInQueue(topic, queue_id); offset > end) {
    // A promoted slave's offset (its master's), or one from before the log lost its tail: the
    // records past the end are not here. Resume at the end, never at the start (RocketMQ's
    // correctDelayOffset), where the store's overflow answer would send us while it is 0.
    MQ_LOG_WARN(Logger("broker"), "schedule level={}: offset {} is past the queue's end {}; resuming there",
                level, offset, end);
    offset = end;
  }
  const int64_t delay_ms = options_.levels.DelayMillis(options_.levels.Clamp(level));
  int delivered = 0;
  int64_t next = INT64_MAX;  // nothing pending: the arrival listener wakes us
  while (delivered < kMaxPerPass) {
    auto got = store_->GetMessages("SCHEDULE", topic, queue_id, offset, kBatch, kBatchBytes);
    if (got.status != store::GetMessageStatus::kFound) {
      // Cleaned past our position, or the queue restarted below it: continue where it has data.
      if (got.status == store::GetMessageStatus::kOffsetTooSmall ||
          got.status == store::GetMessageStatus::kOffsetOverflowBadly) {
        offset = got.next_begin_offset;
      } else if (got.next_begin_offset > offset && offset < got.max_offset) {
        // A window of holes or unreadable units (skipped and logged by the store), or a missing
        // queue segment: step past it as pulls do, never past the queue's end.
        offset = std::min(got.next_begin_offset, got.max_offset);
        continue;
      }
      break;
    }
    bool stop = false;
    for (size_t i = 0; i < got.messages.size(); ++i) {
      const std::string& raw = got.messages[i];
      auto view = store::DecodeRecord(raw, /*verify_crc=*/false);
      if (!view.ok()) {
        MQ_LOG_ERROR(Logger("broker"), "schedule level={} offset={}: undecodable record, skipped: {}", level,
                     got.queue_offsets[i], view.status().ToString());
        offset = got.queue_offsets[i] + 1;
        continue;
      }
      int64_t due = DeliverTimestamp(options_.levels, *view);
      // Due later than a message stored now would be: the clock was stepped back. Deliver it
      // now rather than hold the level for the step (RocketMQ's correctDeliverTimestamp).
      if (due > now + delay_ms) due = now;
      if (due > now) {
        next = due;
        stop = true;
        break;
      }
      if (Status s = Redeliver(*view, raw); !s.ok()) {
        MQ_LOG_WARN(Logger("broker"), "schedule level={} offset={}: redelivery failed, retrying: {}", level,
                    got.queue_offsets[i], s.ToString());
        next = now + kRetryAfterFailureMs;
        stop = true;
        break;
      }
      offset = got.queue_offsets[i] + 1;
      ++delivered;
    }
    if (stop) break;
    offset = std::max(offset, got.next_begin_offset);
  }
  if (delivered >= kMaxPerPass) next = now;  // more may be due: come back at once
  offsets_->Set(level, offset);
  return next;
}

Status ScheduleMessageService::Redeliver(const store::RecordView& view, std::string_view raw) {
  store::StoredMessage stored = store::ToStoredMessage(view, raw);
  store::MessageInput in;
  auto real_topic = stored.properties.find(std::string(kPropertyRealTopic));
  auto real_qid = stored.properties.find(std::string(kPropertyRealQueueId));
  int32_t queue_id = -1;
  if (real_qid != stored.properties.end()) {
    const std::string& v = real_qid->second;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), queue_id);
    if (ec != std::errc() || ptr != v.data() + v.size()) queue_id = -1;
  }
  if (real_topic == stored.properties.end() || real_topic->second.empty() || queue_id < 0) {
    // Nothing to deliver to: a record RocketMQ would drop as well. Logged, and skipped.
    MQ_LOG_ERROR(Logger("broker"), "schedule: record at {} lacks REAL_TOPIC/REAL_QID, dropped",
                 view.physical_offset);
    return Status::OK();
  }
  in.topic = real_topic->second;
  in.queue_id = queue_id;
  in.flag = view.flag;
  in.body = std::move(stored.body);
  in.properties = std::move(stored.properties);
  in.properties.erase(std::string(kPropertyDelay));
  in.sys_flag = view.sys_flag;
  in.born_timestamp = view.born_timestamp;
  in.born_host = view.born_host;
  in.reconsume_times = view.reconsume_times;
  in.prepared_transaction_offset = view.prepared_transaction_offset;

  // A copy of `in` goes: it is needed again if the copy is too large.
  store::PutResult r = store::PutAndWait(*store_, in, kPutTimeout);
  if (r.status == store::PutStatus::kMessageIllegal) {
    // Too large now: the real topic's name is longer than the schedule topic's, and the record
    // was stored close to maxMessageSize. Without REAL_TOPIC and REAL_QID (bookkeeping the
    // consumer does not need) the copy is smaller than the stored record, so it fits; refused
    // for good, it would hold every later message of its level back.
    MQ_LOG_WARN(Logger("broker"),
                "schedule: the copy of record {} was refused ({}); delivering it without {} and {}",
                view.physical_offset, r.error, kPropertyRealTopic, kPropertyRealQueueId);
    in.properties.erase(std::string(kPropertyRealTopic));
    in.properties.erase(std::string(kPropertyRealQueueId));
    r = store::PutAndWait(*store_, std::move(in), kPutTimeout);
  }
  // A put that is appended but not yet durable (FLUSH_DISK_TIMEOUT) still counts: the record
  // is in the log, and a repeat would only duplicate it.
  if (r.status == store::PutStatus::kOk || r.status == store::PutStatus::kFlushDiskTimeout)
    return Status::OK();
  return Status::Unavailable(fmt::format("{}: {}", store::PutStatusName(r.status), r.error));
}

}  // namespace mq::schedule
