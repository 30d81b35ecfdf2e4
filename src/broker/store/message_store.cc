#include "broker/store/message_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <future>

#include "broker/store/checkpoint.h"
#include "common/file_util.h"
#include "common/logging.h"
#include "common/thread_name.h"

namespace mq::store {
namespace fs = std::filesystem;

MessageStore::MessageStore(StoreOptions options, Clock* clock)
    : options_(std::move(options)), clock_(clock) {}

MessageStore::~MessageStore() { Shutdown(); }

namespace {
std::string AbortPath(const StoreOptions& o) { return o.store_path_root_dir + "/abort"; }
std::string CheckpointPath(const StoreOptions& o) { return o.store_path_root_dir + "/checkpoint"; }

}  // namespace

int64_t MessageStore::ReadableLimit() const {
  return options_.flush_disk_type == FlushDiskType::kSyncFlush ? commit_log_->flushed_offset()
                                                               : commit_log_->committed_offset();
}

Status MessageStore::Start() {
  if (running_.load()) return Status::FailedPrecondition("store already started");
  MQ_RETURN_IF_ERROR(ValidateStoreOptions(options_));
  // Durably: every segment below is lost with the root if its entry never reaches the disk.
  MQ_RETURN_IF_ERROR(CreateDirectoriesDurably(options_.store_path_root_dir));
  std::string lock_path = options_.store_path_root_dir + "/lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) return Status::IoError(fmt::format("open '{}': {}", lock_path, std::strerror(errno)));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd_);
    lock_fd_ = -1;
    return Status::FailedPrecondition(
        fmt::format("store '{}' is in use by another process (lock held)", options_.store_path_root_dir));
  }
  Status s = StartLocked();
  if (!s.ok()) {
    ::close(lock_fd_);
    lock_fd_ = -1;
  }
  return s;
}

Status MessageStore::StartLocked() {
  commit_log_ = std::make_unique<CommitLog>(options_, clock_);
  queues_ = std::make_unique<ConsumeQueueTable>(options_.store_path_root_dir + "/consumequeue",
                                                options_.mapped_file_size_consume_queue, options_.fault_hook);
  if (options_.message_index_enable) index_ = std::make_unique<IndexService>(options_);
  dispatcher_ = std::make_unique<Dispatcher>(commit_log_.get(), queues_.get(), index_.get(), &latch_,
                                             [this] { return ReadableLimit(); });
  for (const auto& listener : pending_listeners_) dispatcher_->AddListener(listener);
  for (const auto& [topic, fn] : pending_tags_code_fns_) dispatcher_->SetTagsCodeFunction(topic, fn);
  MQ_RETURN_IF_ERROR(Recover());

  // The abort marker exists exactly while the store runs.
  MQ_RETURN_IF_ERROR(WriteFileAtomically(AbortPath(options_), "running\n"));
  flush_ = std::make_unique<FlushService>(
      commit_log_.get(), options_, &latch_, [this] { NotifyAppended(); }, [this] { dispatcher_->Wakeup(); },
      [this] { return dispatcher_->dispatched_offset(); });
  dispatcher_->SetDurableLimit([this] { return commit_log_->flushed_offset(); },
                               [this] { flush_->Wakeup(); });
  clean_ = std::make_unique<CleanService>(options_, clock_, commit_log_.get(), queues_.get(), index_.get(),
                                          [this] { return dispatcher_->dispatched_offset(); });
  dispatcher_->Start(dispatcher_->dispatched_offset());
  flush_->Start();
  {
    std::lock_guard<std::mutex> lock(maint_mu_);
    maint_stop_ = false;
  }
  maint_thread_ = StartNamedThread("mq-store-maint", [this] { MaintenanceLoop(); });
  running_.store(true, std::memory_order_release);
  MQ_LOG_INFO(Logger("store"), "store started dir={} min_offset={} max_offset={}",
              options_.store_path_root_dir, MinPhyOffset(), MaxPhyOffset());
  return Status::OK();
}

Status MessageStore::Recover() {
  bool abort_exists = fs::exists(AbortPath(options_));
  StoreCheckpoint cp;
  auto loaded = StoreCheckpoint::Load(CheckpointPath(options_));
  if (loaded.ok()) {
    cp = *loaded;
  } else if (!loaded.status().IsNotFound()) {
    MQ_LOG_WARN(Logger("store"), "ignoring checkpoint: {}", loaded.status().ToString());
  }
  MQ_RETURN_IF_ERROR(commit_log_->Load());
  bool clean = !abort_exists && loaded.ok();
  if (!clean && !commit_log_->queue().empty()) {
    MQ_LOG_WARN(Logger("store"),
                "store was not shut down cleanly (abort={}, checkpoint={}); validating the log tail",
                abort_exists, loaded.ok() ? "ok" : loaded.status().ToString());
  }
  bool cq_dir_missing = !fs::exists(queues_->root_dir());
  bool index_dir_missing = !fs::exists(options_.store_path_root_dir + "/index");
  MQ_RETURN_IF_ERROR(queues_->LoadAll());
  if (index_) MQ_RETURN_IF_ERROR(index_->Load());

  MQ_ASSIGN_OR_RETURN(int64_t end, commit_log_->Recover(clean, cp.physic_offset));
  int64_t min = commit_log_->min_offset();
  if (!clean && end > min) {
    // Bytes recovered from the page cache may not be on disk yet: make them durable.
    int64_t from = (cp.physic_offset >= min && cp.physic_offset <= end) ? cp.physic_offset : min;
    for (const auto& file : commit_log_->queue().Snapshot()) {
      if (file->from_offset() + file->size() <= from) continue;
      file->SetFlushedPosition(0);
      MQ_RETURN_IF_ERROR(file->Flush(options_.fault_hook));
    }
  }
  auto cqs = queues_->All();
  bool cq_damaged = false;
  for (const auto& cq : cqs) {
    MQ_RETURN_IF_ERROR(cq->Recover(min, end));
    if (!cq->damage().empty()) {
      MQ_LOG_WARN(Logger("store"), "consume queue {}-{} is damaged ({}); rebuilding it from the commit log",
                  cq->topic(), cq->queue_id(), cq->damage());
      cq_damaged = true;
    }
  }
  int64_t dispatch_from = (cp.logic_offset >= min && cp.logic_offset <= end) ? cp.logic_offset : min;
  // After a crash the index is trusted only as far as its last sync, which the checkpoint's logic
  // offset never passes.
  if (index_) MQ_RETURN_IF_ERROR(index_->Recover(end, clean ? end : dispatch_from));

  // Re-dispatching repairs differing units and refills lost ones (ConsumeQueue::Put).
  if (cq_dir_missing || cqs.empty() || cq_damaged) dispatch_from = min;
  if (index_ && index_dir_missing) dispatch_from = min;
  if (dispatch_from < end) {
    MQ_LOG_INFO(Logger("store"), "rebuilding consume queues and index from offset {} to {}", dispatch_from,
                end);
  }
  MQ_RETURN_IF_ERROR(dispatcher_->DispatchRange(dispatch_from, end, false));
  {
    // What was re-indexed is in the page cache only: the next checkpoints keep their logic offset
    // here until the index's own sync covers it.
    std::lock_guard<std::mutex> lock(checkpoint_mu_);
    index_synced_offset_ = dispatch_from;
    index_synced_at_ = std::chrono::steady_clock::now();
  }
  for (const auto& cq : queues_->All()) {
    MQ_RETURN_IF_ERROR(cq->Flush());
    commit_log_->SetNextQueueOffset(cq->topic(), cq->queue_id(), cq->max_offset());
  }
  return Status::OK();
}

void MessageStore::Shutdown() {
  if (!running_.exchange(false)) return;
  // A put that passed CheckWritable before running_ turned false is refused from here on, or
  // appended before the final flush and checkpoint below cover it.
  commit_log_->StopAppends();
  {
    std::lock_guard<std::mutex> lock(maint_mu_);
    maint_stop_ = true;
  }
  maint_cv_.notify_all();
  if (maint_thread_.joinable()) maint_thread_.join();
  flush_->Shutdown();
  dispatcher_->Shutdown();
  Status s = SaveCheckpoint(/*final=*/true);
  if (s.ok() && latch_.ok() && dispatcher_->dispatched_offset() == commit_log_->committed_offset() &&
      commit_log_->flushed_offset() == commit_log_->committed_offset()) {
    ::unlink(AbortPath(options_).c_str());
    s = FsyncDir(options_.store_path_root_dir);
  } else {
    MQ_LOG_WARN(Logger("store"), "unclean shutdown (checkpoint: {}, background error: {}); recovery will run",
                s.ToString(), latch_.status().ToString());
  }
  MQ_LOG_INFO(Logger("store"), "store shut down max_offset={}", commit_log_->committed_offset());
  if (lock_fd_ >= 0) {
    ::close(lock_fd_);
    lock_fd_ = -1;
  }
}

Status MessageStore::SaveCheckpoint(bool final) {
  std::lock_guard<std::mutex> lock(checkpoint_mu_);
  if (!latch_.ok()) return latch_.status();
  StoreCheckpoint cp;
  // Read before the flushes: everything dispatched below it is in the mappings they sync.
  const int64_t dispatched = dispatcher_->dispatched_offset();
  cp.logic_offset = dispatched;
  for (const auto& cq : queues_->All()) MQ_RETURN_IF_ERROR(cq->Flush());
  if (index_) {
    const auto now = std::chrono::steady_clock::now();
    if (final || now - index_synced_at_ >= std::chrono::milliseconds(options_.flush_interval_index_ms)) {
      MQ_RETURN_IF_ERROR(index_->Flush());
      index_synced_offset_ = dispatched;
      index_synced_at_ = now;
    }
    cp.logic_offset = std::min(cp.logic_offset, index_synced_offset_);
  }
  cp.physic_offset = commit_log_->flushed_offset();
  cp.logic_offset = std::min(cp.logic_offset, cp.physic_offset);
  cp.physic_timestamp = cp.logic_timestamp = clock_->NowMillis();
  return cp.Save(CheckpointPath(options_));
}

void MessageStore::MaintenanceLoop() {
  auto last_clean = std::chrono::steady_clock::now();
  bool checkpoint_no_space = false;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(maint_mu_);
      if (maint_cv_.wait_for(lock, std::chrono::milliseconds(options_.flush_interval_consume_queue_ms),
                             [&] { return maint_stop_; })) {
        return;
      }
    }
    Status s = SaveCheckpoint();
    if (s.code() == StatusCode::kResourceExhausted) {
      // Only the checkpoint file write can report a full disk or the descriptor limit here
      // (flushes of mapped segments are I/O errors): the previous checkpoint stays valid, so
      // retry on the next tick.
      if (!checkpoint_no_space)
        MQ_LOG_WARN(Logger("store"), "checkpoint not saved, will retry: {}", s.ToString());
      checkpoint_no_space = true;
    } else if (!s.ok() && latch_.ok()) {
      MQ_LOG_ERROR(Logger("store"), "consume queue flush / checkpoint failed, store is now read-only: {}",
                   s.ToString());
      latch_.Set(s);
    } else if (s.ok() && checkpoint_no_space) {
      checkpoint_no_space = false;
      MQ_LOG_INFO(Logger("store"), "checkpoint saved again");
    }
    auto now = std::chrono::steady_clock::now();
    if (now - last_clean >= std::chrono::milliseconds(options_.clean_resource_interval_ms)) {
      last_clean = now;
      clean_->RunOnce();
    }
  }
}

PutResult MessageStore::CheckWritable() const {
  PutResult r;
  r.status = PutStatus::kServiceNotAvailable;
  if (!running_.load(std::memory_order_acquire)) {
    r.error = "store is not running";
    return r;
  }
  if (options_.replica) {
    r.error = "store: a slave's commit log takes replicated bytes only; writes go to the master";
    return r;
  }
  if (!latch_.ok()) {
    // Named so an operator can act on it from the producer's error alone (it is also
    // brokerStatus' storeStatus).
    r.error = "store: read-only after a write failure, restart the broker once the cause is fixed: " +
              latch_.status().ToString();
    return r;
  }
  if (Status stall = dispatcher_->stall(); !stall.ok()) {
    r.error =
        "store: consume queues cannot be written, puts are refused until that passes: " + stall.ToString();
    return r;
  }
  if (clean_->disk_full()) {
    r.error = fmt::format("disk full: usage {:.1f}% is above diskSpaceWarningLevelRatio {:.0f}%",
                          clean_->last_disk_usage() * 100, options_.disk_space_warning_level_ratio * 100);
    return r;
  }
  r.status = PutStatus::kOk;
  return r;
}

PutResult MessageStore::Precheck(const std::vector<MessageInput>& messages) const {
  PutResult r = CheckWritable();
  if (!r.ok()) return r;
  r.status = PutStatus::kMessageIllegal;
  if (messages.empty()) {
    r.error = "batch is empty";
    return r;
  }
  for (const auto& m : messages) {
    if ((m.sys_flag & kSysFlagTopicDeletion) != 0) {
      r.error =
          fmt::format("sys_flag: bit {:#x} is the store's topic deletion marker", kSysFlagTopicDeletion);
      return r;
    }
    if (m.topic != messages.front().topic) {
      r.error = "batch: all messages must have the same topic";
      return r;
    }
    r.error = QueueIdError(m.queue_id);
    if (!r.error.empty()) return r;
    size_t props = 0;
    for (const auto& [k, v] : m.properties) props += k.size() + v.size() + 2;
    const int64_t max_props = kMaxPropertiesLength - 20 - m.reserve_bytes;
    if (static_cast<int64_t>(props) > max_props) {
      r.status = PutStatus::kPropertiesSizeExceeded;
      r.error =
          fmt::format("properties: {} bytes exceeds the maximum of {}{}", props, max_props,
                      m.reserve_bytes > 0 ? " (room is kept for what the broker adds to its copies)" : "");
      return r;
    }
    if (m.body.size() > static_cast<size_t>(options_.max_message_size)) {
      r.error = fmt::format("message body of {} bytes exceeds maxMessageSize {}", m.body.size(),
                            options_.max_message_size);
      return r;
    }
  }
  r.status = PutStatus::kOk;
  return r;
}

std::string MessageStore::QueueIdError(int32_t queue_id) const {
  if (queue_id >= 0 && queue_id < options_.max_queue_nums_per_topic) return "";
  return fmt::format("queue_id: {} out of range [0, {})", queue_id, options_.max_queue_nums_per_topic);
}

void MessageStore::PutMessage(MessageInput message, PutCallback done) {
  std::vector<MessageInput> batch;
  batch.push_back(std::move(message));
  PutMessages(std::move(batch), std::move(done));
}

void MessageStore::PutMessages(std::vector<MessageInput> messages, PutCallback done) {
  PutResult check = Precheck(messages);
  if (!check.ok()) return done(check);
  std::vector<PendingRecord> records(messages.size());
  HostAddress store_host{options_.store_host_ip, options_.store_host_port};
  for (size_t i = 0; i < messages.size(); ++i) {
    Status s = EncodeMessage(messages[i], store_host, &records[i].bytes);
    const int64_t reserve = messages[i].reserve_bytes;
    if (s.ok() && static_cast<int64_t>(records[i].bytes.size()) + reserve > options_.max_message_size) {
      s = Status::InvalidArgument(fmt::format("message of {} bytes exceeds maxMessageSize {}{}",
                                              records[i].bytes.size(), options_.max_message_size,
                                              reserve > 0
                                                  ? fmt::format(" less {} bytes kept for the broker's "
                                                                "copies of it",
                                                                reserve)
                                                  : ""));
    }
    if (!s.ok()) {
      PutResult r;
      r.status = PutStatus::kMessageIllegal;
      r.error = s.message();
      return done(r);
    }
    records[i].topic = std::move(messages[i].topic);
    records[i].queue_id = messages[i].queue_id;
  }
  Complete(commit_log_->Append(&records), std::move(done));
}

void MessageStore::PutRecords(RecordBatch batch, PutCallback done) {
  PutResult r = CheckWritable();
  if (!r.ok()) return done(r);
  r.status = PutStatus::kMessageIllegal;
  if (batch.bytes.empty()) {
    r.error = "batch is empty";
    return done(r);
  }
  r.error = QueueIdError(batch.queue_id);
  if (!r.error.empty()) return done(r);
  AppendResult appended = commit_log_->Append(&batch);
  // Append stamped the records in place (offsets, store time, CRC), so they are the log's bytes
  // and the dispatcher reads them here, still in this CPU's cache. A batch that rolled into the
  // next segment has a blank between its records in the log: not offered.
  if (appended.status.ok() && appended.end_offset - appended.wrote_offset == std::ssize(batch.bytes)) {
    dispatcher_->OfferWritten(appended.wrote_offset, std::move(batch.bytes));
  }
  Complete(std::move(appended), std::move(done));
}

void MessageStore::DeleteTopic(const std::string& topic, PutCallback done) {
  PutResult r = CheckWritable();
  if (!r.ok()) return done(r);
  r.status = PutStatus::kMessageIllegal;
  if (topic.size() > static_cast<size_t>(kMaxTopicLength) || !IsQueueDirectoryName(topic)) {
    r.error = fmt::format("topic: '{}' cannot be deleted: not a topic name", topic);
    return done(r);
  }
  MessageInput marker;
  marker.topic = std::string(kTopicDeletionTopic);
  marker.body = topic;
  marker.sys_flag = kSysFlagTopicDeletion;
  marker.born_timestamp = clock_->NowMillis();
  marker.born_host = HostAddress{options_.store_host_ip, options_.store_host_port};
  std::vector<PendingRecord> records(1);
  Status s = EncodeMessage(marker, marker.born_host, &records[0].bytes);
  if (!s.ok()) {
    r.error = s.message();
    return done(r);
  }
  records[0].topic = marker.topic;
  records[0].deleted_topic = topic;
  MQ_LOG_INFO(Logger("store"), "deleting topic {}", topic);
  Complete(commit_log_->Append(&records), std::move(done));
}

bool MessageStore::HasQueues(const std::string& topic) const { return queues_->HasTopic(topic); }

void MessageStore::SetAppendListener(std::function<void()> listener) {
  std::unique_lock<std::shared_mutex> lock(append_listener_mu_);
  append_listener_ = std::move(listener);
}

void MessageStore::Complete(AppendResult a, PutCallback done) {
  PutResult r;
  if (!a.status.ok()) {
    if (a.status.code() == StatusCode::kUnavailable) {  // after Shutdown began
      r.status = PutStatus::kServiceNotAvailable;
      r.error = a.status.message();
      return done(r);
    }
    if (a.status.code() == StatusCode::kInvalidArgument) {
      r.status = PutStatus::kMessageIllegal;
    } else if (a.status.code() == StatusCode::kResourceExhausted) {
      // No room or no descriptor for the next segment: MappedFile::Open removed the file it
      // could not size, so the log is as before and the next put retries the roll (accepted
      // once space or descriptors are freed).
      r.status = PutStatus::kCreateMappedFileFailed;
      r.error =
          "store: no space (or no file descriptor) for the next commit log segment, puts are refused until "
          "it is freed: " +
          a.status.ToString();
      MQ_LOG_ERROR(Logger("store"), "{}", r.error);
      return done(r);
    } else {
      r.status = PutStatus::kCreateMappedFileFailed;
      MQ_LOG_ERROR(Logger("store"), "commit log append failed, store is now read-only: {}",
                   a.status.ToString());
      latch_.Set(a.status);
    }
    // Records appended before the failure stay in the log (the producer's retry may
    // duplicate them: at-least-once), but the put as a whole failed.
    r.error = r.status == PutStatus::kMessageIllegal
                  ? a.status.ToString()
                  : "store: commit log write failed, the store is now read-only: " + a.status.ToString();
    return done(r);
  }
  r.status = PutStatus::kOk;
  r.physical_offset = a.wrote_offset;
  r.wrote_bytes = a.wrote_bytes;
  r.queue_offset = a.queue_offset;
  r.msg_num = a.msg_num;
  r.store_timestamp = a.store_timestamp;
  r.offset_msg_id = CreateOffsetMessageId({options_.store_host_ip, options_.store_host_port}, a.wrote_offset);
  r.physical_offsets = std::move(a.physical_offsets);
  // Staged records become readable when the flush thread writes them, and it notifies then.
  if (commit_log_->committed_offset() >= a.end_offset) NotifyAppended();
  if (options_.flush_disk_type == FlushDiskType::kAsyncFlush) {
    // The producer's acknowledgement first; then the consumers' side of the same records, here
    // unless a pass is running already (see Dispatcher).
    done(r);
    dispatcher_->DispatchHereOrWakeup();
    flush_->NoteAppended(a.end_offset);
    return;
  }
  flush_->WaitDurable(a.end_offset,
                      [r = std::move(r), done = std::move(done)](PutStatus st, const Status& s) mutable {
                        r.status = st;
                        if (!s.ok()) r.error = "store: " + s.ToString();
                        done(r);
                      });
}

void MessageStore::NotifyAppended() {
  std::shared_lock<std::shared_mutex> lock(append_listener_mu_);
  if (append_listener_) append_listener_();
}

void MessageStore::AddArrivalListener(ArrivalListener listener) {
  MQ_CHECK(!running_.load(), "AddArrivalListener must be called before Start()");
  pending_listeners_.push_back(std::move(listener));
}

void MessageStore::SetTagsCodeFunction(const std::string& topic, TagsCodeFn fn) {
  MQ_CHECK(!running_.load(), "SetTagsCodeFunction must be called before Start()");
  pending_tags_code_fns_.emplace_back(topic, std::move(fn));
}

Status MessageStore::ReplicaAppend(int64_t offset, std::string_view data) {
  if (!running_.load()) return Status::Unavailable("store is not running");
  if (!latch_.ok()) return latch_.status();
  MQ_RETURN_IF_ERROR(commit_log_->ReplicaAppend(offset, data));
  dispatcher_->Wakeup();
  if (options_.flush_disk_type == FlushDiskType::kSyncFlush) {
    flush_->Wakeup();
  } else {
    flush_->NoteAppended(offset + static_cast<int64_t>(data.size()));
  }
  return Status::OK();
}

Result<std::string> MessageStore::ReadReplicaBytes(int64_t offset, int32_t max_bytes) const {
  if (!running_.load()) return Status::Unavailable("store is not running");
  const int64_t end = commit_log_->committed_offset();
  if (offset < 0 || offset > end) {
    return Status::InvalidArgument(
        fmt::format("replica read at {} beyond the commit log end {}", offset, end));
  }
  if (offset == end) return std::string();
  auto file = commit_log_->queue().FindByOffset(offset);
  if (!file) {
    return Status::NotFound(
        fmt::format("commit log offset {} is not stored (min {})", offset, commit_log_->min_offset()));
  }
  const int64_t segment_end = std::min(end, file->from_offset() + file->size());
  const int64_t soft_limit = std::min(segment_end, offset + std::max(max_bytes, 1));
  // Whole records only, so a replica's log always ends on a record boundary and its dispatcher
  // never waits on a torn record. A first record larger than max_bytes is returned whole.
  int64_t stop = offset;
  while (stop < soft_limit) {
    MQ_ASSIGN_OR_RETURN(auto record, commit_log_->ReadRecordAt(stop, end, &file));
    if (record.kind == RecordKind::kEndOfData) break;
    const int64_t next = std::min(record.next_offset, segment_end);
    if (next > soft_limit && stop > offset) break;
    stop = next;
  }
  if (stop == offset) {
    return Status::Corruption(
        fmt::format("no complete record at commit log offset {} (end {})", offset, end));
  }
  MQ_ASSIGN_OR_RETURN(auto ref, commit_log_->Read(offset, static_cast<int32_t>(stop - offset)));
  return std::string(ref.bytes);
}

Result<RecordAnchor> MessageStore::FindRecordAnchor(int64_t end, const RecordAnchor* known) const {
  if (!running_.load()) return Status::Unavailable("store is not running");
  return store::FindRecordAnchor(*commit_log_, end, known);
}

Result<RecordAnchor> MessageStore::ReadRecordAnchor(int64_t offset, int64_t end) const {
  if (!running_.load()) return Status::Unavailable("store is not running");
  return store::ReadRecordAnchor(*commit_log_, offset, end);
}

int64_t MessageStore::MinPhyOffset() const { return commit_log_ ? commit_log_->min_offset() : 0; }
int64_t MessageStore::MaxPhyOffset() const { return commit_log_ ? commit_log_->committed_offset() : 0; }
int64_t MessageStore::FlushedPhyOffset() const { return commit_log_ ? commit_log_->flushed_offset() : 0; }
int64_t MessageStore::DispatchedPhyOffset() const {
  return dispatcher_ ? dispatcher_->dispatched_offset() : 0;
}

CleanStats MessageStore::RunCleanOnce() { return clean_ ? clean_->RunOnce() : CleanStats{}; }

Status MessageStore::BackgroundError() const { return latch_.ok() ? dispatcher_->stall() : latch_.status(); }

PutResult PutAndWait(MessageStore& store, MessageInput message, std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<std::promise<PutResult>>();
  auto future = promise->get_future();
  store.PutMessage(std::move(message), [promise](const PutResult& r) { promise->set_value(r); });
  if (future.wait_for(timeout) != std::future_status::ready) {
    PutResult r;
    r.status = PutStatus::kUnknownError;
    r.error = fmt::format("no answer from the store within {} ms", timeout.count());
    return r;
  }
  return future.get();
}

}  // namespace mq::store
