// NamesrvRegistrar: keeps this broker registered with EVERY NameServer (RocketMQ
// BrokerOuterAPI + registerBrokerAll). One worker thread per NameServer, so a NameServer
// that is down or slow never delays registration with the others.
//
// Each cycle (every registerNameServerPeriod, and at once after TriggerNow()) a worker sends
// a light Heartbeat carrying only the DataVersion; when the NameServer answers
// need_full_registration it streams the whole topic set (RegisterBrokerChunked). Replies
// carry the master's address and HA address, which slaves read through master().
// Shutdown(true) unregisters from every NameServer in parallel (bounded by the RPC timeout).
// Locking: mu_ guards the trigger/stop flags and master_; the snapshot callbacks are called
// without it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mq/v1/namesrv.pb.h"

namespace mq::broker {

class NamesrvRegistrar {
 public:
  struct MasterInfo {
    std::string master_addr;
    std::string ha_server_addr;
  };
  // Cheap: identity and current data version.
  using IdentityFn = std::function<std::pair<mq::v1::BrokerIdentity, mq::v1::DataVersion>()>;
  // Expensive: the full topic set (called only when a NameServer asks for it).
  using TopicsFn = std::function<std::vector<mq::v1::TopicConfig>()>;

  NamesrvRegistrar(std::vector<std::string> namesrv_addrs, IdentityFn identity, TopicsFn topics,
                   std::chrono::milliseconds period, std::chrono::milliseconds rpc_timeout);
  ~NamesrvRegistrar();
  NamesrvRegistrar(const NamesrvRegistrar&) = delete;
  NamesrvRegistrar& operator=(const NamesrvRegistrar&) = delete;

  void Start();
  void TriggerNow();
  void Shutdown(bool unregister);
  MasterInfo master() const;
  // Number of NameServers whose last cycle succeeded.
  int healthy_count() const;

 private:
  struct Worker;
  void Run(Worker* worker);
  bool Cycle(Worker* worker);

  const std::vector<std::string> addrs_;
  IdentityFn identity_;
  TopicsFn topics_;
  const std::chrono::milliseconds period_;
  const std::chrono::milliseconds rpc_timeout_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;         // guarded by mu_
  uint64_t trigger_seq_ = 0;  // guarded by mu_
  MasterInfo master_;         // guarded by mu_
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace mq::broker
