#include "broker/store/dispatcher.h"

#include <cstdint>
#include <map>
#include <optional>

#include "common/logging.h"
#include "common/thread_name.h"

namespace mq::store {

namespace {
// The records were mostly written on the other CPU: each one's header and tail (topic and
// properties, past the body) are cache misses, the tail's first byte most of all (74 % of
// DecodeRecord's samples in async produce). Asks for the next record's while this one is
// dispatched: its header, and its tail where it would be if it had this one's layout
// (messages of a topic tend to). A prefetch never faults, so a wrong guess costs nothing.
// Addresses, not pointers: the guess may lie past the mapping.
void PrefetchNextRecord(std::string_view record, size_t tail_offset) {
  const uintptr_t next = reinterpret_cast<uintptr_t>(record.data()) + record.size();
  auto prefetch = [](uintptr_t address) { __builtin_prefetch(reinterpret_cast<const void*>(address)); };
  prefetch(next);
  prefetch(next + 64);
  for (size_t at = tail_offset; at < record.size(); at += 64) prefetch(next + at);
  prefetch(next + record.size() - 1);
}

// What a pass holds of the offers: the records offered from `from` (-1: none).
struct Offer {
  int64_t from = -1;
  std::string bytes;

  bool Covers(int64_t pos) const { return from >= 0 && pos >= from && pos < from + std::ssize(bytes); }
  // The record at `pos` if it lies whole in the offer and below `limit`.
  std::optional<RecordRef> Read(int64_t pos, int64_t limit) const {
    if (!Covers(pos)) return std::nullopt;
    const std::string_view left = std::string_view(bytes).substr(static_cast<size_t>(pos - from));
    auto probe = ProbeRecord(left);
    if (!probe.ok() || probe->kind != RecordKind::kMessage || pos + probe->size > limit) return std::nullopt;
    RecordRef ref;
    ref.kind = RecordKind::kMessage;
    ref.size = probe->size;
    ref.next_offset = pos + probe->size;
    ref.bytes = left.substr(0, static_cast<size_t>(probe->size));
    return ref;
  }
};
}  // namespace

Dispatcher::Dispatcher(CommitLog* commit_log, ConsumeQueueTable* queues, IndexService* index,
                       ErrorLatch* latch, std::function<int64_t()> readable_limit,
                       std::chrono::milliseconds idle_wait)
    : commit_log_(commit_log),
      queues_(queues),
      index_(index),
      latch_(latch),
      readable_limit_(std::move(readable_limit)),
      idle_wait_(idle_wait) {}

Dispatcher::~Dispatcher() { Shutdown(); }

void Dispatcher::AddListener(ArrivalListener listener) { listeners_.push_back(std::move(listener)); }

void Dispatcher::SetTagsCodeFunction(const std::string& topic, TagsCodeFn fn) {
  tags_code_fns_[topic] = std::move(fn);
}

void Dispatcher::OfferWritten(int64_t from, std::string records) {
  std::lock_guard lock(offered_mu_);
  auto [it, added] = offered_.try_emplace(from, std::move(records));
  if (added) offered_bytes_ += std::ssize(it->second);
  while (offered_bytes_ > kMostOfferedBytes) PopOldestOfferLocked();
}

int64_t Dispatcher::offered_bytes() const {
  std::lock_guard lock(offered_mu_);
  return offered_bytes_;
}

std::string Dispatcher::PopOldestOfferLocked() {
  std::string bytes = std::move(offered_.extract(offered_.begin()).mapped());
  offered_bytes_ -= std::ssize(bytes);
  return bytes;
}

void Dispatcher::DropOfferedBelowLocked(int64_t pos) {
  while (!offered_.empty() && offered_.begin()->first < pos) PopOldestOfferLocked();
}

bool Dispatcher::TakeOffered(int64_t pos, std::string* bytes) {
  std::lock_guard lock(offered_mu_);
  DropOfferedBelowLocked(pos);
  if (offered_.empty() || offered_.begin()->first != pos) return false;
  *bytes = PopOldestOfferLocked();
  return true;
}

void Dispatcher::SetDurableLimit(std::function<int64_t()> durable_limit,
                                 std::function<void()> request_flush) {
  durable_limit_ = std::move(durable_limit);
  request_flush_ = std::move(request_flush);
}

Status Dispatcher::DispatchRange(int64_t from, int64_t limit, bool notify, int64_t marker_limit) {
  std::map<std::pair<std::string, int32_t>, int64_t> arrived;
  // Consecutive records of one queue (a batch, a busy queue) look up their consume queue and
  // their arrival entry once: no topic string copy, hash lookup or map search per record.
  std::string cq_topic;
  int32_t cq_queue = -1;
  std::shared_ptr<ConsumeQueue> cq;
  int64_t* arrived_end = nullptr;
  int64_t pos = from;
  Status status;
  std::shared_ptr<MappedFile> segment;
  Offer offer;
  // A queue's units are staged while its records come one after another and written when the
  // pass moves to another queue, stages kMostStagedBytes or ends (ConsumeQueue::Stage). Only
  // then does dispatched_offset() pass those records: a checkpoint taken meanwhile must not
  // count records whose units its flush could not have seen.
  auto commit_staged = [&]() -> Status {
    if (!cq || cq->staged_bytes() == 0) return Status::OK();
    Status s = cq->Commit();
    if (!s.ok())
      return s.WithContext(
          fmt::format("consume queue {}-{} write before dispatch offset {}", cq_topic, cq_queue, pos));
    dispatched_.store(pos, std::memory_order_release);
    return s;
  };
  while (pos < limit) {
    if (!offer.Covers(pos)) offer.from = TakeOffered(pos, &offer.bytes) ? pos : -1;
    std::optional<RecordRef> offered = offer.Read(pos, limit);
    Result<RecordRef> ref =
        offered ? Result<RecordRef>(*std::move(offered)) : commit_log_->ReadRecordAt(pos, limit, &segment);
    if (!ref.ok()) {
      status = ref.status().WithContext(fmt::format("dispatch at {}", pos));
      break;
    }
    if (ref->kind == RecordKind::kEndOfData) break;
    if (ref->kind == RecordKind::kMessage) {
      auto view = DecodeRecord(ref->bytes, false, pos);
      if (!view.ok()) {
        status = view.status().WithContext(fmt::format("dispatch at {}", pos));
        break;
      }
      PrefetchNextRecord(ref->bytes,
                         static_cast<size_t>(view->body.data() + view->body.size() - ref->bytes.data()));
      if (IsTopicDeletion(*view)) {
        if (ref->next_offset > marker_limit) break;  // not durable yet: see SetDurableLimit
        const std::string deleted(view->body);
        status = commit_staged();
        if (!status.ok()) break;
        status = DropTopic(deleted, pos);
        if (!status.ok()) break;
        if (cq_topic == deleted) cq.reset();
        std::erase_if(arrived, [&deleted](const auto& entry) { return entry.first.first == deleted; });
        arrived_end = nullptr;
      } else {
        if (!cq || view->queue_id != cq_queue || view->topic != cq_topic) {
          status = commit_staged();
          if (!status.ok()) break;
          cq_topic.assign(view->topic);
          cq_queue = view->queue_id;
          auto found = queues_->FindOrCreate(cq_topic, cq_queue);
          if (!found.ok()) {
            status = found.status().WithContext(
                fmt::format("consume queue {}-{} write at dispatch offset {}", cq_topic, cq_queue, pos));
            break;
          }
          cq = std::move(found).value();
          arrived_end = nullptr;
        }
        int64_t tags_code = 0;
        if (auto fn = tags_code_fns_.find(view->topic); fn != tags_code_fns_.end()) {
          tags_code = fn->second(*view);
        } else {
          tags_code = TagsCode(FindProperty(view->properties, kPropertyTags));
        }
        CqUnit unit{pos, view->total_size, tags_code};
        status = cq->Stage(view->queue_offset, unit);
        if (!status.ok()) {
          status = status.WithContext(
              fmt::format("consume queue {}-{} write at dispatch offset {}", cq_topic, cq_queue, pos));
          break;
        }
        if (index_ != nullptr) {
          IndexRequest req{view->topic,
                           FindProperty(view->properties, kPropertyKeys),
                           FindProperty(view->properties, kPropertyUniqKey),
                           pos,
                           view->total_size,
                           view->store_timestamp};
          status = index_->BuildIndex(req);
          if (!status.ok()) {
            status = status.WithContext(fmt::format("index write at dispatch offset {}", pos));
            break;
          }
        }
        if (notify) {
          if (arrived_end == nullptr) arrived_end = &arrived[{cq_topic, cq_queue}];
          *arrived_end = view->queue_offset + 1;
        }
      }
    }
    pos = ref->next_offset;
    if (ref->holder) segment = std::move(ref->holder);  // an offered record has none
    if (cq && cq->staged_bytes() >= kMostStagedBytes) {
      status = commit_staged();
      if (!status.ok()) break;
    } else if (!cq || cq->staged_bytes() == 0) {
      dispatched_.store(pos, std::memory_order_release);
    }
  }
  if (Status s = commit_staged(); !s.ok()) {
    if (status.ok()) status = s;
  } else if (pos > dispatched_.load()) {
    dispatched_.store(pos, std::memory_order_release);
  }
  {
    std::lock_guard lock(offered_mu_);
    DropOfferedBelowLocked(pos);  // offered too late: the pass read those records from the log
  }
  for (const auto& [key, max_offset] : arrived) {
    for (const auto& listener : listeners_) listener(key.first, key.second, max_offset);
  }
  return status;
}

bool Dispatcher::IsTopicDeletion(const RecordView& view) {
  return (view.sys_flag & kSysFlagTopicDeletion) != 0 && view.topic == kTopicDeletionTopic;
}

Status Dispatcher::DropTopic(const std::string& topic, int64_t pos) {
  Status s = queues_->DropTopic(topic);
  if (s.code() == StatusCode::kInvalidArgument) {
    // Never written so (MessageStore::DeleteTopic checks the name): nothing to drop.
    MQ_LOG_WARN(Logger("store"), "topic deletion at {} ignored: {}", pos, s.ToString());
    return Status::OK();
  }
  if (!s.ok()) return s.WithContext(fmt::format("topic {} deletion at dispatch offset {}", topic, pos));
  MQ_LOG_INFO(Logger("store"), "topic {} deleted at commit log offset {}: its consume queues are gone", topic,
              pos);
  return Status::OK();
}

void Dispatcher::Start(int64_t from) {
  dispatched_.store(from, std::memory_order_release);
  wake_.store(true);  // the first pass picks up whatever is readable already
  {
    std::lock_guard<std::mutex> pass(pass_mu_);
    stopped_ = false;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = false;
  }
  thread_ = StartNamedThread("mq-dispatch", [this] { Loop(); });
}

void Dispatcher::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Waits out a pass running on an appender and refuses later ones: the store's parts a pass
  // writes are torn down after this returns.
  std::lock_guard<std::mutex> pass(pass_mu_);
  stopped_ = true;
}

void Dispatcher::Wakeup() {
  if (wake_.exchange(true)) return;  // already pending
  SignalIfSleeping();
}

void Dispatcher::SignalIfSleeping() {
  if (sleeping_.load()) {
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_one();
  }
}

void Dispatcher::DispatchHereOrWakeup() {
  if (wake_.exchange(true)) return;  // already pending: whoever clears wake_ passes after
  if (!sleeping_.load()) return;     // the thread is in a pass or about to re-check wake_
  // A large range is worth the wake-up: the thread dispatches it on the other CPU while this
  // one goes on with the next request (batch produce lost 3-5 % when its callers did it).
  if (readable_limit_() - dispatched_offset() > kMostBytesDispatchedHere) return SignalIfSleeping();
  // The thread sleeps. A caller that finds another one passing leaves its records to it: the
  // passer re-checks wake_ after unlocking, and this caller's exchange preceded that check.
  for (int pass = 0; pass < kMostPassesHere; ++pass) {
    if (!pass_mu_.try_lock()) return;
    if (stopped_) {
      pass_mu_.unlock();
      return;
    }
    wake_.store(false);
    PassLocked(true);
    pass_mu_.unlock();
    if (!wake_.load()) return;
  }
  // Others' records keep arriving: the thread takes them, not this caller's thread (a gRPC or
  // fast-port thread would otherwise serve no request of its own until the puts pause).
  SignalIfSleeping();
}

void Dispatcher::PassLocked(bool announced) {
  int64_t limit = readable_limit_();
  if (dispatched_offset() >= limit) return;
  // A retry after a failed pass is expected to start on the timeout: only count real misses.
  if (!announced && last_error_.ok()) unannounced_passes_.fetch_add(1, std::memory_order_relaxed);
  Status s = DispatchRange(dispatched_offset(), limit, true, durable_limit_ ? durable_limit_() : INT64_MAX);
  // Held at a deletion marker that is not durable yet: the flush's wake-up resumes the pass.
  if (s.ok() && dispatched_offset() < limit && request_flush_) request_flush_();
  const bool passing = s.code() == StatusCode::kResourceExhausted;
  if (!s.ok() && s.ToString() != last_error_.ToString()) {
    MQ_LOG_ERROR(Logger("store"), "dispatch failed, {}: {}",
                 passing ? "puts are refused until it gets through" : "store is now read-only", s.ToString());
  }
  if (!s.ok() && !passing && latch_ != nullptr) latch_->Set(s);
  if (passing || stalled_.load(std::memory_order_relaxed)) {
    std::lock_guard lock(stall_mu_);
    stall_ = passing ? s : Status::OK();
    stalled_.store(passing, std::memory_order_release);
    if (!passing) MQ_LOG_INFO(Logger("store"), "dispatch got through again: puts are taken");
  }
  last_error_ = s;
}

Status Dispatcher::stall() const {
  if (!stalled_.load(std::memory_order_acquire)) return Status::OK();
  std::lock_guard lock(stall_mu_);
  return stall_;
}

void Dispatcher::Loop() {
  while (true) {
    bool announced = true;
    {
      std::unique_lock<std::mutex> lock(mu_);
      // Sleep only when no append announced itself since the last pass began. An append that
      // lands while a pass runs sets wake_ without a signal (sleeping_ is false), so under load
      // the put path pays no futex wake and the next pass starts at once; a fixed poll
      // interval here would be waited out by every arrival before a consumer sees it.
      if (!wake_.load() && !stop_) {
        sleeping_.store(true);
        announced = cv_.wait_for(lock, idle_wait_, [&] { return wake_.load() || stop_; });
        sleeping_.store(false);
      }
      if (stop_) break;
      wake_.store(false);
    }
    std::lock_guard<std::mutex> pass(pass_mu_);
    PassLocked(announced);
  }
  // Drain what is readable so a clean shutdown leaves complete consume queues.
  std::lock_guard<std::mutex> pass(pass_mu_);
  int64_t limit = readable_limit_();
  if (dispatched_offset() < limit) {
    Status s = DispatchRange(dispatched_offset(), limit, false);
    if (!s.ok()) MQ_LOG_ERROR(Logger("store"), "final dispatch failed: {}", s.ToString());
  }
}

}  // namespace mq::store
