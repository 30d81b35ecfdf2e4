#include "broker/processor/end_transaction_check_streams.h"

#include <deque>
#include <iterator>

#include "common/logging.h"
#include "common/naming.h"
#include "common/rpc/status_convert.h"

namespace mq::broker {

class TransactionCheckStreams::Stream final : public grpc::ServerWriteReactor<mq::v1::TransactionCheck> {
 public:
  Stream(TransactionCheckStreams* owner, std::string group, std::string client_id)
      : owner_(owner), group_(std::move(group)), client_id_(std::move(client_id)) {}

  void Begin() {
    // Tells the producer the stream is established (it then counts as live).
    StartSendInitialMetadata();
  }

  // False when the stream is finishing or too far behind.
  bool Enqueue(const mq::v1::TransactionCheck& check) {
    std::lock_guard<std::mutex> lock(mu_);
    if (finishing_ || queue_.size() >= kMaxQueuedChecks) return false;
    queue_.push_back(check);
    if (!writing_) {
      writing_ = true;
      StartWrite(&queue_.front());
    }
    return true;
  }

  void Close(const grpc::Status& status) {
    std::lock_guard<std::mutex> lock(mu_);
    FinishLocked(status);
  }

  const std::string& group() const { return group_; }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!queue_.empty()) queue_.pop_front();
    if (!ok) return FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
    if (finishing_) return;
    if (!queue_.empty()) {
      writing_ = true;
      StartWrite(&queue_.front());
    }
  }
  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }
  void OnDone() override {
    owner_->Remove(this);
    MQ_LOG_DEBUG(Logger("broker"), "transaction check stream closed group={} client_id={}", group_,
                 client_id_);
    delete this;
  }

 private:
  void FinishLocked(const grpc::Status& status) {
    if (finishing_) return;
    finishing_ = true;
    // gRPC allows Finish with a write outstanding; the write then completes with !ok.
    Finish(status);
  }

  TransactionCheckStreams* const owner_;
  const std::string group_;
  const std::string client_id_;
  std::mutex mu_;
  std::deque<mq::v1::TransactionCheck> queue_;  // GUARDED_BY(mu_); front is being written
  bool writing_ = false;                        // GUARDED_BY(mu_)
  bool finishing_ = false;                      // GUARDED_BY(mu_)
};

grpc::ServerWriteReactor<mq::v1::TransactionCheck>* TransactionCheckStreams::Open(
    const mq::v1::TransactionCheckStreamRequest& request) {
  auto* stream = new Stream(this, request.producer_group(), request.client_id());
  Status valid = ValidateName("producer_group", request.producer_group());
  if (valid.ok() && request.client_id().empty())
    valid = Status::InvalidArgument("client_id: must not be empty");
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (valid.ok() && closed_) valid = Status::Unavailable("broker: shutting down");
    if (valid.ok()) {
      stream->Begin();  // before any check can be written to it
      streams_.emplace(request.producer_group(), stream);
    }
  }
  if (!valid.ok()) {
    // Not registered: Remove() in OnDone finds nothing.
    stream->Close(rpc::ToGrpcStatus(valid));
    return stream;
  }
  MQ_LOG_INFO(Logger("broker"), "transaction check stream opened group={} client_id={}",
              request.producer_group(), request.client_id());
  return stream;
}

void TransactionCheckStreams::Remove(Stream* stream) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [begin, end] = streams_.equal_range(stream->group());
  for (auto it = begin; it != end; ++it) {
    if (it->second == stream) {
      streams_.erase(it);
      return;
    }
  }
}

bool TransactionCheckStreams::SendCheck(const std::string& group, const mq::v1::TransactionCheck& check) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [begin, end] = streams_.equal_range(group);
  const auto n = static_cast<uint64_t>(std::distance(begin, end));
  if (n == 0) return false;
  uint64_t start = next_[group]++;
  // Try each live stream once, starting at the round robin position.
  for (uint64_t i = 0; i < n; ++i) {
    auto it = std::next(begin, static_cast<long>((start + i) % n));
    if (it->second->Enqueue(check)) return true;
  }
  return false;
}

size_t TransactionCheckStreams::LiveStreams(const std::string& group) {
  std::lock_guard<std::mutex> lock(mu_);
  return streams_.count(group);
}

void TransactionCheckStreams::CloseAll() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  for (auto& [group, stream] : streams_) {
    stream->Close(grpc::Status(grpc::StatusCode::UNAVAILABLE, "broker: shutting down"));
  }
}

}  // namespace mq::broker
