// NamesrvController: owns one NameServer instance: route table, KV store, gRPC server and the
// timer that expires silent brokers (RocketMQ NamesrvController).
// Lifecycle: Start() binds and serves (fails with a Status if the port is taken),
// Shutdown() stops accepting, drains in-flight calls (up to 5 s) and stops the timer.
// Threads: gRPC's own threads for RPCs, one IoExecutor thread for the expiry scan.
#pragma once

#include <memory>
#include <string>

#include "common/clock.h"
#include "common/io_executor.h"
#include "common/status.h"
#include "namesrv/kv_config_store.h"
#include "namesrv/namesrv_config.h"
#include "namesrv/route_table.h"

namespace grpc {
class Server;
}

namespace mq::namesrv {

class NamesrvService;

class NamesrvController {
 public:
  explicit NamesrvController(NamesrvConfig config, const Clock* clock = SystemClock::Default());
  ~NamesrvController();
  NamesrvController(const NamesrvController&) = delete;
  NamesrvController& operator=(const NamesrvController&) = delete;

  Status Start();
  void Shutdown();

  // host:port actually bound (the real port when listenPort was 0). Valid after Start().
  const std::string& listen_address() const { return listen_address_; }
  RouteTable& routes() { return routes_; }

 private:
  void ScanNotActiveBrokers();

  const NamesrvConfig config_;
  RouteTable routes_;
  KvConfigStore kv_;
  IoExecutor executor_;
  std::unique_ptr<NamesrvService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string listen_address_;
  bool started_ = false;
};

}  // namespace mq::namesrv
