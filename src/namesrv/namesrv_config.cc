#include "namesrv/namesrv_config.h"

namespace mq::namesrv {

ConfigSchema BindNamesrvConfig(NamesrvConfig* c) {
  ConfigSchema s;
  s.AddString("bindAddress", &c->bindAddress, "address to bind");
  s.AddInt("listenPort", &c->listenPort, 0, 65535, "gRPC port (0 = any free port)");
  s.AddInt("brokerExpiredMillis", &c->brokerExpiredMillis, 100, int64_t{24} * 3600 * 1000,
           "remove a broker silent for this long (ms)");
  s.AddInt("scanNotActiveBrokerInterval", &c->scanNotActiveBrokerInterval, 10, 3600 * 1000,
           "interval of the silent-broker scan (ms)");
  s.AddString("logDir", &c->logDir, "directory of namesrv.log (empty: stderr only)");
  s.AddEnum("logLevel", &c->logLevel, {"trace", "debug", "info", "warn", "error", "critical", "off"},
            "log level");
  return s;
}

Status ValidateNamesrvConfig(const NamesrvConfig& c) {
  if (c.bindAddress.empty()) return Status::InvalidArgument("bindAddress: must not be empty");
  return Status::OK();
}

}  // namespace mq::namesrv
