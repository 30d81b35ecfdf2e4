#include "client_instance.h"

#include <unistd.h>

#include <condition_variable>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "common/heap.h"
#include "common/logging.h"
#include "common/naming.h"
#include "common/rpc/grpc_defaults.h"
#include "namesrv_query.h"
#include "route_info.h"

namespace mq::client {
namespace {

std::string MakeClientId(const std::string& instance) {
  static std::atomic<int> counter{0};
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return std::string(host) + "@" + std::to_string(getpid()) + "#" + instance + "#" +
         std::to_string(counter.fetch_add(1)) + "#" + std::to_string(std::random_device{}() % 100000);
}

}  // namespace

ClientInstance::ClientInstance(ClientOptions options, int callback_threads)
    : options_(std::move(options)),
      client_id_(MakeClientId(options_.instance_name)),
      internal_(std::make_unique<IoExecutor>("mq-client", 2)),
      callbacks_(std::make_unique<IoExecutor>("mq-client-cb", callback_threads > 0 ? callback_threads : 1)),
      fast_io_(std::make_unique<IoExecutor>("mq-fast-send", 1)) {
  if (!options_.namesrv_addrs.empty()) {
    namesrv_index_ = std::random_device{}() % options_.namesrv_addrs.size();
  }
}

ClientInstance::~ClientInstance() { Shutdown({}, {}); }

Status ClientInstance::Start() {
  if (options_.namesrv_addrs.empty())
    return Status::InvalidArgument("namesrv_addrs: at least one is required");
  for (const auto& addr : options_.namesrv_addrs) {
    auto hp = ParseHostPort("namesrv_addrs", addr);
    if (!hp.ok()) return hp.status();
  }
  if (options_.rpc_timeout_ms <= 0) return Status::InvalidArgument("rpc_timeout_ms: must be positive");
  if (options_.send_connections_per_broker < 1 || options_.send_connections_per_broker > 16)
    return Status::InvalidArgument("send_connections_per_broker: must be between 1 and 16");
  if (options_.callback_on_reply_thread_max_us < 0 || options_.callback_on_reply_thread_max_us > 200)
    return Status::InvalidArgument("callback_on_reply_thread_max_us: must be in [0, 200] (0 = off)");
  if (started_.exchange(true)) return Status::FailedPrecondition("client: already started");
  if (options_.tune_malloc) TuneAllocatorForClients();
  internal_->Start();
  callbacks_->Start();
  fast_io_->Start();
  auto period = std::chrono::milliseconds(std::max<int64_t>(options_.route_refresh_ms, 100));
  internal_->ScheduleEvery(period, period, [this] { RefreshRoutes(); });
  auto hb = std::chrono::milliseconds(std::max<int64_t>(options_.heartbeat_ms, 100));
  internal_->ScheduleEvery(hb, hb, [this] { HeartbeatAll(); });
  return Status::OK();
}

void ClientInstance::Shutdown(const std::vector<std::string>& producer_groups,
                              const std::vector<std::string>& consumer_groups) {
  if (stopped_.exchange(true)) return;
  {
    // A heartbeat the broker handles after our unregister would register this client again
    // (until the broker expires it), and the group would keep a member that is gone. No new
    // heartbeat starts once stopped_ is set; wait for those already sent.
    std::unique_lock lock(mu_);
    heartbeat_cv_.wait_for(lock, std::chrono::milliseconds(options_.rpc_timeout_ms + 1000),
                           [this] { return heartbeat_inflight_.empty(); });
  }
  if (started_ && (!producer_groups.empty() || !consumer_groups.empty())) {
    mq::v1::UnregisterClientRequest req;
    req.set_client_id(client_id_);
    for (const auto& g : producer_groups) req.add_producer_groups(g);
    for (const auto& g : consumer_groups) req.add_consumer_groups(g);
    for (const auto& addr : consumer_groups.empty() ? MasterAddresses() : AllBrokerAddresses()) {
      auto stub = Broker(addr);
      auto r = BlockingCall<mq::v1::UnregisterClientResponse>(
          options_.rpc_timeout_ms, [&](auto* c, auto* resp) { return stub->UnregisterClient(c, req, resp); });
      if (!r.ok()) MQ_LOG_WARN(Logger("client"), "unregister from {}: {}", addr, r.status().ToString());
    }
  }
  {
    // Their calls in flight fail now (on fast_io_), and count in inflight_ until they did.
    std::lock_guard lock(mu_);
    for (auto& [addr, slot] : fast_send_) {
      if (slot.connection) slot.connection->Close();
    }
  }
  // Completions of calls still in flight post to internal_; wait for them before stopping it.
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.rpc_timeout_ms + 20'000);
  while (inflight_->count.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  fast_io_->Shutdown();
  internal_->Shutdown();
  callbacks_->Drain();  // every send callback handed to it runs, however long they take
  std::lock_guard lock(mu_);
  fast_send_.clear();
}

std::shared_ptr<FastSendConnection> ClientInstance::FastSend(const std::string& fast_addr) {
  // A fresh connection that breaks at once (a port nobody listens on, a firewall) is not
  // tried again for this long; sends go over gRPC meanwhile.
  constexpr auto kRetryAfter = std::chrono::seconds(3);
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  if (stopped_) return nullptr;
  FastSendSlot& slot = fast_send_[fast_addr];
  if (slot.connection && !slot.connection->broken()) return slot.connection;
  if (slot.connection && now < slot.retry_after) return nullptr;
  slot.connection = FastSendConnection::Open(fast_io_->context(), fast_addr);
  slot.retry_after = now + kRetryAfter;
  ++fast_send_opened_;
  return slot.connection;
}

std::shared_ptr<FastSendConnection> ClientInstance::FastSendTo(const mq::v1::TopicRouteData& route,
                                                               const std::string& broker_addr) {
  if (!options_.fast_send) return nullptr;
  const std::string fast_addr = FastSendAddressOf(route, broker_addr);
  return fast_addr.empty() ? nullptr : FastSend(fast_addr);
}

int ClientInstance::FastSendConnectionsOpened() {
  std::lock_guard lock(mu_);
  return fast_send_opened_;
}

ClientInstance::BrokerStubs& ClientInstance::BrokerStubsLocked(const std::string& addr) {
  auto& stubs = stubs_[addr];
  if (!stubs.typed) {
    auto channel = rpc::CreateChannel(addr);
    stubs.typed = mq::v1::Messaging::NewStub(channel);
    // Every channel gets a TCP connection of its own (CreateChannel sets a local subchannel pool).
    stubs.sends = std::make_shared<SendChannelPool<PreEncodedSendStub>>(
        std::make_shared<PreEncodedSendStub>(channel), options_.send_connections_per_broker,
        [addr](int) { return std::make_shared<PreEncodedSendStub>(rpc::CreateChannel(addr)); });
  }
  return stubs;
}

std::shared_ptr<mq::v1::Messaging::Stub> ClientInstance::Broker(const std::string& addr) {
  std::lock_guard lock(mu_);
  return BrokerStubsLocked(addr).typed;
}

SendChannelPool<ClientInstance::PreEncodedSendStub>::Taken ClientInstance::BrokerPreEncodedSend(
    const std::string& addr) {
  std::shared_ptr<SendChannelPool<PreEncodedSendStub>> pool;
  {
    std::lock_guard lock(mu_);
    pool = BrokerStubsLocked(addr).sends;
  }
  return pool->Take();
}

int ClientInstance::SendConnections(const std::string& addr) {
  std::lock_guard lock(mu_);
  auto it = stubs_.find(addr);
  return it == stubs_.end() ? 0 : it->second.sends->connections();
}

void ClientInstance::GetRouteAsync(const std::string& topic, bool force, RouteCallback done) {
  std::optional<mq::v1::TopicRouteData> cached;
  {
    std::lock_guard lock(mu_);
    if (auto it = routes_.find(topic); !force && it != routes_.end()) {
      cached = *it->second;
    } else {
      auto [w, first] = route_waiters_.try_emplace(topic);
      w->second.push_back(std::move(done));
      if (!first) return;  // a query is in flight; its answer serves this caller too
    }
  }
  if (cached) {
    done(std::move(*cached));
    return;
  }
  NamesrvQuery::Params p;
  p.topic = topic;
  p.addrs = options_.namesrv_addrs;
  p.first = namesrv_index_.load();
  p.timeout_ms = options_.rpc_timeout_ms;
  p.hedge_ms = std::min<int64_t>(kNamesrvHedgeMs, options_.rpc_timeout_ms);
  p.exec = internal_.get();
  p.inflight = inflight_;
  p.stub = [this](const std::string& addr) {
    std::lock_guard lock(mu_);
    auto& s = ns_stubs_[addr];
    if (!s) s = mq::v1::NameServer::NewStub(rpc::CreateChannel(addr));
    return s;
  };
  p.answered = [this](size_t index) { namesrv_index_ = index; };
  p.done = [this, topic](Result<mq::v1::TopicRouteData> r) { OnRouteAnswer(topic, std::move(r)); };
  std::make_shared<NamesrvQuery>(std::move(p))->Start();
}

void ClientInstance::OnRouteAnswer(const std::string& topic, Result<mq::v1::TopicRouteData> r) {
  std::vector<RouteCallback> waiters;
  {
    std::lock_guard lock(mu_);
    if (r.ok()) {
      routes_[topic] = std::make_shared<const mq::v1::TopicRouteData>(*r);
    } else if (r.status().IsNotFound()) {
      routes_.erase(topic);
    } else if (auto it = routes_.find(topic); it != routes_.end()) {
      r = *it->second;  // keep serving the cached route while NameServers are unreachable
    }
    if (auto it = route_waiters_.find(topic); it != route_waiters_.end()) {
      waiters.swap(it->second);
      route_waiters_.erase(it);
    }
  }
  for (auto& w : waiters) w(r);
}

Result<mq::v1::TopicRouteData> ClientInstance::GetRoute(const std::string& topic, bool force) {
  struct Waiter {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<Result<mq::v1::TopicRouteData>> result;
  };
  auto w = std::make_shared<Waiter>();
  GetRouteAsync(topic, force, [w](Result<mq::v1::TopicRouteData> r) {
    std::lock_guard lock(w->mu);
    w->result = std::move(r);
    w->cv.notify_all();
  });
  // Every NameServer call has an rpc_timeout_ms deadline; the margin only covers a shutdown
  // that drops the completion.
  const auto wait = std::chrono::milliseconds(
      options_.rpc_timeout_ms * static_cast<int64_t>(options_.namesrv_addrs.size() + 1) + 1000);
  std::unique_lock lock(w->mu);
  if (!w->cv.wait_for(lock, wait, [&] { return w->result.has_value(); })) {
    return Status::Unavailable("route of '" + topic + "': no answer (client shutting down?)");
  }
  return std::move(*w->result);
}

std::shared_ptr<const mq::v1::TopicRouteData> ClientInstance::CachedRoute(const std::string& topic) {
  std::lock_guard lock(mu_);
  auto it = routes_.find(topic);
  return it == routes_.end() ? nullptr : it->second;
}

void ClientInstance::GetRouteSnapshotAsync(const std::string& topic, bool force, RouteSnapshotCallback done) {
  if (!force) {
    if (auto cached = CachedRoute(topic)) return done(std::move(cached));
  }
  GetRouteAsync(topic, force, [this, topic, done = std::move(done)](Result<mq::v1::TopicRouteData> r) {
    if (!r.ok()) return done(r.status());
    auto snapshot = CachedRoute(topic);
    done(snapshot ? std::move(snapshot) : std::make_shared<const mq::v1::TopicRouteData>(std::move(*r)));
  });
}

void ClientInstance::RefreshRoute(const std::string& topic) {
  if (stopped_) return;
  GetRouteAsync(topic, true, [](const Result<mq::v1::TopicRouteData>&) {});
}

void ClientInstance::RefreshRoutes() {
  std::vector<std::string> topics;
  {
    std::lock_guard lock(mu_);
    for (const auto& [t, r] : routes_) topics.push_back(t);
  }
  for (const auto& t : topics) RefreshRoute(t);
}

std::vector<std::string> ClientInstance::MasterAddresses() {
  std::set<std::string> out;
  std::lock_guard lock(mu_);
  for (const auto& [t, route] : routes_) {
    for (const auto& bd : route->broker_datas()) {
      auto it = bd.broker_addrs().find(0);
      if (it != bd.broker_addrs().end()) out.insert(it->second);
    }
  }
  return {out.begin(), out.end()};
}

std::vector<std::string> ClientInstance::AllBrokerAddresses() {
  std::set<std::string> out;
  std::lock_guard lock(mu_);
  for (const auto& [t, route] : routes_) {
    for (const auto& bd : route->broker_datas()) {
      for (const auto& [id, addr] : bd.broker_addrs()) {
        if (!addr.empty()) out.insert(addr);
      }
    }
  }
  return {out.begin(), out.end()};
}

void ClientInstance::SetHeartbeatFiller(std::function<void(mq::v1::HeartbeatRequest*)> filler) {
  std::lock_guard lock(mu_);
  heartbeat_ = std::move(filler);
}

void ClientInstance::HeartbeatAll(bool wait) {
  mq::v1::HeartbeatRequest req;
  req.set_client_id(client_id_);
  std::vector<std::string> targets;
  {
    std::lock_guard lock(mu_);
    if (heartbeat_) heartbeat_(&req);
  }
  for (const auto& addr : req.consumers_size() > 0 ? AllBrokerAddresses() : MasterAddresses()) {
    std::lock_guard lock(mu_);
    if (stopped_) break;  // checked under mu_: Shutdown waits for the heartbeats started before
    // A hung broker keeps at most one heartbeat of ours in flight.
    if (heartbeat_inflight_.insert(addr).second) targets.push_back(addr);
  }
  struct Pending {
    std::mutex mu;
    std::condition_variable cv;
    size_t left = 0;
  };
  auto pending = std::make_shared<Pending>();
  pending->left = targets.size();
  for (const auto& addr : targets) {
    auto stub = Broker(addr);
    StartCall<mq::v1::HeartbeatRequest, mq::v1::HeartbeatResponse>(
        [stub](auto* c, auto* q, auto* r, auto cb) { stub->async()->Heartbeat(c, q, r, std::move(cb)); }, req,
        options_.rpc_timeout_ms, internal_.get(), inflight_,
        [this, addr, pending](Result<mq::v1::HeartbeatResponse> r) {
          if (!r.ok()) MQ_LOG_WARN(Logger("client"), "heartbeat to {}: {}", addr, r.status().ToString());
          {
            std::lock_guard lock(mu_);
            heartbeat_inflight_.erase(addr);
          }
          heartbeat_cv_.notify_all();
          std::lock_guard lock(pending->mu);
          if (--pending->left == 0) pending->cv.notify_all();
        });
  }
  if (!wait) return;
  std::unique_lock lock(pending->mu);
  pending->cv.wait_for(lock, std::chrono::milliseconds(options_.rpc_timeout_ms + 1000),
                       [&] { return pending->left == 0; });
}

}  // namespace mq::client
