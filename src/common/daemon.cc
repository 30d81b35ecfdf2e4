#include "common/daemon.h"

#include <cstdio>

#include "common/file_util.h"
#include "common/logging.h"
#include "common/shutdown_signal.h"

namespace mq {

int DaemonFail(std::string_view program, std::string_view message) {
  std::fprintf(stderr, "%.*s: %.*s\n", static_cast<int>(program.size()), program.data(),
               static_cast<int>(message.size()), message.data());
  return 1;
}

Status ApplyDaemonConfig(const ConfigSources& sources, const ConfigSchema& schema, bool strict,
                         std::vector<std::string>* unknown) {
  MQ_ASSIGN_OR_RETURN(ConfigMap merged, MergeConfigSources(sources));
  MQ_RETURN_IF_ERROR(schema.Apply(merged, unknown));
  if (strict && !unknown->empty()) {
    return Status::InvalidArgument(unknown->front() + ": unknown config key (--strict)");
  }
  return Status::OK();
}

Status StartDaemonLogging(const std::string& dir, const std::string& file_name, const std::string& level,
                          const std::string& logger_name, const std::vector<std::string>& unknown) {
  LogOptions options;
  options.dir = dir;
  options.file_name = file_name;
  options.level = level;
  MQ_RETURN_IF_ERROR(InitLogging(options));
  for (const auto& key : unknown) Logger(logger_name)->warn("unknown config key '{}' ignored", key);
  return Status::OK();
}

void AnnounceReadyAndWait(const std::string& banner, const std::string& ready_file,
                          const std::string& address, const std::string& logger_name) {
  std::printf("%s\n", banner.c_str());
  std::fflush(stdout);
  auto log = Logger(logger_name);
  if (!ready_file.empty()) {
    if (Status s = WriteFileAtomically(ready_file, address + "\n"); !s.ok()) {
      log->error("cannot write ready file: {}", s.message());
    }
  }
  int sig = WaitForShutdownSignal();
  log->info("signal {} received, shutting down", sig);
}

}  // namespace mq
