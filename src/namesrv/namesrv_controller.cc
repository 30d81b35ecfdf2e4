#include "namesrv/namesrv_controller.h"

#include <grpcpp/grpcpp.h>

#include "common/logging.h"
#include "common/naming.h"
#include "common/rpc/grpc_defaults.h"
#include "namesrv/namesrv_service.h"

namespace mq::namesrv {

NamesrvController::NamesrvController(NamesrvConfig config, const Clock* clock)
    : config_(std::move(config)), routes_(clock), executor_("namesrv-scan", 1) {}

NamesrvController::~NamesrvController() { Shutdown(); }

Status NamesrvController::Start() {
  NamesrvConfig effective = config_;
  ConfigMap values = BindNamesrvConfig(&effective).Values();
  service_ = std::make_unique<NamesrvService>(&routes_, &kv_, [values] { return values; });

  MQ_ASSIGN_OR_RETURN(auto started, rpc::StartServer(config_.bindAddress, config_.listenPort,
                                                     {service_.get()}, "listenPort"));
  server_ = std::move(started.server);
  const int selected_port = started.port;
  std::string host = config_.bindAddress == "0.0.0.0" ? "127.0.0.1" : config_.bindAddress;
  listen_address_ = HostPort{host, static_cast<uint16_t>(selected_port)}.ToString();

  executor_.Start();
  const auto scan_every =
      std::chrono::milliseconds(std::min(config_.scanNotActiveBrokerInterval, config_.brokerExpiredMillis));
  executor_.ScheduleEvery(scan_every, scan_every, [this] { ScanNotActiveBrokers(); });
  started_ = true;
  MQ_LOG_INFO(Logger("namesrv"), "name server started bind={}:{} listen={} broker_expired_ms={}",
              config_.bindAddress, selected_port, listen_address_, config_.brokerExpiredMillis);
  return Status::OK();
}

void NamesrvController::ScanNotActiveBrokers() { routes_.ExpireInactive(config_.brokerExpiredMillis); }

void NamesrvController::Shutdown() {
  if (!started_) return;
  started_ = false;
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  server_->Wait();
  executor_.Shutdown();
  MQ_LOG_INFO(Logger("namesrv"), "name server stopped");
}

}  // namespace mq::namesrv
