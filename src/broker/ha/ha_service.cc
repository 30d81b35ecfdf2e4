#include "broker/ha/ha_service.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>

#include "broker/ha/replicate_stream.h"
#include "broker/store/message_store.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/rpc/grpc_defaults.h"
#include "common/utf8.h"
#include "mq/v1/ha.grpc.pb.h"

namespace mq::ha {

class HaService::Impl final : public mq::v1::Replication::CallbackService {
 public:
  explicit Impl(HaService* owner) : owner_(owner) {}

  grpc::ServerBidiReactor<mq::v1::SlaveReport, mq::v1::LogChunk>* Replicate(
      grpc::CallbackServerContext* ctx) override {
    return new ReplicateStream(owner_, ctx);
  }

  grpc::ServerUnaryReactor* GetMetadata(grpc::CallbackServerContext* ctx,
                                        const mq::v1::GetMetadataRequest* req,
                                        mq::v1::GetMetadataResponse* resp) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(Metadata(req, resp));
    return reactor;
  }

 private:
  grpc::Status Metadata(const mq::v1::GetMetadataRequest* req, mq::v1::GetMetadataResponse* resp) {
    if (req->broker_name() != owner_->options_.broker_name) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          fmt::format("broker_name: '{}' is not this master's broker set '{}'",
                                      ClipText(req->broker_name()), owner_->options_.broker_name));
    }
    // Only from a slave this master replicates to (the slave sends its commits only over an
    // accepted stream), and never past what the master holds.
    int moved = 0;
    if (!owner_->HasSlave(req->broker_id())) {
      if (req->slave_offsets().offset_table_size() > 0) {
        MQ_LOG_WARN(Logger("ha"),
                    "ignored the consumer offsets of broker_id={}: no accepted replication stream",
                    req->broker_id());
      }
    } else {
      store::MessageStore* store = owner_->store_;
      moved = AdoptAhead(req->slave_offsets(), owner_->metadata_.offsets,
                         [store](const std::string& topic, int32_t queue_id) {
                           return store->MaxOffsetInQueue(topic, queue_id);
                         });
    }
    if (moved > 0) {
      MQ_LOG_INFO(Logger("ha"), "adopted {} consumer offsets committed on slave broker_id={}", moved,
                  req->broker_id());
    }
    *resp = BuildMetadata(owner_->metadata_);
    return grpc::Status::OK;
  }

  HaService* const owner_;
};

HaService::HaService(Options options, store::MessageStore* store, MetadataManagers metadata)
    : options_(std::move(options)), store_(store), metadata_(metadata), impl_(std::make_unique<Impl>(this)) {}

HaService::~HaService() { Shutdown(); }

Status HaService::Start() {
  MQ_ASSIGN_OR_RETURN(auto started,
                      rpc::StartServer(options_.bind_host, options_.port, {impl_.get()}, "haListenPort",
                                       {.keepalive_time_ms = kSlaveKeepaliveMs,
                                        .keepalive_timeout_ms = kSlaveKeepaliveTimeoutMs}));
  server_ = std::move(started.server);
  port_ = started.port;
  waiters_.Start();
  // Writers ship each append at once, so a SYNC_MASTER send's replication overlaps its
  // SYNC_FLUSH fsync instead of starting after it.
  store_->SetAppendListener([this] { NotifyAppended(); });
  MQ_LOG_INFO(Logger("ha"), "replication service listening on {}:{}", options_.bind_host, port_);
  return Status::OK();
}

void HaService::Shutdown() {
  if (!server_) return;
  store_->SetAppendListener(nullptr);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  data_cv_.notify_all();
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server_->Wait();
  {
    // A stream thread may still be returning from its Finish.
    std::unique_lock<std::mutex> lock(mu_);
    streams_cv_.wait(lock, [&] { return live_streams_ == 0; });
  }
  server_.reset();
  waiters_.Shutdown();
}

void HaService::NotifyAppended() {
  { std::lock_guard<std::mutex> lock(mu_); }
  data_cv_.notify_all();
}

bool HaService::stopping() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stop_;
}

void HaService::StreamStarted() {
  std::lock_guard<std::mutex> lock(mu_);
  ++live_streams_;
}

void HaService::StreamEnded() {
  // Notified under the lock: Shutdown may return, and the service be destroyed, as soon as it
  // sees no stream left, so the stream thread must be done with streams_cv_ by then.
  std::lock_guard<std::mutex> lock(mu_);
  --live_streams_;
  streams_cv_.notify_all();
}

void HaService::WaitForData(int64_t offset, std::chrono::steady_clock::time_point deadline,
                            const std::atomic<bool>& cancelled) {
  std::unique_lock<std::mutex> lock(mu_);
  data_cv_.wait_until(lock, deadline,
                      [&] { return stop_ || cancelled.load() || store_->MaxPhyOffset() > offset; });
}

void HaService::WaitForSlaves(int64_t end_offset, std::chrono::milliseconds timeout,
                              std::function<void(store::PutStatus)> done) {
  const int64_t max = store_->MaxPhyOffset();
  const int64_t now = WallMillis();
  bool any_in_sync = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, s] : slaves_) any_in_sync |= InSync(s, max, now);
  }
  // No in-sync slave: fail at once rather than wait for one (RocketMQ SLAVE_NOT_AVAILABLE).
  if (!any_in_sync) return done(store::PutStatus::kSlaveNotAvailable);
  waiters_.Wait(end_offset, timeout, [done = std::move(done)](bool ok) {
    done(ok ? store::PutStatus::kOk : store::PutStatus::kFlushSlaveTimeout);
  });
}

uint64_t HaService::AddSlave(int64_t broker_id, const std::string& addr, int64_t offset) {
  uint64_t id = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = next_conn_id_++;
    Slave& s = slaves_[id];
    s.conn_id = id;
    s.broker_id = broker_id;
    s.addr = addr;
    s.ack_offset = offset;
    s.reported_offset = offset;
    s.streamed_end = offset;
    s.connected_ms = WallMillis();
    s.caught_up_ms = s.connected_ms;
    s.last_ack_ms = s.connected_ms;
    refusals_.erase(broker_id);
  }
  UpdateReplicated();
  return id;
}

void HaService::OnStreamed(uint64_t conn_id, int64_t end) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = slaves_.find(conn_id);
  if (it != slaves_.end()) it->second.streamed_end = std::max(it->second.streamed_end, end);
}

void HaService::RecordRefusal(int64_t broker_id, const std::string& addr, const std::string& status,
                              const std::string& message) {
  const int64_t now = WallMillis();
  const std::string reason = status + ": " + message;
  bool changed = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::erase_if(refusals_, [&](const auto& e) { return now - e.second.last_ms > kRefusalMemoryMs; });
    RefusedSlave& r = refusals_[broker_id];
    changed = r.count == 0 || r.reason.rfind(status + ": ", 0) != 0 || r.addr != addr;
    r.broker_id = broker_id;
    r.addr = addr;
    r.reason = reason;
    ++r.count;
    r.last_ms = now;
  }
  // Once per kind of refusal (messages carry offsets that move): the slave retries every few
  // seconds and haStatus counts the attempts.
  if (changed) {
    MQ_LOG_ERROR(Logger("ha"), "refused slave broker_id={} addr={}: {}", broker_id, addr, reason);
  } else {
    MQ_LOG_DEBUG(Logger("ha"), "refused slave broker_id={} addr={} again: {}", broker_id, addr, reason);
  }
}

void HaService::RemoveSlave(uint64_t conn_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    slaves_.erase(conn_id);
  }
  UpdateReplicated();
}

void HaService::OnAck(uint64_t conn_id, int64_t offset) {
  Slave ahead;  // set when the slave claims bytes it was never sent (logged once per stream)
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = slaves_.find(conn_id);
    if (it == slaves_.end()) return;
    Slave& s = it->second;
    if (offset > s.streamed_end && !s.reported_ahead) {
      s.reported_ahead = true;
      ahead = s;
    }
    // A slave can only hold what it was accepted with plus what this stream sent it, and its log
    // does not shrink while it streams: an ack below the last (a damaged report) counts nothing.
    s.reported_offset = offset;
    s.ack_offset = std::max(s.ack_offset, std::min(offset, s.streamed_end));
    s.last_ack_ms = WallMillis();
    if (s.ack_offset >= store_->MaxPhyOffset()) s.caught_up_ms = s.last_ack_ms;
  }
  if (ahead.reported_ahead) {
    MQ_LOG_WARN(Logger("ha"),
                "slave broker_id={} addr={} acknowledged offset {} but was only sent up to {}; counting {}",
                ahead.broker_id, ahead.addr, offset, ahead.streamed_end, ahead.streamed_end);
  }
  UpdateReplicated();
}

bool HaService::HasSlave(int64_t broker_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::any_of(slaves_.begin(), slaves_.end(),
                     [broker_id](const auto& s) { return s.second.broker_id == broker_id; });
}

void HaService::UpdateReplicated() {
  const int64_t max = store_->MaxPhyOffset();
  const int64_t now = WallMillis();
  int64_t replicated = -1;
  uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, s] : slaves_) {
      if (!InSync(s, max, now)) continue;
      replicated = replicated < 0 ? s.ack_offset : std::min(replicated, s.ack_offset);
    }
    generation = ++replicated_generation_;
  }
  // Published outside mu_ (waiters' callbacks complete sends); the generation keeps a value
  // computed before a slave joined from overwriting the one computed after.
  waiters_.SetReplicatedOffset(replicated, generation);
}

uint64_t HaService::metadata_version() {
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (now - md_version_at_ < std::chrono::seconds(1)) return md_version_;
  }
  uint64_t v = MetadataFingerprint(BuildMetadata(metadata_));
  std::lock_guard<std::mutex> lock(mu_);
  md_version_ = v;
  md_version_at_ = now;
  return v;
}

std::vector<SlaveStatus> HaService::Slaves() const {
  const int64_t max = store_->MaxPhyOffset();
  const int64_t now = WallMillis();
  std::vector<SlaveStatus> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, s] : slaves_) {
    SlaveStatus st;
    st.broker_id = s.broker_id;
    st.addr = s.addr;
    st.ack_offset = s.ack_offset;
    st.reported_offset = s.reported_offset;
    st.lag_bytes = std::max<int64_t>(0, max - s.ack_offset);
    st.lag_ms = st.lag_bytes == 0 ? 0 : std::max<int64_t>(0, now - s.caught_up_ms);
    st.connected_ms = s.connected_ms;
    st.in_sync = InSync(s, max, now);
    out.push_back(std::move(st));
  }
  return out;
}

std::vector<RefusedSlave> HaService::Refused() const {
  const int64_t now = WallMillis();
  std::vector<RefusedSlave> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, r] : refusals_) {
    if (now - r.last_ms <= kRefusalMemoryMs) out.push_back(r);
  }
  return out;
}

void HaService::AddRuntimeInfo(std::map<std::string, std::string>* t) const {
  auto slaves = Slaves();
  (*t)["haListenPort"] = std::to_string(port_);
  (*t)["haSlaveCount"] = std::to_string(slaves.size());
  (*t)["haPendingSyncRequests"] = std::to_string(waiters_.pending());
  for (const auto& s : slaves) {
    (*t)[fmt::format("haSlaveAddr_{}", s.broker_id)] = s.addr;
    (*t)[fmt::format("haSlaveAckOffset_{}", s.broker_id)] = std::to_string(s.ack_offset);
    (*t)[fmt::format("haLagBytes_{}", s.broker_id)] = std::to_string(s.lag_bytes);
    (*t)[fmt::format("haLagTimeMills_{}", s.broker_id)] = std::to_string(s.lag_ms);
    (*t)[fmt::format("haSlaveInSync_{}", s.broker_id)] = s.in_sync ? "true" : "false";
  }
  for (const auto& r : Refused()) {
    (*t)[fmt::format("haRefusedAddr_{}", r.broker_id)] = r.addr;
    (*t)[fmt::format("haRefusedReason_{}", r.broker_id)] = r.reason;
    (*t)[fmt::format("haRefusedCount_{}", r.broker_id)] = std::to_string(r.count);
  }
}

}  // namespace mq::ha
