#include "broker/transaction/transactional_message_service.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>

#include "broker/meta/topic_config_manager.h"
#include "broker/meta/transaction_progress_file.h"
#include "broker/processor/message_convert.h"
#include "broker/store/message_store.h"
#include "common/logging.h"
#include "common/naming.h"
#include "common/perm.h"
#include "common/thread_name.h"

namespace mq::broker::txn {
namespace {

constexpr int32_t kReadBatch = 32;
constexpr int32_t kReadBytes = 4 * 1024 * 1024;
constexpr int64_t kQueryScanLimit = 20000;  // bounds the time of one query on a gRPC thread
constexpr int32_t kQueryDefaultMax = 32;
constexpr int32_t kQueryMaxMax = 1000;

const std::string kHalf(kHalfTopic);
const std::string kOp(kOpHalfTopic);

// The record is in the store; only durability may be unconfirmed.
bool Stored(const store::PutResult& r) {
  switch (r.status) {
    case store::PutStatus::kOk:
    case store::PutStatus::kFlushDiskTimeout:
    case store::PutStatus::kFlushSlaveTimeout:
    case store::PutStatus::kSlaveNotAvailable:
      return true;
    default:
      return false;
  }
}

Status PutError(std::string_view what, const store::PutResult& r) {
  return Status::Unavailable(
      fmt::format("{}: the store refused the write ({}: {})", what, store::PutStatusName(r.status), r.error));
}

// Reads up to `budget` records of (topic, 0) from *offset, calling fn(record) until it returns
// false. Skips a gap (cleaned files) by the store's next_begin_offset. Advances *offset past
// every record fn accepted.
template <typename Fn>
void ScanQueue(const store::MessageStore& store, const std::string& topic, int64_t* offset, int64_t budget,
               Fn fn) {
  while (budget > 0) {
    auto r = store.GetMessages("txn-check", topic, 0, *offset,
                               static_cast<int32_t>(std::min<int64_t>(kReadBatch, budget)), kReadBytes);
    if (r.status != store::GetMessageStatus::kFound || r.messages.empty()) {
      const bool gap = r.status == store::GetMessageStatus::kOffsetTooSmall ||
                       r.status == store::GetMessageStatus::kOffsetOverflowBadly;
      if (gap && r.next_begin_offset != *offset) {
        MQ_LOG_WARN(Logger("broker"), "transaction scan of {} jumps from {} to {} ({})", topic, *offset,
                    r.next_begin_offset, store::GetMessageStatusName(r.status));
        *offset = r.next_begin_offset;
        --budget;
        continue;
      }
      return;
    }
    for (size_t i = 0; i < r.messages.size(); ++i) {
      auto view = store::DecodeRecord(r.messages[i], /*verify_crc=*/false);
      if (view.ok()) {
        if (!fn(store::ToStoredMessage(*view, r.messages[i]))) return;
      } else {
        MQ_LOG_WARN(Logger("broker"), "transaction scan of {} skips offset {}: {}", topic, r.queue_offsets[i],
                    view.status().ToString());
      }
      *offset = r.queue_offsets[i] + 1;
      --budget;
    }
  }
}

}  // namespace

TransactionalMessageService::TransactionalMessageService(TransactionOptions options,
                                                         store::MessageStore* store,
                                                         TopicConfigManager* topics, CheckSender* sender,
                                                         Clock* clock)
    : options_(std::move(options)), store_(store), topics_(topics), sender_(sender), clock_(clock) {}

TransactionalMessageService::~TransactionalMessageService() { Shutdown(); }

Status TransactionalMessageService::Start() {
  int64_t half = store_->MinOffsetInQueue(kHalf, 0);
  int64_t op = store_->MinOffsetInQueue(kOp, 0);
  auto saved = ReadTransactionProgress(options_.progress_path);
  if (!saved.ok() && !saved.status().IsNotFound()) return saved.status();
  if (saved.ok()) {
    // A promoted slave has its master's positions, which may pass its own (lagging) queues:
    // the offsets past its ends are taken by halves and ops written from now on.
    half = std::min(std::max(saved->half_offset, half), store_->MaxOffsetInQueue(kHalf, 0));
    op = std::min(std::max(saved->op_offset, op), store_->MaxOffsetInQueue(kOp, 0));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    half_progress_ = half;
    op_read_offset_ = op;
  }
  // The ops before `op` are of transactions the scan had passed: the recently finished ones
  // among them still answer a late end (a COMMIT after a ROLLBACK is refused across a restart
  // as before it, not only while the half is ahead of the scan).
  int64_t finished_from =
      std::max(store_->MinOffsetInQueue(kOp, 0), op - static_cast<int64_t>(state_.finished_capacity()));
  ScanQueue(*store_, kOp, &finished_from, op - finished_from, [this](const store::StoredMessage& m) {
    if (auto ended = DecodeOp(m); ended.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      state_.AddFinished(ended->transaction_id, ended->resolution);
    }
    return true;
  });
  // Every op the scan may still need (ends of transactions with halves ahead of the scan).
  for (;;) {
    int64_t before = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      before = op_read_offset_;
    }
    ReadOps();
    std::lock_guard<std::mutex> lock(mu_);
    if (op_read_offset_ == before) break;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    state_.DropPassed(half_progress_);
    MQ_LOG_INFO(Logger("broker"), "transaction check starts half_offset={} op_offset={} ended_tracked={}",
                half_progress_, op_read_offset_, state_.active());
  }
  started_ = true;
  if (options_.run_thread) thread_ = StartNamedThread("mq-txn-check", [this] { Loop(); });
  return Status::OK();
}

void TransactionalMessageService::Shutdown() {
  if (!started_.exchange(false)) return;
  {
    std::lock_guard<std::mutex> lock(loop_mu_);
    stop_ = true;
  }
  loop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  PersistProgress(/*force=*/true);
}

void TransactionalMessageService::Loop() {
  // Often enough that a check is at most a small fraction of the shorter period late.
  const auto tick = std::chrono::milliseconds(std::clamp<int64_t>(
      std::min(options_.transaction_timeout_ms, options_.check_interval_ms) / 4, 20, 1000));
  std::unique_lock<std::mutex> lock(loop_mu_);
  while (!stop_) {
    lock.unlock();
    RunRound();
    lock.lock();
    loop_cv_.wait_for(lock, tick, [this] { return stop_; });
  }
}

void TransactionalMessageService::ReadOps() {
  int64_t offset = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    offset = op_read_offset_;
  }
  ScanQueue(*store_, kOp, &offset, options_.max_ops_per_round, [this](const store::StoredMessage& m) {
    auto op = DecodeOp(m);
    if (!op.ok()) {
      MQ_LOG_WARN(Logger("broker"), "transaction op at queue offset {} ignored: {}", m.header.queue_offset,
                  op.status().ToString());
      return true;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (!state_.Add(op->transaction_id, op->resolution, op->half_max_offset, m.header.queue_offset)) {
      state_.SetOpOffset(op->transaction_id, m.header.queue_offset);
    }
    return true;
  });
  std::lock_guard<std::mutex> lock(mu_);
  op_read_offset_ = std::max(op_read_offset_, offset);
}

int64_t TransactionalMessageService::RunRound() {
  ReadOps();
  int64_t looked_at = 0;
  int64_t offset = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    offset = half_progress_;
  }
  ScanQueue(*store_, kHalf, &offset, options_.max_halves_per_round,
            [this, &looked_at](const store::StoredMessage& m) {
              ++looked_at;
              if (!ScanHalf(m)) return false;
              std::lock_guard<std::mutex> lock(mu_);
              half_progress_ = m.header.queue_offset + 1;
              return true;
            });
  {
    std::lock_guard<std::mutex> lock(mu_);
    half_progress_ = std::max(half_progress_, offset);
    state_.DropPassed(half_progress_);
  }
  PersistProgress(/*force=*/false);
  return looked_at;
}

bool TransactionalMessageService::ScanHalf(const store::StoredMessage& half) {
  auto info = ParseHalf(half);
  if (!info.ok()) {
    MQ_LOG_WARN(Logger("broker"), "half message at {} skipped: {}", half.header.physical_offset,
                info.status().ToString());
    return true;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ending_.count(info->transaction_id) != 0) return false;  // next round: ended or not
    if (state_.Find(info->transaction_id).has_value()) return true;
  }
  const int64_t now = clock_->NowMillis();
  const int64_t stored = half.header.store_timestamp;
  const int64_t due = info->check_times == 0 ? info->prepared_ts + (info->check_immunity_ms >= 0
                                                                        ? info->check_immunity_ms
                                                                        : options_.transaction_timeout_ms)
                                             : stored + options_.check_interval_ms;
  if (now >= due) return CheckOrDiscard(half, *info);
  // Not due. Records behind it are younger, so they are due later too, unless this one has a
  // long CHECK_IMMUNITY_TIME: then it moves to the end (at most once per transactionTimeOut),
  // so it does not hold back the checks of the records behind it.
  const bool long_immunity =
      due - stored > std::max(options_.transaction_timeout_ms, options_.check_interval_ms);
  if (!long_immunity || now - stored < options_.transaction_timeout_ms) return false;
  auto put = PutAndWait(RenewHalf(half, *info, info->check_times));
  if (!Stored(put)) return false;
  std::lock_guard<std::mutex> lock(mu_);
  last_copy_offset_ = put.queue_offset;
  state_.ExtendHalfMax(info->transaction_id, put.queue_offset);
  return true;
}

bool TransactionalMessageService::CheckOrDiscard(const store::StoredMessage& half, const HalfInfo& info) {
  auto log = Logger("broker");
  if (info.check_times >= options_.check_max) {
    auto topic = topics_->CreateIfAbsent(std::string(kCheckMaxTimeTopic), 1, kPermRead | kPermWrite);
    if (!topic.ok()) MQ_LOG_WARN(log, "cannot create {}: {}", kCheckMaxTimeTopic, topic.status().ToString());
    store::MessageInput moved = RenewHalf(half, info, info.check_times);
    moved.topic = std::string(kCheckMaxTimeTopic);
    // Discarded before the moved copy can be consumed: an end from now on is refused, so a late
    // commit cannot also deliver the message that TRANS_CHECK_MAX_TIME_TOPIC's readers get.
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!state_.Add(info.transaction_id, Resolution::kDiscard, half.header.queue_offset + 1, -1))
        return true;  // ended meanwhile
    }
    auto put = PutAndWait(std::move(moved));
    if (!Stored(put)) {
      MQ_LOG_ERROR(log, "moving half message txn={} to {} failed: {}", info.transaction_id,
                   kCheckMaxTimeTopic, put.error);
      std::lock_guard<std::mutex> lock(mu_);
      state_.Remove(info.transaction_id);  // pending again: the scan retries it
      return false;
    }
    auto op = PutAndWait(EncodeOp(
        {info.transaction_id, Resolution::kDiscard, half.header.queue_offset, half.header.queue_offset + 1}));
    std::lock_guard<std::mutex> lock(mu_);
    if (Stored(op)) state_.SetOpOffset(info.transaction_id, op.queue_offset);
    MQ_LOG_WARN(log, "half message txn={} group={} topic={} discarded to {} after {} checks",
                info.transaction_id, info.producer_group, info.real_topic, kCheckMaxTimeTopic,
                info.check_times);
    return true;
  }
  // The copy goes first (RocketMQ putBackHalfMsgQueue): the scan may pass this record only
  // once the transaction is represented behind it.
  auto copy = PutAndWait(RenewHalf(half, info, info.check_times + 1));
  if (!Stored(copy)) {
    MQ_LOG_ERROR(log, "re-appending half message txn={} failed: {}", info.transaction_id, copy.error);
    return false;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_copy_offset_ = copy.queue_offset;
    // An end that raced with this copy must keep covering it.
    if (state_.Find(info.transaction_id).has_value()) {
      state_.ExtendHalfMax(info.transaction_id, copy.queue_offset);
      return true;
    }
  }
  mq::v1::TransactionCheck check;
  ToMessageExt(half, options_.broker_name, check.mutable_message());
  check.mutable_message()->mutable_message()->set_topic(info.real_topic);
  check.mutable_message()->set_queue_id(info.real_queue_id);
  check.mutable_message()->set_commit_log_offset(copy.physical_offset);
  check.set_transaction_id(info.transaction_id);
  check.set_commit_log_offset(copy.physical_offset);
  check.set_check_times(info.check_times + 1);
  if (!sender_->SendCheck(info.producer_group, check)) {
    // Counted anyway, as RocketMQ does when the group has no channel.
    MQ_LOG_INFO(log, "no live producer of group={} for check {} of txn={}", info.producer_group,
                info.check_times + 1, info.transaction_id);
  }
  return true;
}

store::PutResult TransactionalMessageService::PutAndWait(store::MessageInput input) {
  // SYNC_FLUSH answers within syncFlushTimeout; the bound guards against a store that stopped.
  return store::PutAndWait(*store_, std::move(input), std::chrono::seconds(60));
}

void TransactionalMessageService::Finish(const std::string& txn, Resolution resolution,
                                         int64_t half_queue_offset, int64_t half_max,
                                         std::function<void(const Status&, int64_t op_offset)> done) {
  store_->PutMessage(EncodeOp({txn, resolution, half_queue_offset, half_max}),
                     [this, txn, done = std::move(done)](const store::PutResult& r) {
                       if (!Stored(r)) return done(PutError("op", r), -1);
                       {
                         std::lock_guard<std::mutex> lock(mu_);
                         state_.SetOpOffset(txn, r.queue_offset);
                       }
                       done(Status::OK(), r.queue_offset);
                     });
}

void TransactionalMessageService::End(const mq::v1::EndTransactionRequest& req, EndDone done) {
  mq::v1::EndTransactionResponse resp;
  auto fail = [&](const Status& s) { done(s, resp); };
  if (Status s = ValidateName("producer_group", req.producer_group()); !s.ok()) return fail(s);
  if (req.transaction_id().empty()) return fail(Status::InvalidArgument("transaction_id: must not be empty"));
  if (req.commit_log_offset() < 0) {
    return fail(
        Status::InvalidArgument(fmt::format("commit_log_offset: {} is negative", req.commit_log_offset())));
  }
  if (!mq::v1::TransactionResolution_IsValid(req.resolution())) {
    return fail(Status::InvalidArgument(fmt::format("resolution: {} is not COMMIT, ROLLBACK or UNKNOWN",
                                                    static_cast<int>(req.resolution()))));
  }
  // RocketMQ TRANSACTION_NOT_TYPE: the producer does not know yet; the check decides later.
  if (req.resolution() == mq::v1::TRANSACTION_UNKNOWN) return done(Status::OK(), resp);
  auto half = store_->LookMessageByOffset(req.commit_log_offset());
  if (!half.ok()) {
    return fail(Status::NotFound(fmt::format("commit_log_offset: no message at {} ({})",
                                             req.commit_log_offset(), half.status().message())));
  }
  if (half->topic != kHalfTopic) {
    return fail(Status::InvalidArgument(
        fmt::format("commit_log_offset: {} holds a message of topic '{}', not a half message",
                    req.commit_log_offset(), half->topic)));
  }
  auto info = ParseHalf(*half);
  if (!info.ok()) return fail(Status::Internal(info.status().message()));
  if (info->producer_group != req.producer_group()) {
    return fail(
        Status::InvalidArgument(fmt::format("producer_group: '{}' is not the group '{}' of the half message",
                                            req.producer_group(), info->producer_group)));
  }
  if (info->transaction_id != req.transaction_id()) {
    return fail(Status::InvalidArgument(
        fmt::format("transaction_id: '{}' is not the id '{}' of the half message at commit_log_offset {}",
                    req.transaction_id(), info->transaction_id, req.commit_log_offset())));
  }
  const Resolution resolution =
      req.resolution() == mq::v1::TRANSACTION_COMMIT ? Resolution::kCommit : Resolution::kRollback;
  const std::string txn = info->transaction_id;
  int64_t half_max = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto known = state_.Find(txn)) {
      if (*known != resolution) {
        return fail(
            Status::FailedPrecondition(fmt::format("transaction_id: '{}' is already {}; it cannot be {}", txn,
                                                   ResolutionName(*known), ResolutionName(resolution))));
      }
      resp.set_duplicate(true);
      resp.set_msg_id(txn);
      return done(Status::OK(), resp);
    }
    half_max =
        std::max({store_->MaxOffsetInQueue(kHalf, 0), half->header.queue_offset + 1, last_copy_offset_ + 1});
    state_.Add(txn, resolution, half_max, -1);
    ending_.insert(txn);
  }
  // Every path below ends here: a failed end forgets the resolution, so the checks settle it.
  auto ended = [this, txn](bool ok) {
    std::lock_guard<std::mutex> lock(mu_);
    ending_.erase(txn);
    if (!ok) state_.Remove(txn);
  };
  const int64_t half_queue_offset = half->header.queue_offset;
  if (resolution == Resolution::kRollback) {
    Finish(txn, resolution, half_queue_offset, half_max, [ended, done](const Status& s, int64_t) {
      ended(s.ok());
      done(s, mq::v1::EndTransactionResponse());
    });
    return;
  }
  store_->PutMessage(RestoreRealMessage(*half, *info), [this, txn, half_queue_offset, half_max, ended,
                                                        done](const store::PutResult& put) {
    if (!Stored(put)) {
      ended(false);
      return done(PutError("commit", put), {});
    }
    const int64_t committed_at = put.physical_offset;
    Finish(txn, Resolution::kCommit, half_queue_offset, half_max,
           [txn, committed_at, ended, done](const Status& s, int64_t) {
             ended(true);
             // The message is committed either way; without its op the entry still answers
             // duplicates until a restart (and a check may then ask the producer again).
             if (!s.ok())
               MQ_LOG_ERROR(Logger("broker"), "txn={} committed but its op was not written: {}", txn,
                            s.ToString());
             mq::v1::EndTransactionResponse r;
             r.set_msg_id(txn);
             r.set_commit_log_offset(committed_at);
             done(Status::OK(), r);
           });
  });
}

Result<mq::v1::QueryTransactionHalfResponse> TransactionalMessageService::QueryHalf(
    const mq::v1::QueryTransactionHalfRequest& req) {
  if (!req.topic().empty()) MQ_RETURN_IF_ERROR(ValidateName("topic", req.topic()));
  if (req.max_num() < 0 || req.max_num() > kQueryMaxMax) {
    return Status::InvalidArgument(fmt::format("max_num: {} is outside 0..{}", req.max_num(), kQueryMaxMax));
  }
  const int32_t max_num = req.max_num() == 0 ? kQueryDefaultMax : req.max_num();
  int64_t offset = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    offset = half_progress_;
  }
  // Latest record per transaction (a pending one may have copies ahead of the scan).
  std::map<std::string, mq::v1::TransactionHalfInfo> pending;
  std::vector<std::string> order;
  int64_t scanned = 0;
  ScanQueue(*store_, kHalf, &offset, kQueryScanLimit, [&](const store::StoredMessage& m) {
    ++scanned;
    auto info = ParseHalf(m);
    if (!info.ok()) return true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (state_.Find(info->transaction_id).has_value()) return true;
    }
    auto [it, inserted] = pending.try_emplace(info->transaction_id);
    if (inserted) order.push_back(info->transaction_id);
    auto& h = it->second;
    h.set_transaction_id(info->transaction_id);
    h.set_topic(info->real_topic);
    h.set_queue_id(info->real_queue_id);
    h.set_producer_group(info->producer_group);
    h.set_commit_log_offset(m.header.physical_offset);
    h.set_prepared_timestamp(info->prepared_ts);
    h.set_check_times(info->check_times);
    return true;
  });
  mq::v1::QueryTransactionHalfResponse resp;
  resp.set_scanned(scanned);
  resp.set_truncated(offset < store_->MaxOffsetInQueue(kHalf, 0));
  resp.set_pending_total(static_cast<int64_t>(pending.size()));
  for (const auto& txn : order) {
    const auto& h = pending[txn];
    if (!req.topic().empty() && h.topic() != req.topic()) continue;
    if (resp.halves_size() >= max_num) break;
    *resp.add_halves() = h;
  }
  return resp;
}

void TransactionalMessageService::PersistProgress(bool force) {
  const int64_t now = clock_->NowMillis();
  if (!force && now - last_persist_ms_ < 1000) return;
  const int64_t log_end = store_->MaxPhyOffset();  // before the positions: they pass no later record
  std::pair<int64_t, int64_t> current;
  {
    std::lock_guard<std::mutex> lock(mu_);
    current = {half_progress_, state_.MinOpOffset(op_read_offset_)};
  }
  // At Shutdown() the store's own shutdown flushes what is left, so the current positions go.
  auto write = durable_.Offer(current, log_end, store_->FlushedPhyOffset(), force);
  if (!write) return;
  const auto [half, op] = *write;
  if (half == persisted_half_ && op == persisted_op_) return;
  last_persist_ms_ = now;
  Status s = WriteTransactionProgress(options_.progress_path, TransactionPositions{half, op});
  if (!s.ok()) {
    MQ_LOG_ERROR(Logger("broker"), "persist transaction progress: {}", s.ToString());
    return;
  }
  persisted_half_ = half;
  persisted_op_ = op;
}

}  // namespace mq::broker::txn
