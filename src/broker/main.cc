// mqbroker: the broker daemon. Flags follow RocketMQ's mqbroker where it has them
// (-c FILE, -n NAMESRV_ADDR, -p to print the configuration).
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "broker/broker_config.h"
#include "broker/broker_controller.h"
#include "common/config_file.h"
#include "common/daemon.h"
#include "common/heap.h"
#include "common/logging.h"
#include "common/shutdown_signal.h"

namespace {

int Fail(std::string_view message) { return mq::DaemonFail("mqbroker", message); }

// Every consume-queue segment holds a file descriptor, and topics come and go with client
// traffic: take the whole hard limit and say when maxTopicCount cannot be reached, instead of
// finding out through EMFILE in the store.
void RaiseOpenFileLimit(const mq::broker::BrokerConfig& config) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &limit);
    (void)::getrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur != RLIM_INFINITY && static_cast<uint64_t>(config.maxTopicCount) >= limit.rlim_cur) {
    MQ_LOG_WARN(mq::Logger("broker"),
                "maxTopicCount={} is not below the open-file limit {} (ulimit -n): every written queue "
                "holds a file descriptor; lower maxTopicCount or raise the limit",
                config.maxTopicCount, static_cast<uint64_t>(limit.rlim_cur));
  }
}

}  // namespace

int main(int argc, char** argv) {
  mq::TuneAllocatorForLargeMessages();
  mq::BlockShutdownSignals();
  CLI::App app{"mqbroker: the message broker of the mq suite (RocketMQ-compatible configuration)"};
  mq::ConfigSources sources;
  std::string namesrv;
  std::string ready_file;
  std::string store_dir;
  int listen_port = -1;
  bool print_config = false;
  bool strict = false;
  app.add_option("-c,--config", sources.file, "RocketMQ-style key=value config file (conf/broker.conf)");
  app.add_option("-n,--namesrv-addr", namesrv, "NameServers, \"host:port;host:port\" (sets namesrvAddr)");
  app.add_option("--set", sources.sets, "override one key: --set key=value (repeatable)");
  app.add_option("--listen-port", listen_port, "client port (sets listenPort; 0 = any free port)");
  app.add_option("--store-dir", store_dir, "store root (sets storePathRootDir)");
  app.add_flag("-p,--print-config", print_config, "print the effective configuration and exit");
  app.add_flag("--strict", strict, "fail on unknown config keys instead of warning");
  app.add_option("--ready-file", ready_file, "write the advertised host:port to this file once serving");
  CLI11_PARSE(app, argc, argv);

  if (!namesrv.empty()) sources.flags["namesrvAddr"] = namesrv;
  if (listen_port >= 0) sources.flags["listenPort"] = std::to_string(listen_port);
  if (!store_dir.empty()) sources.flags["storePathRootDir"] = store_dir;
  mq::broker::BrokerConfig config;
  auto schema = mq::broker::BindBrokerConfig(&config);
  std::vector<std::string> unknown;
  if (auto s = mq::ApplyDaemonConfig(sources, schema, strict, &unknown); !s.ok()) return Fail(s.message());
  if (config.brokerConfigPath.empty() && !sources.file.empty()) {
    config.brokerConfigPath = std::filesystem::absolute(sources.file).string();
  }
  if (auto s = mq::broker::FinalizeBrokerConfig(&config); !s.ok()) return Fail(s.message());
  if (print_config) {
    std::cout << schema.Dump();
    return 0;
  }
  if (auto s = mq::StartDaemonLogging(config.logDir, "broker.log", config.logLevel, "broker", unknown);
      !s.ok()) {
    return Fail(s.message());
  }

  RaiseOpenFileLimit(config);
  mq::broker::BrokerController controller(config);
  if (auto s = controller.Start(); !s.ok()) {
    mq::Logger("broker")->error("broker failed to start: {}", s.ToString());
    return Fail(s.message());
  }
  mq::AnnounceReadyAndWait(
      fmt::format("The broker[{}, {}] boot success. namesrv={}", config.brokerName, controller.broker_addr(),
                  config.namesrvAddr),
      ready_file,
      // Further lines for scripts and tests: where the RocketMQ 5 SDKs
      // connect, and the fast send port.
      controller.broker_addr() + (controller.v2_addr().empty() ? "" : "\nv2=" + controller.v2_addr()) +
          (controller.fast_send_addr().empty() ? "" : "\nfast=" + controller.fast_send_addr()),
      "broker");
  controller.Shutdown();
  mq::ShutdownLogging();
  return 0;
}
