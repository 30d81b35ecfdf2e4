// TelemetrySessions: the v2 Telemetry streams (one bidi call per client and broker). A client
// writes its Settings; the session answers with the broker's settings through `on_settings`
// and re-sends that answer after each delay of `resend_after` (the Node SDK drops a reply that
// arrives while it is still querying routes of its other topics, then waits forever) and
// whenever the client heartbeats. The registry also implements txn::CheckSender for v2
// producers: an orphaned transaction of producer group G (= its topic, the proxy's convention)
// goes out as RecoverOrphanedTransactionCommand on a stream of a producer publishing to G.
// Closing: a client half-close finishes the call with OK once queued writes are out (never a
// cancel: the Node SDK crashes on an error after its half-close); CloseAll() (broker shutdown)
// finishes every open call with OK, gives the clients a moment to take the OK, then cancels
// what is still open (a call ends only once the client half-closes or it is cancelled, and the
// server's drain would otherwise wait for its deadline).
// Threads: reactor callbacks on gRPC threads, SendCheck() on the transaction check thread,
// re-sends on the IoExecutor. Locking: mu_ (registry) is taken before a session's own mutex,
// never the reverse; `on_settings` runs with no lock held.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "apache/rocketmq/v2/service.pb.h"
#include "broker/transaction/check_sender.h"
#include "broker/v2/consumer_rpcs.h"
#include "common/io_executor.h"
#include "mq/v1/broker.pb.h"

namespace mq::broker::v2 {

// What the service decided about a client's Settings.
struct SettingsOutcome {
  apache::rocketmq::v2::TelemetryCommand reply;
  mq::v1::HeartbeatRequest registration;  // v1 registration, repeated on Heartbeat
  std::set<std::string> producer_groups;  // stored names; orphan checks of these come here
  std::string consumer_group;             // stored name; "" for producers
  std::string name_space;
};

class TelemetrySessions final : public txn::CheckSender {
 public:
  // (call, peer "host:port", the client's settings) -> the broker's decision.
  using SettingsHandler = std::function<SettingsOutcome(const CallContext&, const std::string&,
                                                        const apache::rocketmq::v2::Settings&)>;
  // v1 check -> v2 command for a session in namespace `ns`.
  using CheckConverter = std::function<apache::rocketmq::v2::TelemetryCommand(const mq::v1::TransactionCheck&,
                                                                              const std::string& ns)>;
  // What one stream may hold unwritten (a client that does not read its stream, or reads it
  // slowly): a check carries its whole message, up to 4 MiB. Beyond either bound a command is
  // refused (a check goes to another stream of the group, or waits for the next round); the
  // first command of an empty queue always fits.
  static constexpr size_t kMaxQueuedCommands = 1024;
  static constexpr size_t kMaxQueuedBytes = size_t{8} << 20;

  // `executor` must outlive every session (the owner shuts the v2 server down first).
  TelemetrySessions(IoExecutor* executor, SettingsHandler on_settings, CheckConverter to_check,
                    std::vector<std::chrono::milliseconds> resend_after);
  ~TelemetrySessions() override = default;
  TelemetrySessions(const TelemetrySessions&) = delete;
  TelemetrySessions& operator=(const TelemetrySessions&) = delete;

  grpc::ServerBidiReactor<apache::rocketmq::v2::TelemetryCommand, apache::rocketmq::v2::TelemetryCommand>*
  Open(grpc::CallbackServerContext* ctx, CallContext call, std::string peer);

  bool SendCheck(const std::string& group, const mq::v1::TransactionCheck& check) override;
  // Heartbeat: re-sends the last settings reply on the client's sessions; returns its v1
  // registration (nullopt when no session of the client has settled Settings yet).
  std::optional<mq::v1::HeartbeatRequest> OnHeartbeat(const std::string& client_id);
  void CloseAll();
  size_t LiveSessions() const;

  class Session;

 private:
  friend class Session;
  bool Add(Session* session);  // false when closed (shutdown)
  void Remove(Session* session);
  void ScheduleResends(uint64_t session_id);
  void Resend(uint64_t session_id);

  IoExecutor* const executor_;
  const SettingsHandler on_settings_;
  const CheckConverter to_check_;
  const std::vector<std::chrono::milliseconds> resend_after_;

  mutable std::mutex mu_;
  std::condition_variable done_cv_;        // a session left sessions_
  std::map<uint64_t, Session*> sessions_;  // GUARDED_BY(mu_)
  uint64_t next_id_ = 1;                   // GUARDED_BY(mu_)
  uint64_t round_robin_ = 0;               // GUARDED_BY(mu_)
  bool closed_ = false;                    // GUARDED_BY(mu_)
};

// Sends orphaned-transaction checks to v1 check streams first, then to v2 producers.
class CheckSenderChain final : public txn::CheckSender {
 public:
  CheckSenderChain(txn::CheckSender* first, txn::CheckSender* second) : first_(first), second_(second) {}
  bool SendCheck(const std::string& group, const mq::v1::TransactionCheck& check) override {
    if (first_->SendCheck(group, check)) return true;
    txn::CheckSender* second = second_.load();
    return second != nullptr && second->SendCheck(group, check);
  }
  // May be set while the check thread runs (the v2 front starts after the check service).
  void set_second(txn::CheckSender* second) { second_.store(second); }

 private:
  txn::CheckSender* const first_;
  std::atomic<txn::CheckSender*> second_;
};

}  // namespace mq::broker::v2
