#include "broker/ha/replicate_stream.h"

#include <string>

#include "broker/ha/ha_service.h"
#include "broker/ha/handshake.h"
#include "broker/store/message_store.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/thread_name.h"

namespace mq::ha {

ReplicateStream::ReplicateStream(HaService* owner, grpc::CallbackServerContext* ctx)
    : owner_(owner), ctx_(ctx) {
  StartRead(&report_);
}

void ReplicateStream::OnReadDone(bool ok) {
  if (!handshake_read_) {
    handshake_read_ = true;
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "no slave report"));
      return;
    }
    owner_->StreamStarted();
    StartNamedThread("mq-ha-stream", [this] { Run(); }).detach();
    return;
  }
  if (ok) {
    owner_->OnAck(conn_, report_.max_phy_offset());
    StartRead(&report_);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    reading_ = false;
  }
  cv_.notify_all();
  EndLoop();
}

void ReplicateStream::OnWriteDone(bool ok) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    write_pending_ = false;
    write_ok_ = ok;
  }
  cv_.notify_all();
}

void ReplicateStream::OnCancel() { EndLoop(); }

void ReplicateStream::OnDone() { delete this; }

void ReplicateStream::EndLoop() {
  ending_.store(true);
  owner_->NotifyAppended();
}

bool ReplicateStream::WriteAndWait(const mq::v1::LogChunk& chunk) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    write_pending_ = true;
  }
  StartWrite(&chunk);
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !write_pending_; });
  return write_ok_;
}

void ReplicateStream::StopReading() {
  ctx_->TryCancel();
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !reading_; });
}

void ReplicateStream::Run() {
  HaService* const owner = owner_;  // OnDone may delete this as soon as Finish is called
  Finish(Serve());
  owner->StreamEnded();
}

grpc::Status ReplicateStream::Serve() {
  auto log = Logger("ha");
  const mq::v1::SlaveReport first = report_;
  store::MessageStore* store = owner_->store_;
  int64_t next = first.max_phy_offset();
  // Nothing is streamed and no ack counts before the handshake proves a common history.
  const HandshakeVerdict verdict = CheckHandshake(*store, owner_->options_.broker_name, first);
  mq::v1::LogChunk reply;
  reply.set_start_offset(next);
  *reply.mutable_handshake() = MakeHandshakeReply(*store, verdict);
  reply.set_master_max_offset(reply.handshake().master_max_offset());
  reply.set_master_time_ms(WallMillis());
  if (!verdict.accepted()) {
    owner_->RecordRefusal(first.broker_id(), first.slave_addr(), HandshakeStatusName(verdict.status),
                          verdict.message);
    (void)WriteAndWait(reply);  // best effort: the status says the same
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, verdict.message);
  }
  reply.set_metadata_version(owner_->metadata_version());
  conn_ = owner_->AddSlave(first.broker_id(), first.slave_addr(), next);
  MQ_LOG_INFO(log, "slave connected broker_id={} addr={} peer={} from_offset={} master_max={}",
              first.broker_id(), first.slave_addr(), ctx_->peer(), next, store->MaxPhyOffset());
  {
    std::lock_guard<std::mutex> lock(mu_);
    reading_ = true;
  }
  StartRead(&report_);  // acks from here on (OnReadDone)
  auto last_send = std::chrono::steady_clock::now();
  std::string error;
  bool writing = WriteAndWait(reply);
  while (writing && !ending_.load()) {
    owner_->WaitForData(next, last_send + kHeartbeatInterval, ending_);
    if (owner_->stopping()) break;
    mq::v1::LogChunk chunk;
    chunk.set_start_offset(next);
    if (next <= store->MaxPhyOffset()) {
      auto bytes = store->ReadReplicaBytes(next, kMaxChunkBytes);
      if (!bytes.ok()) {
        error = bytes.status().ToString();
        break;
      }
      *chunk.mutable_data() = std::move(bytes).value();
    }
    auto now = std::chrono::steady_clock::now();
    if (chunk.data().empty() && now - last_send < kHeartbeatInterval) continue;
    chunk.set_master_max_offset(store->MaxPhyOffset());
    chunk.set_master_time_ms(WallMillis());
    chunk.set_metadata_version(owner_->metadata_version());
    const auto size = static_cast<int64_t>(chunk.data().size());
    // Before the write: the slave may ack these bytes as soon as they leave.
    if (size > 0) owner_->OnStreamed(conn_, next + size);
    if (!WriteAndWait(chunk)) break;
    next += size;
    last_send = now;
  }
  StopReading();
  owner_->RemoveSlave(conn_);
  MQ_LOG_INFO(log, "slave disconnected broker_id={} addr={} sent_to={} {}", first.broker_id(),
              first.slave_addr(), next, error);
  if (!error.empty()) return grpc::Status(grpc::StatusCode::INTERNAL, error);
  return grpc::Status::OK;
}

}  // namespace mq::ha
