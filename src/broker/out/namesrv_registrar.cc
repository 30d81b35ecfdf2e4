#include "broker/out/namesrv_registrar.h"

#include <grpcpp/grpcpp.h>

#include <atomic>

#include "common/logging.h"
#include "common/rpc/grpc_defaults.h"
#include "common/rpc/namesrv_registration.h"
#include "common/thread_name.h"
#include "mq/v1/namesrv.grpc.pb.h"

namespace mq::broker {

struct NamesrvRegistrar::Worker {
  std::string addr;
  std::unique_ptr<mq::v1::NameServer::Stub> stub;
  std::thread thread;
  std::atomic<bool> healthy{false};
  uint64_t seen_trigger = 0;
};

NamesrvRegistrar::NamesrvRegistrar(std::vector<std::string> namesrv_addrs, IdentityFn identity,
                                   TopicsFn topics, std::chrono::milliseconds period,
                                   std::chrono::milliseconds rpc_timeout)
    : addrs_(std::move(namesrv_addrs)),
      identity_(std::move(identity)),
      topics_(std::move(topics)),
      period_(period),
      rpc_timeout_(rpc_timeout) {}

NamesrvRegistrar::~NamesrvRegistrar() { Shutdown(false); }

void NamesrvRegistrar::Start() {
  for (const auto& addr : addrs_) {
    auto w = std::make_unique<Worker>();
    w->addr = addr;
    w->stub = mq::v1::NameServer::NewStub(rpc::CreateChannel(addr));
    workers_.push_back(std::move(w));
  }
  for (auto& w : workers_) w->thread = StartNamedThread("mq-register", [this, p = w.get()] { Run(p); });
}

void NamesrvRegistrar::TriggerNow() {
  std::lock_guard lock(mu_);
  ++trigger_seq_;
  cv_.notify_all();
}

void NamesrvRegistrar::Run(Worker* w) {
  auto log = Logger("broker");
  while (true) {
    bool ok = Cycle(w);
    if (ok != w->healthy.exchange(ok)) {
      if (ok) {
        MQ_LOG_INFO(log, "registered with name server {}", w->addr);
      } else {
        MQ_LOG_WARN(log, "name server {} unreachable; will retry every {} ms", w->addr, period_.count());
      }
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, period_, [&] { return stop_ || trigger_seq_ != w->seen_trigger; });
    if (stop_) return;
    w->seen_trigger = trigger_seq_;
  }
}

bool NamesrvRegistrar::Cycle(Worker* w) {
  auto [broker, version] = identity_();
  mq::v1::BrokerHeartbeatRequest hb;
  *hb.mutable_broker() = broker;
  *hb.mutable_data_version() = version;
  mq::v1::BrokerHeartbeatResponse hb_resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + rpc_timeout_);
  grpc::Status s = w->stub->Heartbeat(&ctx, hb, &hb_resp);
  if (!s.ok()) {
    MQ_LOG_DEBUG(Logger("broker"), "heartbeat to {} failed: {}", w->addr, s.error_message());
    return false;
  }
  std::string master_addr = hb_resp.master_addr();
  std::string ha_addr = hb_resp.ha_server_addr();
  if (hb_resp.need_full_registration()) {
    mq::v1::RegisterBrokerResponse reg;
    s = rpc::RegisterBrokerChunked(w->stub.get(), broker, version, topics_(), rpc_timeout_, &reg);
    if (!s.ok()) {
      MQ_LOG_WARN(Logger("broker"), "registration with {} failed: {}", w->addr, s.error_message());
      return false;
    }
    master_addr = reg.master_addr();
    ha_addr = reg.ha_server_addr();
  }
  std::lock_guard lock(mu_);
  if (!master_addr.empty()) master_ = {master_addr, ha_addr};
  return true;
}

void NamesrvRegistrar::Shutdown(bool unregister) {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    stop_ = true;
    cv_.notify_all();
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  if (!unregister || workers_.empty()) return;
  // In parallel, so a dead NameServer costs one timeout, not one per NameServer.
  auto broker = identity_().first;
  std::vector<std::thread> calls;
  for (auto& w : workers_) {
    calls.emplace_back([&, p = w.get()] {
      mq::v1::UnregisterBrokerRequest req;
      *req.mutable_broker() = broker;
      mq::v1::UnregisterBrokerResponse resp;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() +
                       std::min(rpc_timeout_, std::chrono::milliseconds(3000)));
      auto s = p->stub->UnregisterBroker(&ctx, req, &resp);
      if (!s.ok() && s.error_code() != grpc::StatusCode::NOT_FOUND) {
        MQ_LOG_WARN(Logger("broker"), "unregister from {} failed: {}", p->addr, s.error_message());
      }
    });
  }
  for (auto& t : calls) t.join();
}

NamesrvRegistrar::MasterInfo NamesrvRegistrar::master() const {
  std::lock_guard lock(mu_);
  return master_;
}

int NamesrvRegistrar::healthy_count() const {
  int n = 0;
  for (const auto& w : workers_) n += w->healthy.load() ? 1 : 0;
  return n;
}

}  // namespace mq::broker
