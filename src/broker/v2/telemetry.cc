#include "broker/v2/telemetry.h"

#include <deque>

#include "broker/v2/v2_status.h"
#include "common/logging.h"

namespace mq::broker::v2 {
namespace pb = apache::rocketmq::v2;

class TelemetrySessions::Session final
    : public grpc::ServerBidiReactor<pb::TelemetryCommand, pb::TelemetryCommand> {
 public:
  Session(TelemetrySessions* owner, grpc::CallbackServerContext* context, CallContext call, std::string peer)
      : ctx(context), owner_(owner), call_(std::move(call)), peer_(std::move(peer)) {}

  grpc::CallbackServerContext* const ctx;  // valid until OnDone

  void Begin() { StartRead(&in_); }

  uint64_t id = 0;  // set by the registry under its lock before any callback can see it
  const CallContext& call() const { return call_; }

  // False when the call is finishing or too far behind.
  bool Enqueue(const pb::TelemetryCommand& command) {
    std::lock_guard<std::mutex> lock(mu_);
    return EnqueueLocked(command);
  }

  // True when a command of at least `bytes` would be refused now: a check is not built (a copy
  // of its whole message) for a session whose client does not read its stream.
  bool Refuses(size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    return closing_ || queue_.size() >= kMaxQueuedCommands ||
           (!queue_.empty() && queued_bytes_ + bytes > kMaxQueuedBytes);
  }

  bool ResendSettings() {
    std::lock_guard<std::mutex> lock(mu_);
    return settled_ && EnqueueLocked(outcome_.reply);
  }

  bool Publishes(const std::string& group) {
    std::lock_guard<std::mutex> lock(mu_);
    return settled_ && outcome_.producer_groups.count(group) > 0;
  }

  std::optional<std::pair<mq::v1::HeartbeatRequest, std::string>> Registration() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!settled_) return std::nullopt;
    return std::make_pair(outcome_.registration, outcome_.name_space);
  }

  std::string name_space() {
    std::lock_guard<std::mutex> lock(mu_);
    return outcome_.name_space;
  }

  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
    // The front is being written: it stays until OnWriteDone.
    if (writing_) {
      queue_.erase(queue_.begin() + 1, queue_.end());
      queued_bytes_ = queue_.front().bytes;
    } else {
      queue_.clear();
      queued_bytes_ = 0;
      FinishLocked();
    }
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // Half-close (client shutdown) or a broken call: finish once the queued writes are out.
      std::lock_guard<std::mutex> lock(mu_);
      closing_ = true;
      if (!writing_) FinishLocked();
      return;
    }
    if (in_.has_settings()) {
      SettingsOutcome outcome = owner_->on_settings_(call_, peer_, in_.settings());
      {
        std::lock_guard<std::mutex> lock(mu_);
        outcome_ = std::move(outcome);
        settled_ = true;
        EnqueueLocked(outcome_.reply);
      }
      owner_->ScheduleResends(id);
    } else if (in_.has_thread_stack_trace() || in_.has_verify_message_result()) {
      // Answers to diagnostics this broker never asks for; accepted and dropped.
      MQ_LOG_DEBUG(Logger("broker"), "v2 telemetry: ignored {} from client_id={}",
                   in_.has_thread_stack_trace() ? "thread_stack_trace" : "verify_message_result",
                   call_.client_id);
    }
    in_.Clear();
    std::lock_guard<std::mutex> lock(mu_);
    if (!finished_) StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!queue_.empty()) {
      queued_bytes_ -= queue_.front().bytes;
      queue_.pop_front();
    }
    if (!ok) closing_ = true;
    if (closing_) {
      queue_.clear();
      queued_bytes_ = 0;
      return FinishLocked();
    }
    if (!queue_.empty()) {
      writing_ = true;
      StartWrite(&queue_.front().command);
    }
  }

  // The client went away (or the server is shutting down): the call ends; Finish is still due.
  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
    if (!writing_) FinishLocked();
  }

  void OnDone() override {
    owner_->Remove(this);
    MQ_LOG_DEBUG(Logger("broker"), "v2 telemetry closed client_id={}", call_.client_id);
    delete this;
  }

 private:
  bool EnqueueLocked(const pb::TelemetryCommand& command) {
    const size_t bytes = command.ByteSizeLong();
    if (closing_ || queue_.size() >= kMaxQueuedCommands ||
        (!queue_.empty() && queued_bytes_ + bytes > kMaxQueuedBytes)) {
      return false;
    }
    queue_.push_back({command, bytes});
    queued_bytes_ += bytes;
    if (!writing_) {
      writing_ = true;
      StartWrite(&queue_.front().command);
    }
    return true;
  }

  void FinishLocked() {
    if (finished_) return;
    finished_ = true;
    Finish(grpc::Status::OK);
  }

  TelemetrySessions* const owner_;
  const CallContext call_;
  const std::string peer_;
  pb::TelemetryCommand in_;  // only touched by the read chain (one read in flight)

  std::mutex mu_;
  struct Queued {
    pb::TelemetryCommand command;
    size_t bytes = 0;  // its encoded size
  };
  std::deque<Queued> queue_;  // GUARDED_BY(mu_); front() is being written
  size_t queued_bytes_ = 0;   // GUARDED_BY(mu_); sum of queue_'s bytes
  bool writing_ = false;      // GUARDED_BY(mu_)
  bool closing_ = false;      // GUARDED_BY(mu_)
  bool finished_ = false;     // GUARDED_BY(mu_)
  bool settled_ = false;      // GUARDED_BY(mu_)
  SettingsOutcome outcome_;   // GUARDED_BY(mu_)
};

TelemetrySessions::TelemetrySessions(IoExecutor* executor, SettingsHandler on_settings,
                                     CheckConverter to_check,
                                     std::vector<std::chrono::milliseconds> resend_after)
    : executor_(executor),
      on_settings_(std::move(on_settings)),
      to_check_(std::move(to_check)),
      resend_after_(std::move(resend_after)) {}

grpc::ServerBidiReactor<pb::TelemetryCommand, pb::TelemetryCommand>* TelemetrySessions::Open(
    grpc::CallbackServerContext* ctx, CallContext call, std::string peer) {
  auto* session = new Session(this, ctx, std::move(call), std::move(peer));
  if (Add(session)) {
    session->Begin();
  } else {
    session->Close();  // the broker is shutting down
  }
  return session;
}

bool TelemetrySessions::Add(Session* session) {
  std::lock_guard<std::mutex> lock(mu_);
  session->id = next_id_++;
  sessions_[session->id] = session;
  return !closed_;
}

void TelemetrySessions::Remove(Session* session) {
  std::lock_guard<std::mutex> lock(mu_);
  sessions_.erase(session->id);
  done_cv_.notify_all();
}

void TelemetrySessions::ScheduleResends(uint64_t session_id) {
  for (auto delay : resend_after_) {
    executor_->ScheduleAfter(delay, [this, session_id] { Resend(session_id); });
  }
}

void TelemetrySessions::Resend(uint64_t session_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(session_id);
  if (it != sessions_.end()) it->second->ResendSettings();
}

std::optional<mq::v1::HeartbeatRequest> TelemetrySessions::OnHeartbeat(const std::string& client_id) {
  std::optional<mq::v1::HeartbeatRequest> registration;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, session] : sessions_) {
    if (session->call().client_id != client_id) continue;
    auto r = session->Registration();
    if (!r) continue;
    session->ResendSettings();
    if (!registration) {
      registration = std::move(r->first);
    } else {
      // Several streams of one client (one per topic route): register the union.
      for (const auto& p : r->first.producers()) *registration->add_producers() = p;
      for (const auto& c : r->first.consumers()) *registration->add_consumers() = c;
    }
  }
  return registration;
}

bool TelemetrySessions::SendCheck(const std::string& group, const mq::v1::TransactionCheck& check) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Session*> candidates;
  for (auto& [id, session] : sessions_) {
    if (session->Publishes(group)) candidates.push_back(session);
  }
  for (size_t i = 0; i < candidates.size(); ++i) {
    Session* s = candidates[(round_robin_ + i) % candidates.size()];
    if (s->Refuses(check.message().message().body().size())) continue;
    if (s->Enqueue(to_check_(check, s->name_space()))) {
      round_robin_ += i + 1;
      return true;
    }
  }
  return false;
}

void TelemetrySessions::CloseAll() {
  std::unique_lock<std::mutex> lock(mu_);
  closed_ = true;
  for (auto& [id, session] : sessions_) session->Close();
  // The OK status is on its way; a client that does not half-close in answer would keep its
  // call (and the server's drain) open until cancelled.
  done_cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return sessions_.empty(); });
  for (auto& [id, session] : sessions_) session->ctx->TryCancel();
}

size_t TelemetrySessions::LiveSessions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sessions_.size();
}

}  // namespace mq::broker::v2
