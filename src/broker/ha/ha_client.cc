#include "broker/ha/ha_client.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include "broker/store/message_store.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/rpc/grpc_defaults.h"
#include "mq/v1/ha.grpc.pb.h"

namespace mq::ha {
namespace {
int64_t NowMs() { return SystemClock::Default()->NowMillis(); }
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
  repl_thread_ = std::thread([this] { ReplicationLoop(); });
  md_thread_ = std::thread([this] { MetadataLoop(); });
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
  auto stub = mq::v1::Replication::NewStub(rpc::CreateChannel(addr));
  grpc::ClientContext ctx;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return false;
    live_ = &ctx;
  }
  auto stream = stub->Replicate(&ctx);
  mq::v1::SlaveReport report;
  report.set_broker_name(options_.broker_name);
  report.set_broker_id(options_.broker_id);
  report.set_slave_addr(options_.self_addr);
  report.set_max_phy_offset(store_->MaxPhyOffset());
  bool got_any = false;
  std::string error;
  if (stream->Write(report)) {
    mq::v1::LogChunk chunk;
    while (stream->Read(&chunk)) {
      const int64_t local = store_->MaxPhyOffset();
      if (chunk.master_max_offset() < local) {
        error = fmt::format(
            "DIVERGED: this slave's commit log ends at {} but the master's ends at {} (the master lost "
            "unflushed data); refusing to replicate. Stop this slave, wipe its store and restart it",
            local, chunk.master_max_offset());
        std::lock_guard<std::mutex> lock(mu_);
        diverged_ = true;
        break;
      }
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
      }
      const int64_t now_max = store_->MaxPhyOffset();
      bool sync_md = false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!got_any) {
          MQ_LOG_INFO(log, "replicating from master {} at offset {} (master max {})", addr, local,
                      chunk.master_max_offset());
          connected_addr_ = addr;
          sync_md = true;
        }
        diverged_ = false;
        last_chunk_ms_ = NowMs();
        master_max_ = chunk.master_max_offset();
        if (now_max >= master_max_) caught_up_ms_ = NowMs();
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
  bool stopping = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    live_ = nullptr;
    last_chunk_ms_ = 0;
    connected_addr_.clear();
    stopping = stop_;
  }
  if (!stopping) {
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

void HaClient::MetadataLoop() {
  int64_t next_periodic = NowMs() + kMetadataSyncInterval.count();
  int64_t last_attempt = 0;
  while (true) {
    std::string addr;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_ || md_requested_; });
      if (stop_) return;
      const int64_t now = NowMs();
      // Watchdog: the master heartbeats every second, so a silent stream is a dead one.
      if (live_ != nullptr && last_chunk_ms_ != 0 && now - last_chunk_ms_ > kStreamSilenceMs) {
        MQ_LOG_WARN(Logger("ha"), "no data from master {} for {} ms; reconnecting", connected_addr_,
                    now - last_chunk_ms_);
        live_->TryCancel();
        last_chunk_ms_ = 0;
      }
      // At most one sync a second however often the master's metadata changes.
      if (!(md_requested_ || now >= next_periodic) || now - last_attempt < 1000) continue;
      md_requested_ = false;
      next_periodic = now + kMetadataSyncInterval.count();
      last_attempt = now;
      addr = connected_addr_;
    }
    if (addr.empty()) addr = master_();
    if (!addr.empty()) SyncMetadata(addr);
  }
}

bool HaClient::SyncMetadata(const std::string& addr) {
  auto stub = mq::v1::Replication::NewStub(rpc::CreateChannel(addr));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kMetadataTimeout);
  mq::v1::GetMetadataRequest req;
  req.set_broker_name(options_.broker_name);
  req.set_broker_id(options_.broker_id);
  *req.mutable_slave_offsets() = LocalCommits(metadata_.offsets->Snapshot(), last_master_offsets_);
  mq::v1::GetMetadataResponse resp;
  grpc::Status s = stub->GetMetadata(&ctx, req, &resp);
  if (!s.ok()) {
    MQ_LOG_WARN(Logger("ha"), "metadata sync from master {} failed: {}", addr, s.error_message());
    return false;
  }
  if (Status applied = ApplyMetadata(resp, metadata_); !applied.ok()) {
    MQ_LOG_WARN(Logger("ha"), "metadata sync from master {}: {}", addr, applied.ToString());
  }
  last_master_offsets_ = resp.offsets();
  std::lock_guard<std::mutex> lock(mu_);
  last_md_sync_ms_ = NowMs();
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
  (*t)["haLagTimeMills"] = std::to_string(lag == 0 || caught_up_ms_ == 0 ? 0 : NowMs() - caught_up_ms_);
  (*t)["haDiverged"] = diverged_ ? "true" : "false";
  (*t)["haLastMetadataSync"] = std::to_string(last_md_sync_ms_);
}

}  // namespace mq::ha
