#include "broker/ha/ha_client.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include "broker/ha/handshake.h"
#include "broker/store/message_store.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/rpc/grpc_defaults.h"
#include "common/thread_name.h"
#include "mq/v1/ha.grpc.pb.h"

namespace mq::ha {
namespace {
constexpr std::chrono::milliseconds kMinBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{3000};
constexpr std::chrono::milliseconds kUnknownMasterPoll{200};
constexpr std::chrono::seconds kMetadataTimeout{5};
constexpr int64_t kStreamSilenceMs = 5000;
}  // namespace

HaClient::HaClient(Options options, store::MessageStore* store, MetadataManagers metadata,
                   MasterAddrFn master)
    : options_(std::move(options)), store_(store), metadata_(metadata), master_(std::move(master)) {}

HaClient::~HaClient() { Shutdown(); }

void HaClient::Start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stop_) return;
    stop_ = false;
  }
  repl_thread_ = StartNamedThread("mq-ha-replicate", [this] { ReplicationLoop(); });
  md_thread_ = StartNamedThread("mq-ha-metadata", [this] { MetadataLoop(); });
}

void HaClient::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    if (live_ != nullptr) live_->TryCancel();
  }
  cv_.notify_all();
  if (repl_thread_.joinable()) repl_thread_.join();
  if (md_thread_.joinable()) md_thread_.join();
}

bool HaClient::Sleep(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, d, [this] { return stop_; });
  return !stop_;
}

void HaClient::ReplicationLoop() {
  auto backoff = kMinBackoff;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
    }
    const std::string addr = master_();
    if (addr.empty()) {  // not learned from the NameServer yet: poll, no backoff
      if (!Sleep(kUnknownMasterPoll)) return;
      continue;
    }
    if (RunStream(addr)) backoff = kMinBackoff;
    if (!Sleep(backoff)) return;
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

bool HaClient::RunStream(const std::string& addr) {
  auto log = Logger("ha");
  const int64_t start = store_->MaxPhyOffset();
  if (start == 0) {
    anchor_.reset();
  } else if (!anchor_ || anchor_->end != start) {  // first connect: one walk of the last segment
    auto found = store_->FindRecordAnchor(start);
    if (!found.ok()) {
      NoteRefusal(
          fmt::format("LOCAL_LOG: cannot find the last record of this slave's commit log (end {}): {}", start,
                      found.status().ToString()));
      return false;
    }
    anchor_ = *found;
  }
  auto stub = mq::v1::Replication::NewStub(rpc::CreateChannel(addr));
  grpc::ClientContext ctx;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return false;
    live_ = &ctx;
    // The watchdog times the stream from its start: a handshake reply that never comes (the
    // connection went silent mid-connect) is as dead as a stream gone quiet.
    last_chunk_ms_ = WallMillis();
  }
  auto stream = stub->Replicate(&ctx);
  mq::v1::SlaveReport report;
  report.set_broker_name(options_.broker_name);
  report.set_broker_id(options_.broker_id);
  report.set_slave_addr(options_.self_addr);
  report.set_max_phy_offset(start);
  *report.mutable_handshake() =
      MakeHandshake(store_->options().mapped_file_size_commit_log, anchor_ ? &*anchor_ : nullptr);
  bool got_any = false;
  bool refused = false;
  std::string error;
  if (stream->Write(report)) {
    report.clear_handshake();
    mq::v1::LogChunk chunk;
    while (stream->Read(&chunk)) {
      if (!got_any && !OnHandshakeReply(addr, chunk, &error)) {
        refused = true;
        break;
      }
      const int64_t local = store_->MaxPhyOffset();
      if (!chunk.data().empty()) {
        if (chunk.start_offset() != local) {
          error = fmt::format("chunk starts at {} but the local commit log ends at {}", chunk.start_offset(),
                              local);
          break;
        }
        if (Status s = store_->ReplicaAppend(local, chunk.data()); !s.ok()) {
          error = "replica append: " + s.ToString();
          break;
        }
        // The chunk holds whole records from `local`: only it is walked, not the segment.
        const int64_t end = local + static_cast<int64_t>(chunk.data().size());
        auto next = store_->FindRecordAnchor(end, anchor_ && anchor_->end == local ? &*anchor_ : nullptr);
        if (!next.ok()) {
          anchor_.reset();
          error = fmt::format("no record ends the replicated chunk [{}, {}): {}", local, end,
                              next.status().ToString());
          break;
        }
        anchor_ = *next;
      }
      const int64_t now_max = store_->MaxPhyOffset();
      bool sync_md = false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!got_any) {
          connected_addr_ = addr;
          sync_md = true;
        }
        last_chunk_ms_ = WallMillis();
        master_max_ = chunk.master_max_offset();
        if (now_max >= master_max_) caught_up_ms_ = WallMillis();
        if (chunk.metadata_version() != master_md_version_) sync_md = true;
        master_md_version_ = chunk.metadata_version();
        if (sync_md) md_requested_ = true;
      }
      if (sync_md) cv_.notify_all();
      got_any = true;
      report.set_max_phy_offset(now_max);
      if (!stream->Write(report)) break;
    }
  }
  ctx.TryCancel();
  grpc::Status status = stream->Finish();
  // The refusal chunk may be lost with the stream; the status carries the same reason.
  if (!got_any && !refused && status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
    refused = true;
    error = NoteRefusal("REFUSED: " + status.error_message());
  }
  bool stopping = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    live_ = nullptr;
    last_chunk_ms_ = 0;
    connected_addr_.clear();
    stopping = stop_;
  }
  if (!stopping && !refused) {
    if (!error.empty()) {
      MQ_LOG_ERROR(log, "replication from {} stopped: {}", addr, error);
    } else if (status.error_code() != grpc::StatusCode::CANCELLED) {
      MQ_LOG_WARN(log, "replication stream to master {} ended: {}", addr, status.error_message());
    } else {
      MQ_LOG_WARN(log, "replication stream to master {} ended", addr);
    }
  }
  return got_any && error.empty();
}

bool HaClient::OnHandshakeReply(const std::string& addr, const mq::v1::LogChunk& first, std::string* error) {
  if (!first.has_handshake()) {
    *error = NoteRefusal(
        "NO_HANDSHAKE: the master's first chunk carries no handshake reply (a master without the replication "
        "handshake?); appending nothing");
    return false;
  }
  const auto& h = first.handshake();
  if (h.status() != mq::v1::HANDSHAKE_ACCEPTED) {
    *error = NoteRefusal(
        HandshakeStatusName(h.status()) + ": " + h.message(),
        h.status() == mq::v1::HANDSHAKE_SLAVE_AHEAD || h.status() == mq::v1::HANDSHAKE_LOG_DIVERGED);
    return false;
  }
  // The master checked both; an accepting reply that disagrees is a bug, and appending after
  // it would corrupt the log.
  const int64_t local = store_->MaxPhyOffset();
  if (h.mapped_file_size_commit_log() != store_->options().mapped_file_size_commit_log ||
      first.start_offset() != local) {
    *error = NoteRefusal(fmt::format(
        "BAD_REPLY: the master accepted mappedFileSizeCommitLog={} from offset {}, but this slave has {} and "
        "ends at {}; appending nothing",
        h.mapped_file_size_commit_log(), first.start_offset(), store_->options().mapped_file_size_commit_log,
        local));
    return false;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    refused_.clear();
    diverged_ = false;
    last_logged_refusal_.clear();
  }
  MQ_LOG_INFO(Logger("ha"),
              "handshake accepted by master {}: replicating from offset {} (master min {} max {})", addr,
              local, h.master_min_offset(), h.master_max_offset());
  return true;
}

std::string HaClient::NoteRefusal(const std::string& reason, bool diverged) {
  bool changed = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    refused_ = reason;
    diverged_ = diverged;
    // The kind ("SLAVE_AHEAD"), not the message: it carries offsets that move.
    const std::string kind = reason.substr(0, reason.find(':'));
    changed = last_logged_refusal_ != kind;
    last_logged_refusal_ = kind;
  }
  // Retries come every few seconds; the status keeps the reason, the log says it once per kind.
  if (changed) {
    MQ_LOG_ERROR(Logger("ha"), "replication refused by the master: {}", reason);
  } else {
    MQ_LOG_DEBUG(Logger("ha"), "replication refused by the master again: {}", reason);
  }
  return reason;
}

void HaClient::MetadataLoop() {
  int64_t next_periodic = WallMillis() + kMetadataSyncInterval.count();
  int64_t last_attempt = 0;
  while (true) {
    std::string addr;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_ || md_requested_; });
      if (stop_) return;
      const int64_t now = WallMillis();
      // Watchdog: the master heartbeats every second, so a silent stream is a dead one.
      if (live_ != nullptr && last_chunk_ms_ != 0 && now - last_chunk_ms_ > kStreamSilenceMs) {
        MQ_LOG_WARN(Logger("ha"), "no data from master {} for {} ms{}; reconnecting",
                    connected_addr_.empty() ? master_() : connected_addr_, now - last_chunk_ms_,
                    connected_addr_.empty() ? " (no handshake reply)" : "");
        live_->TryCancel();
        last_chunk_ms_ = 0;
      }
      // At most one sync a second however often the master's metadata changes.
      if (!(md_requested_ || now >= next_periodic) || now - last_attempt < 1000) continue;
      md_requested_ = false;
      next_periodic = now + kMetadataSyncInterval.count();
      last_attempt = now;
      // Only over a live stream this master accepted: a refused (e.g. diverged) slave's consumer
      // offsets point into another history, and the master would adopt those that are ahead. A
      // master that restarted has not said yet whether it accepts this slave (an earlier
      // master's acceptance does not count); the stream's first chunk asks for a sync.
      if (connected_addr_.empty() || !refused_.empty()) continue;
      addr = connected_addr_;
    }
    SyncMetadata(addr);
  }
}

bool HaClient::SyncMetadata(const std::string& addr) {
  auto stub = mq::v1::Replication::NewStub(rpc::CreateChannel(addr));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kMetadataTimeout);
  mq::v1::GetMetadataRequest req;
  req.set_broker_name(options_.broker_name);
  req.set_broker_id(options_.broker_id);
  *req.mutable_slave_offsets() = LocalCommits(metadata_.offsets->Snapshot(), last_master_.offsets);
  mq::v1::GetMetadataResponse resp;
  grpc::Status s = stub->GetMetadata(&ctx, req, &resp);
  if (!s.ok()) {
    MQ_LOG_WARN(Logger("ha"), "metadata sync from master {} failed: {}", addr, s.error_message());
    return false;
  }
  if (Status applied = ApplyProgress(resp, &pending_progress_, metadata_); !applied.ok()) {
    MQ_LOG_WARN(Logger("ha"), "metadata sync from master {}: {}", addr, applied.ToString());
  }
  if (Status applied = ApplyMetadata(resp, last_master_, metadata_); !applied.ok()) {
    MQ_LOG_WARN(Logger("ha"), "metadata sync from master {}: {}", addr, applied.ToString());
  }
  last_master_ = TablesOf(resp);
  std::lock_guard<std::mutex> lock(mu_);
  last_md_sync_ms_ = WallMillis();
  return true;
}

void HaClient::AddRuntimeInfo(std::map<std::string, std::string>* t) const {
  const int64_t local = store_->MaxPhyOffset();
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t lag = std::max<int64_t>(0, master_max_ - local);
  (*t)["haMasterAddress"] = connected_addr_.empty() ? master_() : connected_addr_;
  (*t)["haConnected"] = connected_addr_.empty() ? "false" : "true";
  (*t)["haMasterMaxOffset"] = std::to_string(master_max_);
  (*t)["haLagBytes"] = std::to_string(lag);
  (*t)["haLagTimeMills"] = std::to_string(lag == 0 || caught_up_ms_ == 0 ? 0 : WallMillis() - caught_up_ms_);
  (*t)["haDiverged"] = diverged_ ? "true" : "false";
  (*t)["haRefused"] = refused_;
  (*t)["haLastMetadataSync"] = std::to_string(last_md_sync_ms_);
}

}  // namespace mq::ha
