// ClientInstance: the shared machinery behind one producer or consumer handle: client id,
// executors, broker/NameServer channels, the topic route cache with NameServer failover, and
// the periodic route refresh and broker heartbeat.
//
// Threads: `internal()` (2 threads) runs timers, RPC completions and client bookkeeping and
// must never block on the network: every call it starts is asynchronous (route queries,
// heartbeats, offset flushes), so thousands of send completions never queue behind a slow
// NameServer or broker. `callbacks()` runs user code. Blocking helpers (GetRoute,
// HeartbeatAll(wait)) are for other threads only (rebalance, user threads).
// Locking: mu_ guards routes_, route_waiters_, stubs_, ns_stubs_, heartbeat_ and
// heartbeat_inflight_; never held across an RPC or a callback. Lifecycle: Create -> Start ->
// ... -> Shutdown (idempotent; waits for in-flight async RPC completions, then stops both
// executors).
#pragma once
#include <grpcpp/generic/generic_stub.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/io_executor.h"
#include "common/result.h"
#include "fast_send_connection.h"
#include "mq/client/client_options.h"
#include "mq/v1/broker.grpc.pb.h"
#include "mq/v1/namesrv.grpc.pb.h"
#include "rpc_call.h"
#include "send_channel_pool.h"

namespace mq::client {

class ClientInstance {
 public:
  ClientInstance(ClientOptions options, int callback_threads);
  ~ClientInstance();
  ClientInstance(const ClientInstance&) = delete;
  ClientInstance& operator=(const ClientInstance&) = delete;

  // Validates the NameServer list and starts executors and timers.
  Status Start();
  // Unregisters the given groups from every known broker, then stops everything.
  void Shutdown(const std::vector<std::string>& producer_groups,
                const std::vector<std::string>& consumer_groups);

  const std::string& client_id() const { return client_id_; }
  const ClientOptions& options() const { return options_; }
  IoExecutor& internal() { return *internal_; }
  IoExecutor& callbacks() { return *callbacks_; }
  // The thread that reads the fast send connections' replies (mq-fast-send).
  const IoExecutor& fast_io() const { return *fast_io_; }
  const std::shared_ptr<InflightCounter>& inflight() const { return inflight_; }

  std::shared_ptr<mq::v1::Messaging::Stub> Broker(const std::string& addr);
  // SendMessage with a request the caller has already serialized (send_wire.h), on the
  // broker's send connection with the fewest sends in flight (send_channel_pool.h; the first is
  // Broker(addr)'s channel). Keep the lease until the call has completed.
  using PreEncodedSendStub = grpc::TemplatedGenericStub<grpc::ByteBuffer, grpc::ByteBuffer>;
  SendChannelPool<PreEncodedSendStub>::Taken BrokerPreEncodedSend(const std::string& addr);
  // The connection to a broker's fast send port `fast_addr` (fast_send_connection.h); opened
  // on first use and again after it broke, except within a few seconds of a failed one: then
  // nullptr, and the caller sends over gRPC.
  std::shared_ptr<FastSendConnection> FastSend(const std::string& fast_addr);
  // FastSend() to the fast port `route` names for the broker node at `broker_addr`, when the
  // client may use fast ports (ClientOptions::fast_send); else nullptr, and the caller pulls over
  // gRPC.
  std::shared_ptr<FastSendConnection> FastSendTo(const mq::v1::TopicRouteData& route,
                                                 const std::string& broker_addr);
  // Fast send connections opened so far, to any broker (tests, diagnostics).
  int FastSendConnectionsOpened();
  // Connections opened so far to `addr` for sends (tests, diagnostics).
  int SendConnections(const std::string& addr);

  using RouteCallback = std::function<void(Result<mq::v1::TopicRouteData>)>;
  // Cached route; queried from the NameServers when absent or when force is set. kNotFound when
  // the topic has no route, kUnavailable when no NameServer answered (a cached route is still
  // returned then). At most one query per topic is in flight: later callers wait for its answer.
  // `done` runs inline when the cached route is used, else on internal().
  void GetRouteAsync(const std::string& topic, bool force, RouteCallback done);
  // GetRouteAsync without a copy: the cached route itself, immutable and shared (a new answer
  // from the NameServers replaces it with a new snapshot).
  using RouteSnapshotCallback = std::function<void(Result<std::shared_ptr<const mq::v1::TopicRouteData>>)>;
  void GetRouteSnapshotAsync(const std::string& topic, bool force, RouteSnapshotCallback done);
  // Blocking form of GetRouteAsync. Never call it on internal() threads.
  Result<mq::v1::TopicRouteData> GetRoute(const std::string& topic, bool force = false);
  // The cached route only, never a query: for the internal executor, which must not wait. The
  // snapshot itself (as GetRouteSnapshotAsync), null when none is cached.
  std::shared_ptr<const mq::v1::TopicRouteData> CachedRoute(const std::string& topic);
  // Starts a background re-query of topic (e.g. after a failed send); does not wait.
  void RefreshRoute(const std::string& topic);
  // Master addresses of every cached route (heartbeat and unregister targets of producers).
  std::vector<std::string> MasterAddresses();
  // Master and slave addresses of every cached route: consumers heartbeat to (and unregister
  // from) slaves too, so a slave knows the group's members while the master is away (RocketMQ
  // sendHeartbeatToAllBroker).
  std::vector<std::string> AllBrokerAddresses();

  // Fills the producer/consumer part of heartbeats; set before Start().
  void SetHeartbeatFiller(std::function<void(mq::v1::HeartbeatRequest*)> filler);
  // Sends a heartbeat now, asynchronously: to every master, and to every slave too when the
  // heartbeat carries consumers. A broker whose previous heartbeat has not been answered yet is
  // skipped. With wait, blocks until every answer is in (not on internal() threads).
  void HeartbeatAll(bool wait = false);

 private:
  void OnRouteAnswer(const std::string& topic, Result<mq::v1::TopicRouteData> r);
  void RefreshRoutes();

  const ClientOptions options_;
  const std::string client_id_;
  std::unique_ptr<IoExecutor> internal_;
  std::unique_ptr<IoExecutor> callbacks_;
  std::unique_ptr<IoExecutor> fast_io_;  // connects and reads the fast send connections
  std::shared_ptr<InflightCounter> inflight_ = std::make_shared<InflightCounter>();
  std::atomic<size_t> namesrv_index_{0};
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const mq::v1::TopicRouteData>> routes_;  // guarded by mu_
  std::map<std::string, std::vector<RouteCallback>> route_waiters_;  // guarded by mu_: queries in flight
  std::set<std::string> heartbeat_inflight_;                         // guarded by mu_
  std::condition_variable heartbeat_cv_;                             // signalled when a heartbeat completes
  struct BrokerStubs {
    std::shared_ptr<mq::v1::Messaging::Stub> typed;
    std::shared_ptr<SendChannelPool<PreEncodedSendStub>> sends;
  };
  BrokerStubs& BrokerStubsLocked(const std::string& addr);
  std::map<std::string, BrokerStubs> stubs_;  // guarded by mu_
  struct FastSendSlot {
    std::shared_ptr<FastSendConnection> connection;
    std::chrono::steady_clock::time_point retry_after;  // no new connection before this
  };
  std::map<std::string, FastSendSlot> fast_send_;                              // guarded by mu_
  int fast_send_opened_ = 0;                                                   // guarded by mu_
  std::map<std::string, std::shared_ptr<mq::v1::NameServer::Stub>> ns_stubs_;  // guarded by mu_
  std::function<void(mq::v1::HeartbeatRequest*)> heartbeat_;                   // guarded by mu_
};

}  // namespace mq::client
