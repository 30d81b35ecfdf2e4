#include "transaction_producer_checks.h"

#include <grpcpp/grpcpp.h>

#include <chrono>

#include "common/logging.h"
#include "convert.h"
#include "user_callback_mark.h"

namespace mq::client {

class TransactionChecks::Stream final : public grpc::ClientReadReactor<mq::v1::TransactionCheck> {
 public:
  Stream(TransactionChecks* owner, std::string addr) : owner_(owner), addr_(std::move(addr)) {}

  void Begin(mq::v1::Messaging::Stub* stub, const std::string& client_id, const std::string& group) {
    request_.set_client_id(client_id);
    request_.set_producer_group(group);
    stub->async()->TransactionCheckStream(&ctx_, &request_, this);
    StartRead(&check_);
    StartCall();
  }
  void Cancel() { ctx_.TryCancel(); }

  void OnReadInitialMetadataDone(bool ok) override {
    if (ok) owner_->OnStreamLive(addr_);
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    owner_->OnCheck(addr_, check_);
    check_.Clear();
    StartRead(&check_);
  }
  void OnDone(const grpc::Status& status) override {
    if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
      MQ_LOG_INFO(Logger("client"), "transaction check stream to {} ended: {}", addr_,
                  status.error_message());
    }
    owner_->OnStreamDone(addr_, this);
    // The reactor, and its context's hold on the channel, go before the owner hears: a
    // Shutdown() waiting for this may then drop the channels, which must not die here on gRPC's
    // thread (rpc_call.h, IssueCall).
    TransactionChecks* owner = owner_;
    delete this;
    owner->OnStreamGone();
  }

 private:
  TransactionChecks* const owner_;
  const std::string addr_;
  grpc::ClientContext ctx_;
  mq::v1::TransactionCheckStreamRequest request_;
  mq::v1::TransactionCheck check_;
};

void TransactionChecks::Start() {
  std::weak_ptr<TransactionChecks> weak = weak_from_this();
  timer_ = client_->internal().ScheduleEvery(std::chrono::milliseconds(0), std::chrono::milliseconds(1000),
                                             [weak] {
                                               if (auto self = weak.lock()) self->OpenMissing();
                                             });
}

void TransactionChecks::OpenMissing() {
  for (const auto& addr : client_->MasterAddresses()) {
    auto stub = client_->Broker(addr);
    Stream* stream = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_ || streams_.count(addr) != 0) continue;
      stream = new Stream(this, addr);
      streams_[addr] = stream;
      ++streams_alive_;
    }
    // Started outside mu_: its reactions may run at once and take mu_. Shutdown() waits for
    // this stream's OnDone, so `this` outlives it.
    stream->Begin(stub.get(), client_->client_id(), group_);
  }
}

void TransactionChecks::OnStreamLive(const std::string& addr) {
  std::lock_guard<std::mutex> lock(mu_);
  live_[addr] = true;
}

void TransactionChecks::OnStreamDone(const std::string& addr, Stream* stream) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = streams_.find(addr);
  if (it != streams_.end() && it->second == stream) {
    streams_.erase(it);
    live_.erase(addr);
  }
}

void TransactionChecks::OnStreamGone() {
  std::lock_guard<std::mutex> lock(mu_);
  --streams_alive_;
  done_cv_.notify_all();
}

bool TransactionChecks::Stopping() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

size_t TransactionChecks::Live() const {
  std::lock_guard<std::mutex> lock(mu_);
  return live_.size();
}

void TransactionChecks::OnCheck(const std::string& addr, const mq::v1::TransactionCheck& check) {
  // User code never runs on a gRPC thread.
  std::weak_ptr<TransactionChecks> weak = weak_from_this();
  client_->callbacks().Post([weak, addr, check] {
    auto self = weak.lock();
    if (!self) return;
    LocalTransactionState state = LocalTransactionState::kUnknown;
    try {
      UserCallbackScope in_callback;  // a Shutdown() from the checker must not stop this thread
      state = self->checker_(FromProto(check.message()));
    } catch (const std::exception& e) {
      MQ_LOG_WARN(Logger("client"), "transaction checker threw for txn={}: {}", check.transaction_id(),
                  e.what());
    } catch (...) {
      MQ_LOG_WARN(Logger("client"), "transaction checker threw for txn={}", check.transaction_id());
    }
    self->answered_.fetch_add(1);
    if (state == LocalTransactionState::kUnknown) return;  // asked again after the next interval
    // Shut down meanwhile (by the checker itself, say): no new call on a client going away; the
    // broker asks again, another producer or after a restart.
    if (self->Stopping()) return;
    mq::v1::EndTransactionRequest req;
    req.set_producer_group(self->group_);
    req.set_transaction_id(check.transaction_id());
    req.set_commit_log_offset(check.commit_log_offset());
    req.set_resolution(state == LocalTransactionState::kCommitMessage ? mq::v1::TRANSACTION_COMMIT
                                                                      : mq::v1::TRANSACTION_ROLLBACK);
    req.set_from_check(true);
    auto stub = self->client_->Broker(addr);
    std::string txn = check.transaction_id();
    StartCall<mq::v1::EndTransactionRequest, mq::v1::EndTransactionResponse>(
        [stub](auto* c, auto* q, auto* r, auto cb) { stub->async()->EndTransaction(c, q, r, std::move(cb)); },
        std::move(req), self->client_->options().rpc_timeout_ms, &self->client_->internal(),
        self->client_->inflight(),
        [txn, addr](Result<mq::v1::EndTransactionResponse> r) {
          if (!r.ok()) {
            MQ_LOG_WARN(Logger("client"), "end of checked txn={} at {} failed: {}", txn, addr,
                        r.status().ToString());
          }
        });
  });
}

void TransactionChecks::Shutdown() {
  client_->internal().Cancel(timer_);
  std::unique_lock<std::mutex> lock(mu_);
  stopping_ = true;
  for (auto& [addr, stream] : streams_) stream->Cancel();
  // Cancelled calls complete promptly; the bound only guards against a stuck gRPC.
  done_cv_.wait_for(lock, std::chrono::seconds(10), [this] { return streams_alive_ == 0; });
}

}  // namespace mq::client
