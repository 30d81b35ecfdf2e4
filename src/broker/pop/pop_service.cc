#include "broker/pop/pop_service.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <set>
#include <thread>

#include "broker/filter/sql_filter_cache.h"
#include "broker/longpolling/wait_registry.h"
#include "broker/meta/consumer_offset_manager.h"
#include "broker/meta/json_file.h"
#include "broker/meta/subscription_group_manager.h"
#include "broker/meta/topic_config_manager.h"
#include "broker/processor/send_back_processor.h"
#include "broker/store/message_store.h"
#include "common/logging.h"
#include "common/naming.h"
#include "common/perm.h"
#include "common/tag_expression.h"

namespace mq::broker::pop {
namespace {

// Bytes of messages one pop reads at most (each is sent in its own response frame).
constexpr int32_t kMaxPopBytes = 8 << 20;
// Windows of non-matching messages one pop skips before answering (as the pull path).
constexpr int kMaxFilteredWindows = 4;
// A delivery being forwarded to the DLQ stays invisible this long (retried after if the
// forward failed).
constexpr int64_t kDlqRetryMs = 10000;
// NotifyClientTermination: the client's auto-renewed messages are visible again this soon.
constexpr int64_t kGoneVisibleMs = 1000;

}  // namespace

std::string PopWaitKey(const std::string& topic) { return "pop:" + topic; }

struct PopService::PopCall {
  PopRequest req;
  SubscriptionFilter filter;
  std::vector<std::string> tags;  // empty: every tag (TAG filters only)
  bool fifo = false;
  int32_t max_attempts = 17;
  int32_t read_queues = 0;
  int64_t invisible_ms = 0;
  PopCallback done;
};

PopService::PopService(PopOptions options, BrokerContext ctx, SendBackProcessor* send_back,
                       IoExecutor* executor, Clock* clock)
    : options_(std::move(options)), ctx_(ctx), send_back_(send_back), executor_(executor), clock_(clock) {}

PopService::~PopService() { Shutdown(); }

Status PopService::Start() {
  mq::v1::PopStateSnapshot snapshot;
  auto loaded = LoadJsonFile(options_.state_path, &snapshot);
  if (!loaded.ok()) return loaded.status();
  // Replay reads the journal through its consume queue: let the dispatcher catch up with the
  // recovered log first (bounded; it normally is already).
  const int64_t wait_until = MonotonicMillis() + 10000;
  while (ctx_.store->DispatchedPhyOffset() < ctx_.store->MaxPhyOffset() && MonotonicMillis() < wait_until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    table_.FromProto(snapshot);
    epoch_ = std::max(snapshot.max_epoch(), clock_->NowMillis() * 1000);
  }
  MQ_RETURN_IF_ERROR(Replay(snapshot.journal_offset(), snapshot.max_epoch()));
  started_ = true;
  if (options_.run_timers) {
    using std::chrono::milliseconds;
    timers_.push_back(executor_->ScheduleEvery(milliseconds(options_.revive_interval_ms),
                                               milliseconds(options_.revive_interval_ms),
                                               [this] { RunMaintenanceOnce(); }));
    timers_.push_back(executor_->ScheduleEvery(
        milliseconds(options_.snapshot_interval_ms), milliseconds(options_.snapshot_interval_ms), [this] {
          if (Status s = Snapshot(); !s.ok()) {
            MQ_LOG_ERROR(Logger("broker"), "pop snapshot: {}", s.ToString());
          }
        }));
  }
  return Status::OK();
}

void PopService::Shutdown() {
  if (!started_.exchange(false)) return;
  for (auto id : timers_) executor_->Cancel(id);
  timers_.clear();
  {
    // Journal puts complete on the store's threads; the store is still running.
    std::unique_lock<std::mutex> lock(mu_);
    idle_cv_.wait_for(lock, std::chrono::seconds(5), [this] { return pending_puts_ == 0; });
  }
  if (Status s = Snapshot(); !s.ok()) MQ_LOG_ERROR(Logger("broker"), "pop snapshot: {}", s.ToString());
}

void PopService::Pop(PopRequest req, PopCallback done) {
  auto fail = [&](Status s) { done(s, {}); };
  if (!started_)
    return fail(Status::Unavailable("pop: the broker is not serving pops (starting or stopping)"));
  if (Status s = ValidateName("consumer_group", req.group); !s.ok()) return fail(s);
  if (Status s = ValidateName("topic", req.topic); !s.ok()) return fail(s);
  if (req.max_messages < 1 || req.max_messages > kMaxPopMessages) {
    return fail(Status::InvalidArgument(
        fmt::format("max_messages: {} is outside [1, {}]", req.max_messages, kMaxPopMessages)));
  }
  if (!req.auto_renew && req.invisible_ms < 0) {
    return fail(
        Status::InvalidArgument(fmt::format("invisible_duration: {} ms is negative", req.invisible_ms)));
  }
  if (Status slave = RefusedOnASlave(); !slave.ok()) return fail(slave);
  const BrokerConfig& config = *ctx_.config;
  if (!IsReadable(ctx_.runtime->broker_permission.load())) {
    return fail(
        Status::PermissionDenied(fmt::format("broker: brokerPermission {} of {} forbids reads",
                                             ctx_.runtime->broker_permission.load(), config.brokerName)));
  }
  auto topic = ctx_.topics->Get(req.topic);
  if (!topic) {
    return fail(Status::NotFound(
        fmt::format("topic: '{}' does not exist on broker {}", req.topic, config.brokerName)));
  }
  if (!IsReadable(topic->perm())) {
    return fail(Status::PermissionDenied(
        fmt::format("topic: '{}' has perm {} and refuses reads", req.topic, topic->perm())));
  }
  if (req.queue_id < -1 || req.queue_id >= topic->read_queue_nums()) {
    return fail(Status::InvalidArgument(fmt::format("queue_id: {} is out of range [-1, {}) of topic '{}'",
                                                    req.queue_id, topic->read_queue_nums(), req.topic)));
  }
  if (topic->read_queue_nums() <= 0) return done(Status::OK(), {});
  auto group = ctx_.groups->FindOrAutoCreate(req.group);
  if (!group.ok()) return fail(group.status());
  if (!group->consume_enable()) {
    return fail(Status::PermissionDenied(
        fmt::format("consumer_group: consumption of group '{}' is disabled", req.group)));
  }
  auto filter = MakeSubscriptionFilter(req.filter_type, req.filter_expression, config.enablePropertyFilter,
                                       ctx_.sql_filters, config.brokerName);
  if (!filter.ok()) {
    return fail(Status(filter.status().code(), "filter_expression: " + filter.status().message()));
  }
  auto call = std::make_shared<PopCall>();
  if (req.filter_type.empty() || req.filter_type == "TAG") {
    auto tags = ParseTagExpression(req.filter_expression);
    if (tags.ok()) call->tags = std::move(*tags);
  }
  call->filter = std::move(*filter);
  call->fifo = group->consume_message_orderly();
  call->max_attempts = group->retry_max_times() + 1;
  call->read_queues = topic->read_queue_nums();
  call->invisible_ms = req.auto_renew ? options_.default_invisible_ms : req.invisible_ms;
  call->done = std::move(done);
  call->req = std::move(req);
  if (!call->req.client_id.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    clients_[call->req.client_id] = clock_->NowMillis();
  }

  if (TryPop(*call)) return;
  if (call->req.poll_ms <= 0) return call->done(Status::OK(), {});
  const std::string topic_name = call->req.topic;
  {
    std::lock_guard<std::mutex> lock(mu_);
    size_t& parked = parked_[topic_name];
    if (parked_total_ >= options_.max_pop_polling_size || parked >= options_.pop_polling_size) {
      if (parked == 0) parked_.erase(topic_name);
      const size_t total = parked_total_;
      return call->done(
          Status::ResourceExhausted(fmt::format(
              "pop: too many parked pops (popPollingSize={} per topic, maxPopPollingSize={}, parked={})",
              options_.pop_polling_size, options_.max_pop_polling_size, total)),
          {});
    }
    ++parked;
    ++parked_total_;
  }
  Status parked = ctx_.waits->Park(PopWaitKey(topic_name), std::chrono::milliseconds(call->req.poll_ms),
                                   [this, call, topic_name](bool timed_out) {
                                     if (TryPop(*call)) {
                                       ReleaseParked(topic_name);
                                       return true;
                                     }
                                     if (!timed_out) return false;
                                     ReleaseParked(topic_name);
                                     call->done(Status::OK(), {});
                                     return true;
                                   });
  if (!parked.ok()) {
    ReleaseParked(topic_name);
    call->done(parked, {});
  }
}

void PopService::ReleaseParked(const std::string& topic) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = parked_.find(topic);
  if (it != parked_.end() && --it->second == 0) parked_.erase(it);
  if (parked_total_ > 0) --parked_total_;
}

bool PopService::TryPop(PopCall& call) {
  if (call.req.cancelled && call.req.cancelled->load()) {
    call.done(Status::OK(), {});
    return true;
  }
  Batch batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t now = clock_->NowMillis();
    if (call.req.queue_id >= 0) {
      PopQueueLocked(call, call.req.queue_id, now, &batch);
    } else {
      const int32_t n = call.read_queues;
      const int32_t start = std::uniform_int_distribution<int32_t>(0, n - 1)(rng_);
      for (int32_t i = 0; i < n && batch.messages.size() < static_cast<size_t>(call.req.max_messages); ++i) {
        PopQueueLocked(call, (start + i) % n, now, &batch);
      }
    }
    if (!batch.journal.empty()) ++pending_puts_;
    CommitLowWatersLocked(batch.touched);
  }
  RunDlqJobs(std::move(batch.dlq));
  if (batch.messages.empty()) {
    if (!batch.journal.empty()) Journal(std::move(batch.journal), [](bool) {});
    return false;
  }
  ctx_.stats->got_messages += static_cast<int64_t>(batch.messages.size());
  auto messages = std::make_shared<std::vector<PoppedMessage>>(std::move(batch.messages));
  // The deliveries are answered once their record is stored (a failed put still answers: the
  // messages were handed out and come back after their invisible time, or from the queue
  // after a crash).
  Journal(std::move(batch.journal),
          [done = call.done, messages](bool) { done(Status::OK(), std::move(*messages)); });
  return true;
}

void PopService::PopQueueLocked(PopCall& call, int32_t queue_id, int64_t now, Batch* batch) {
  const QueueKey key{call.req.group, call.req.topic, queue_id};
  QueueState& qs = table_.Get(key);
  // mqadmin resetOffsetByTime: the group pops from the reset offset on, and what it has in
  // flight is over (RocketMQ's pop honours resets the same way).
  if (auto reset = ctx_.offsets->TakePendingReset(key.group, key.topic, queue_id)) {
    MQ_LOG_INFO(Logger("broker"), "pop {}@{} queue={}: offset reset from {} to {}", key.topic, key.group,
                queue_id, qs.next_offset, *reset);
    table_.ApplyReset(key, *reset);
    batch->journal.push_back(MakeJournalEntry(JournalType::kReset, key, *reset, 0));
    batch->touched.push_back(key);
  }
  const int64_t min = ctx_.store->MinOffsetInQueue(key.topic, queue_id);
  if (qs.next_offset < 0 || qs.next_offset < min) {
    int64_t start = min;
    if (qs.next_offset < 0) {
      // A queue this group never popped: the committed offset (a former pull consumer of the
      // group, mqadmin resetOffset) or the first stored message.
      auto committed = ctx_.offsets->Query(key.group, key.topic, queue_id);
      if (committed) start = std::max(*committed, min);
    }
    table_.ApplyAdvance(key, start);
    batch->journal.push_back(MakeJournalEntry(JournalType::kAdvance, key, qs.next_offset, 0));
    batch->touched.push_back(key);
  }
  const auto max = static_cast<size_t>(call.req.max_messages);
  auto room = [&] { return max - std::min(max, batch->messages.size()); };
  if (room() == 0) return;

  if (call.fifo) {
    bool busy = false;
    for (const auto& [offset, e] : qs.entries) busy = busy || (!e.acked && e.deadline_ms > now);
    if (busy) {
      // The client lost the answer to its last pop and retries it: hand the batch out again.
      if (call.req.attempt_id.empty() || call.req.attempt_id != qs.fifo_attempt_id) return;
      std::vector<std::pair<int64_t, InFlight>> again;
      for (const auto& [offset, e] : qs.entries) {
        if (!e.acked) again.emplace_back(offset, e);
      }
      for (const auto& [offset, e] : again) {
        if (room() == 0) break;
        auto message = LookDelivery(key, offset, e.commit_log_offset);
        if (!message.ok()) continue;
        DeliverLocked(call, key, offset, std::move(*message), e.attempt, e.first_pop_ms, now, batch);
      }
      return;
    }
  }

  // Deliveries whose invisible time passed come back first, in queue order.
  std::vector<int64_t> expired;
  for (const auto& [offset, e] : qs.entries) {
    if (!e.acked && e.deadline_ms <= now) expired.push_back(offset);
  }
  for (int64_t offset : expired) {
    if (room() == 0) break;
    auto it = qs.entries.find(offset);
    if (it == qs.entries.end()) continue;
    if (!RedeliverLocked(call, key, offset, it->second, now, batch) && call.fifo) return;
  }
  if (call.fifo) qs.fifo_attempt_id = call.req.attempt_id;

  int64_t next = qs.next_offset;
  for (int window = 0; window < kMaxFilteredWindows && room() > 0; ++window) {
    auto r = ctx_.store->GetMessages(key.group, key.topic, queue_id, next, static_cast<int32_t>(room()),
                                     kMaxPopBytes, call.filter.tags, call.filter.properties);
    using GS = store::GetMessageStatus;
    if (r.status == GS::kFound) {
      for (size_t i = 0; i < r.messages.size(); ++i) {
        auto view = store::DecodeRecord(r.messages[i], /*verify_crc=*/false);
        if (!view.ok()) continue;
        store::StoredMessage message = store::ToStoredMessage(*view, r.messages[i]);
        if (!Matches(call, message)) continue;  // a tag hash collision: consumed, not delivered
        DeliverLocked(call, key, r.queue_offsets[i], std::move(message), 1, now, now, batch);
      }
      next = r.next_begin_offset;
      break;
    }
    if (r.status == GS::kNoMatchedMessage || r.status == GS::kOffsetTooSmall) {
      if (r.next_begin_offset <= next) break;
      next = r.next_begin_offset;
      if (next >= r.max_offset) break;
      continue;
    }
    break;
  }
  if (next > qs.next_offset) {
    table_.ApplyAdvance(key, next);
    batch->journal.push_back(MakeJournalEntry(JournalType::kAdvance, key, next, 0));
    batch->touched.push_back(key);
  }
}

Result<store::StoredMessage> PopService::LookDelivery(const QueueKey& key, int64_t offset,
                                                      int64_t commit_log_offset) const {
  auto message = ctx_.store->LookMessageByOffset(commit_log_offset);
  if (!message.ok()) return message.status();
  if (message->topic != key.topic || message->header.queue_id != key.queue_id ||
      message->header.queue_offset != offset) {
    return Status::NotFound(
        fmt::format("commit log offset {} holds {}-{} offset {}, not the delivered {}-{} offset {}",
                    commit_log_offset, message->topic, message->header.queue_id, message->header.queue_offset,
                    key.topic, key.queue_id, offset));
  }
  return message;
}

bool PopService::RedeliverLocked(PopCall& call, const QueueKey& key, int64_t offset, InFlight& entry,
                                 int64_t now, Batch* batch) {
  const int64_t epoch = entry.epoch;
  if (entry.attempt >= call.max_attempts) {
    batch->dlq.push_back(DlqJob{key, offset, epoch, entry.commit_log_offset});
    entry.deadline_ms = now + kDlqRetryMs;
    return false;
  }
  auto message = LookDelivery(key, offset, entry.commit_log_offset);
  if (!message.ok()) {
    MQ_LOG_WARN(Logger("broker"), "pop: dropping in-flight {}@{} queue={} offset={}: {}", key.topic,
                key.group, key.queue_id, offset, message.status().ToString());
    AckAwayLocked(key, offset, epoch, batch);
    return true;
  }
  if (!Matches(call, *message)) {  // the group's subscription changed meanwhile
    AckAwayLocked(key, offset, epoch, batch);
    return true;
  }
  DeliverLocked(call, key, offset, std::move(*message), entry.attempt + 1, entry.first_pop_ms, now, batch);
  return true;
}

void PopService::DeliverLocked(PopCall& call, const QueueKey& key, int64_t offset,
                               store::StoredMessage message, int32_t attempt, int64_t first_pop_ms,
                               int64_t now, Batch* batch) {
  InFlight d;
  d.epoch = NextEpochLocked(now);
  d.deadline_ms = now + call.invisible_ms;
  d.commit_log_offset = message.header.physical_offset;
  d.first_pop_ms = first_pop_ms;
  d.attempt = attempt;
  d.auto_renew = call.req.auto_renew;
  d.client_id = call.req.auto_renew ? call.req.client_id : std::string();
  if (!table_.ApplyPop(key, offset, d, std::numeric_limits<int64_t>::max())) return;
  table_.ApplyAdvance(key, offset + 1);
  JournalEntry e = MakeJournalEntry(JournalType::kPop, key, offset, d.epoch);
  e.deadline_ms = d.deadline_ms;
  e.attempt = d.attempt;
  e.commit_log_offset = d.commit_log_offset;
  e.first_pop_ms = d.first_pop_ms;
  e.auto_renew = d.auto_renew;
  e.client_id = d.client_id;
  batch->journal.push_back(std::move(e));
  batch->touched.push_back(key);

  ReceiptHandle h;
  h.broker_name = ctx_.config->brokerName;
  h.topic = key.topic;
  h.queue_id = key.queue_id;
  h.queue_offset = offset;
  h.epoch = d.epoch;
  h.pop_time_ms = now;
  h.deadline_ms = d.deadline_ms;
  h.commit_log_offset = d.commit_log_offset;
  PoppedMessage m;
  m.message = std::move(message);
  m.queue_id = key.queue_id;
  m.queue_offset = offset;
  m.commit_log_offset = d.commit_log_offset;
  m.receipt_handle = h.Encode();
  m.delivery_attempt = attempt;
  m.invisible_ms = call.invisible_ms;
  batch->messages.push_back(std::move(m));
}

void PopService::AckAwayLocked(const QueueKey& key, int64_t offset, int64_t epoch, Batch* batch) {
  if (!table_.ApplyAck(key, offset, epoch)) return;
  batch->journal.push_back(MakeJournalEntry(JournalType::kAck, key, offset, epoch));
  batch->touched.push_back(key);
}

bool PopService::Matches(const PopCall& call, const store::StoredMessage& message) const {
  if (!call.tags.empty()) {
    const std::string tag = message.Property(store::kPropertyTags);
    if (std::find(call.tags.begin(), call.tags.end(), tag) == call.tags.end()) return false;
  }
  if (call.filter.properties) {
    auto view = store::DecodeRecord(message.raw, /*verify_crc=*/false);
    if (!view.ok() || !call.filter.properties(view->properties)) return false;
  }
  return true;
}

int64_t PopService::NextEpochLocked(int64_t now) {
  epoch_ = std::max(epoch_ + 1, now * 1000);
  return epoch_;
}

void PopService::CommitLowWatersLocked(const std::vector<QueueKey>& keys) {
  for (const auto& key : std::set<QueueKey>(keys.begin(), keys.end())) {
    const int64_t low = table_.LowWater(key);
    if (low >= 0) ctx_.offsets->Commit(key.group, key.topic, key.queue_id, low);
  }
}

void PopService::Journal(std::vector<JournalEntry> entries, std::function<void(bool)> done) {
  store::MessageInput in;
  in.topic = options_.journal_topic;
  in.queue_id = 0;
  in.body = EncodeJournal(entries);
  in.born_timestamp = clock_->NowMillis();
  in.properties[std::string(store::kPropertyTags)] = "pop";
  ctx_.store->PutMessage(std::move(in), [this, done = std::move(done)](const store::PutResult& r) {
    const bool ok = r.ok() || r.status == store::PutStatus::kFlushDiskTimeout;
    if (!ok)
      MQ_LOG_ERROR(Logger("broker"), "pop journal: put failed: {} {}", store::PutStatusName(r.status),
                   r.error);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (ok) journal_next_ = std::max(journal_next_, r.queue_offset + 1);
      if (--pending_puts_ == 0) idle_cv_.notify_all();
    }
    done(ok);
  });
}

void PopService::ForgetTopic(const std::string& topic, StatusCallback done) {
  std::vector<JournalEntry> resets;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [key, q] : table_.queues()) {
      if (key.topic != topic || (q.next_offset <= 0 && q.entries.empty())) continue;
      table_.ApplyReset(key, 0);
      resets.push_back(MakeJournalEntry(JournalType::kReset, key, 0, 0));
    }
    if (!resets.empty()) ++pending_puts_;
  }
  if (resets.empty()) return done(Status::OK());
  MQ_LOG_INFO(Logger("broker"), "pop: topic {} deleted, {} queue positions back to 0", topic, resets.size());
  Journal(std::move(resets), [topic, done = std::move(done)](bool stored) {
    done(stored ? Status::OK()
                : Status::Unavailable(fmt::format(
                      "topic: the pop positions of deleted topic {} were reset but not stored", topic)));
  });
}

void PopService::OnClientAlive(const std::string& client_id, const std::string& /*group*/) {
  std::lock_guard<std::mutex> lock(mu_);
  clients_[client_id] = clock_->NowMillis();
}

Status PopService::RefusedOnASlave() const {
  // A slave's commit log takes replicated bytes only: a journal record of its own would exist
  // nowhere on the master, and the master would refuse to replicate to it again.
  const BrokerConfig& config = *ctx_.config;
  if (!IsSlave(config)) return Status::OK();
  return Status::PermissionDenied(fmt::format(
      "broker: {} (brokerId {}) is a SLAVE; pop consumption (pops, acks, invisible-time changes) is "
      "served by the master",
      config.brokerName, config.brokerId));
}

void PopService::OnClientGone(const std::string& client_id, const std::string& group) {
  if (!RefusedOnASlave().ok()) return;
  std::vector<JournalEntry> renews;
  std::set<std::string> topics;
  {
    std::lock_guard<std::mutex> lock(mu_);
    clients_.erase(client_id);
    const int64_t visible_at = clock_->NowMillis() + kGoneVisibleMs;
    for (auto& [key, q] : table_.queues()) {
      if (key.group != group) continue;
      for (auto& [offset, e] : q.entries) {
        if (e.acked || !e.auto_renew || e.client_id != client_id || e.deadline_ms <= visible_at) continue;
        e.deadline_ms = visible_at;
        JournalEntry r = MakeJournalEntry(JournalType::kRenew, key, offset, e.epoch);
        r.deadline_ms = visible_at;
        renews.push_back(std::move(r));
        topics.insert(key.topic);
      }
    }
    if (!renews.empty()) ++pending_puts_;
  }
  if (renews.empty()) return;
  Journal(std::move(renews), [](bool) {});
  for (const auto& topic : topics) {
    executor_->ScheduleAfter(std::chrono::milliseconds(kGoneVisibleMs + 1),
                             [waits = ctx_.waits, topic] { waits->Notify(PopWaitKey(topic)); });
  }
}

void PopService::RunMaintenanceOnce() {
  if (!RefusedOnASlave().ok()) return;  // the master redelivers; a slave only replays
  std::vector<JournalEntry> renews;
  std::set<std::string> wake;
  std::vector<DlqJob> dlq;
  std::map<std::string, int32_t> max_attempts;  // per group, looked up once per pass
  auto max_attempts_of = [&](const std::string& group) {
    auto [it, added] = max_attempts.try_emplace(group, 0);
    if (added) {
      auto config = ctx_.groups->Get(group);
      it->second = config ? config->retry_max_times() + 1 : 0;
    }
    return it->second;
  };
  {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t now = clock_->NowMillis();
    for (auto it = clients_.begin(); it != clients_.end();) {
      it = now - it->second > options_.client_idle_ms ? clients_.erase(it) : std::next(it);
    }
    for (auto& [key, q] : table_.queues()) {
      for (auto& [offset, e] : q.entries) {
        if (e.acked) continue;
        if (e.auto_renew && e.deadline_ms > now && e.deadline_ms - now < options_.renew_ahead_ms &&
            now - e.first_pop_ms < options_.renew_max_ms && clients_.count(e.client_id) > 0) {
          e.deadline_ms = now + options_.default_invisible_ms;
          JournalEntry r = MakeJournalEntry(JournalType::kRenew, key, offset, e.epoch);
          r.deadline_ms = e.deadline_ms;
          renews.push_back(std::move(r));
        }
        if (e.deadline_ms > now) continue;
        // Due for redelivery but out of attempts: to the DLQ now rather than on the next pop.
        const int32_t max = max_attempts_of(key.group);
        if (max > 0 && e.attempt >= max) {
          dlq.push_back(DlqJob{key, offset, e.epoch, e.commit_log_offset});
          e.deadline_ms = now + kDlqRetryMs;
          continue;
        }
        wake.insert(key.topic);
      }
    }
    if (!renews.empty()) ++pending_puts_;
  }
  RunDlqJobs(std::move(dlq));
  if (!renews.empty()) Journal(std::move(renews), [](bool) {});
  for (const auto& topic : wake) ctx_.waits->Notify(PopWaitKey(topic));
}

size_t PopService::ParkedCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return parked_total_;
}

void PopService::WakeParked(const std::string& topic) { ctx_.waits->Notify(PopWaitKey(topic)); }

size_t PopService::InFlightCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return table_.InFlightCount();
}

int64_t PopService::LowWater(const std::string& group, const std::string& topic, int32_t queue_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return table_.LowWater(QueueKey{group, topic, queue_id});
}

}  // namespace mq::broker::pop
