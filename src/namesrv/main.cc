// mqnamesrv: the NameServer daemon. Flags follow RocketMQ's mqnamesrv where it has them
// (-c FILE, -p to print the configuration).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "common/config_file.h"
#include "common/daemon.h"
#include "common/logging.h"
#include "common/naming.h"
#include "common/shutdown_signal.h"
#include "namesrv/namesrv_config.h"
#include "namesrv/namesrv_controller.h"

namespace {

int Fail(std::string_view message) { return mq::DaemonFail("mqnamesrv", message); }

}  // namespace

int main(int argc, char** argv) {
  mq::BlockShutdownSignals();
  CLI::App app{"mqnamesrv: the NameServer (stateless route registry) of the mq broker suite"};
  mq::ConfigSources sources;
  std::string listen;
  std::string ready_file;
  bool print_config = false;
  bool strict = false;
  app.add_option("-c,--config", sources.file, "RocketMQ-style key=value config file (conf/namesrv.conf)");
  app.add_option("--set", sources.sets, "override one key: --set key=value (repeatable)");
  app.add_option("--listen", listen,
                 "HOST:PORT to listen on (sets bindAddress and listenPort; port 0 = any)");
  app.add_flag("-p,--print-config", print_config, "print the effective configuration and exit");
  app.add_flag("--strict", strict, "fail on unknown config keys instead of warning");
  app.add_option("--ready-file", ready_file, "write the bound host:port to this file once serving");
  CLI11_PARSE(app, argc, argv);

  if (!listen.empty()) {
    auto hp = mq::ParseHostPort("--listen", listen, /*allow_zero_port=*/true);
    if (!hp.ok()) return Fail(hp.status().message());
    sources.flags["bindAddress"] = hp->host;
    sources.flags["listenPort"] = std::to_string(hp->port);
  }
  mq::namesrv::NamesrvConfig config;
  auto schema = mq::namesrv::BindNamesrvConfig(&config);
  std::vector<std::string> unknown;
  if (auto s = mq::ApplyDaemonConfig(sources, schema, strict, &unknown); !s.ok()) return Fail(s.message());
  if (auto s = mq::namesrv::ValidateNamesrvConfig(config); !s.ok()) return Fail(s.message());
  if (print_config) {
    std::cout << schema.Dump();
    return 0;
  }
  if (auto s = mq::StartDaemonLogging(config.logDir, "namesrv.log", config.logLevel, "namesrv", unknown);
      !s.ok()) {
    return Fail(s.message());
  }

  mq::namesrv::NamesrvController controller(config);
  if (auto s = controller.Start(); !s.ok()) return Fail(s.message());
  mq::AnnounceReadyAndWait("The Name Server boot success. listen=" + controller.listen_address(), ready_file,
                           controller.listen_address(), "namesrv");
  controller.Shutdown();
  mq::ShutdownLogging();
  return 0;
}
