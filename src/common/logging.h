// Named spdlog loggers shared by the daemons: "namesrv", "broker", "store", "ha", "rpc", "common".
// InitLogging() is called once by a daemon's main() before any thread starts; it installs a
// rotating file sink (when a directory is given) plus stderr. Libraries only call Logger(name),
// which falls back to a stderr logger at warn level when InitLogging() was never called
// (unit tests, embedding). Thread-safe after InitLogging().
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

#include "common/status.h"

namespace mq {

struct LogOptions {
  // Directory for the rotating log file; empty logs to stderr only. Default: empty.
  std::string dir;
  // File name inside dir, e.g. "namesrv.log".
  std::string file_name = "mq.log";
  // trace|debug|info|warn|error|critical|off. Default: info.
  std::string level = "info";
  // Also log to stderr. Default: true.
  bool to_stderr = true;
  size_t max_file_bytes = 64 * 1024 * 1024;
  size_t max_files = 5;
};

Status InitLogging(const LogOptions& options);

// The named logger; created on first use with the sinks InitLogging() installed.
std::shared_ptr<spdlog::logger> Logger(const std::string& name);

// Flushes and drops every logger (end of main()).
void ShutdownLogging();

}  // namespace mq

#define MQ_LOG_TRACE(logger, ...) SPDLOG_LOGGER_TRACE(logger, __VA_ARGS__)
#define MQ_LOG_DEBUG(logger, ...) SPDLOG_LOGGER_DEBUG(logger, __VA_ARGS__)
#define MQ_LOG_INFO(logger, ...) SPDLOG_LOGGER_INFO(logger, __VA_ARGS__)
#define MQ_LOG_WARN(logger, ...) SPDLOG_LOGGER_WARN(logger, __VA_ARGS__)
#define MQ_LOG_ERROR(logger, ...) SPDLOG_LOGGER_ERROR(logger, __VA_ARGS__)
