// NamesrvConfig: every setting of mqnamesrv, with RocketMQ's key names where RocketMQ has one.
// Plain struct; BindNamesrvConfig() is its field table for conf files and --set.
#pragma once

#include <cstdint>
#include <string>

#include "common/config_file.h"

namespace mq::namesrv {

struct NamesrvConfig {
  // Address to bind. Default: 0.0.0.0 (all interfaces).
  std::string bindAddress = "0.0.0.0";
  // Port to listen on (RocketMQ default 9876); 0 picks a free port. Default: 9876.
  int32_t listenPort = 9876;
  // A broker silent for this long is removed. Default: 120000 (RocketMQ's 120 s).
  int64_t brokerExpiredMillis = 120000;
  // How often silent brokers are looked for; never less often than brokerExpiredMillis.
  // Default: 5000 (RocketMQ 5.x).
  int64_t scanNotActiveBrokerInterval = 5000;
  // Directory for namesrv.log; empty logs to stderr only. Default: empty.
  std::string logDir;
  // trace|debug|info|warn|error. Default: info.
  std::string logLevel = "info";
};

ConfigSchema BindNamesrvConfig(NamesrvConfig* config);
Status ValidateNamesrvConfig(const NamesrvConfig& config);

}  // namespace mq::namesrv
