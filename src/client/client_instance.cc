#include "client_instance.h"

#include <unistd.h>

#include <random>
#include <set>
#include <thread>

#include "common/logging.h"
#include "common/naming.h"
#include "common/rpc/grpc_defaults.h"

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
      callbacks_(std::make_unique<IoExecutor>("mq-client-cb", callback_threads > 0 ? callback_threads : 1)) {
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
  if (started_.exchange(true)) return Status::FailedPrecondition("client: already started");
  internal_->Start();
  callbacks_->Start();
  auto period = std::chrono::milliseconds(std::max<int64_t>(options_.route_refresh_ms, 100));
  internal_->ScheduleEvery(period, period, [this] { RefreshRoutes(); });
  auto hb = std::chrono::milliseconds(std::max<int64_t>(options_.heartbeat_ms, 100));
  internal_->ScheduleEvery(hb, hb, [this] { HeartbeatAll(); });
  return Status::OK();
}

void ClientInstance::Shutdown(const std::vector<std::string>& producer_groups,
                              const std::vector<std::string>& consumer_groups) {
  if (stopped_.exchange(true)) return;
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
  // Completions of calls still in flight post to internal_; wait for them before stopping it.
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.rpc_timeout_ms + 20'000);
  while (inflight_->count.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  internal_->Shutdown();
  callbacks_->Shutdown();
}

std::shared_ptr<mq::v1::Messaging::Stub> ClientInstance::Broker(const std::string& addr) {
  std::lock_guard lock(mu_);
  auto& stub = stubs_[addr];
  if (!stub) stub = mq::v1::Messaging::NewStub(rpc::CreateChannel(addr));
  return stub;
}

Result<mq::v1::TopicRouteData> ClientInstance::QueryRoute(const std::string& topic) {
  const size_t n = options_.namesrv_addrs.size();
  if (n == 0) return Status::InvalidArgument("namesrv_addrs: none configured");
  Status last;
  for (size_t i = 0; i < n; ++i) {
    size_t index = (namesrv_index_.load() + i) % n;
    const std::string& addr = options_.namesrv_addrs[index];
    std::shared_ptr<mq::v1::NameServer::Stub> stub;
    {
      std::lock_guard lock(mu_);
      auto& s = ns_stubs_[addr];
      if (!s) s = mq::v1::NameServer::NewStub(rpc::CreateChannel(addr));
      stub = s;
    }
    mq::v1::QueryRouteRequest req;
    req.set_topic(topic);
    auto r = BlockingCall<mq::v1::QueryRouteResponse>(
        options_.rpc_timeout_ms, [&](auto* c, auto* resp) { return stub->QueryRoute(c, req, resp); });
    if (r.ok()) {
      namesrv_index_ = index;
      return r->route();
    }
    if (r.status().IsNotFound() || r.status().IsInvalidArgument()) return r.status();
    last = r.status().WithContext("NameServer " + addr);
    MQ_LOG_WARN(Logger("client"), "query route of {}: {}", topic, last.ToString());
  }
  return Status::Unavailable("no NameServer answered (" + last.ToString() + ")");
}

Result<mq::v1::TopicRouteData> ClientInstance::GetRoute(const std::string& topic, bool force) {
  if (!force) {
    std::lock_guard lock(mu_);
    auto it = routes_.find(topic);
    if (it != routes_.end()) return it->second;
  }
  auto r = QueryRoute(topic);
  std::lock_guard lock(mu_);
  if (r.ok()) {
    routes_[topic] = *r;
  } else if (r.status().IsNotFound()) {
    routes_.erase(topic);
  } else if (auto it = routes_.find(topic); it != routes_.end()) {
    return it->second;  // keep serving the cached route while NameServers are unreachable
  }
  return r;
}

void ClientInstance::RefreshRoutes() {
  std::vector<std::string> topics;
  {
    std::lock_guard lock(mu_);
    for (const auto& [t, r] : routes_) topics.push_back(t);
  }
  for (const auto& t : topics) {
    if (stopped_) return;
    (void)GetRoute(t, true);
  }
}

std::vector<std::string> ClientInstance::MasterAddresses() {
  std::set<std::string> out;
  std::lock_guard lock(mu_);
  for (const auto& [t, route] : routes_) {
    for (const auto& bd : route.broker_datas()) {
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
    for (const auto& bd : route.broker_datas()) {
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

void ClientInstance::HeartbeatAll() {
  mq::v1::HeartbeatRequest req;
  req.set_client_id(client_id_);
  {
    std::lock_guard lock(mu_);
    if (heartbeat_) heartbeat_(&req);
  }
  for (const auto& addr : req.consumers_size() > 0 ? AllBrokerAddresses() : MasterAddresses()) {
    if (stopped_) return;
    auto stub = Broker(addr);
    auto r = BlockingCall<mq::v1::HeartbeatResponse>(
        options_.rpc_timeout_ms, [&](auto* c, auto* resp) { return stub->Heartbeat(c, req, resp); });
    if (!r.ok()) MQ_LOG_WARN(Logger("client"), "heartbeat to {}: {}", addr, r.status().ToString());
  }
}

}  // namespace mq::client
