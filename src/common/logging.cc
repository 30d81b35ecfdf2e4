#include "common/logging.h"

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <filesystem>
#include <mutex>
#include <vector>

namespace mq {
namespace {

constexpr const char* kPattern = "[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] [%n] [%t] %v";

struct LogState {
  std::mutex mu;
  bool initialized = false;                               // guarded by mu
  std::vector<spdlog::sink_ptr> sinks;                    // guarded by mu
  spdlog::level::level_enum level = spdlog::level::warn;  // guarded by mu
};

LogState& State() {
  static LogState* state = new LogState();  // never destroyed: loggers may log during exit
  return *state;
}

}  // namespace

Status InitLogging(const LogOptions& options) {
  auto level = spdlog::level::from_str(options.level);
  if (level == spdlog::level::off && options.level != "off") {
    return Status::InvalidArgument(
        fmt::format("logLevel: '{}' is not one of trace|debug|info|warn|error|critical|off", options.level));
  }
  std::vector<spdlog::sink_ptr> sinks;
  try {
    if (options.to_stderr) sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    if (!options.dir.empty()) {
      std::filesystem::create_directories(options.dir);
      sinks.push_back(std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
          (std::filesystem::path(options.dir) / options.file_name).string(), options.max_file_bytes,
          options.max_files));
    }
  } catch (const std::exception& e) {
    return Status::IoError(fmt::format("logDir: cannot open log file in '{}': {}", options.dir, e.what()));
  }
  for (auto& sink : sinks) sink->set_pattern(kPattern);

  auto& state = State();
  std::lock_guard lock(state.mu);
  state.sinks = std::move(sinks);
  state.level = level;
  state.initialized = true;
  spdlog::drop_all();
  auto default_logger = std::make_shared<spdlog::logger>("mq", state.sinks.begin(), state.sinks.end());
  default_logger->set_level(level);
  spdlog::set_default_logger(default_logger);
  spdlog::flush_on(spdlog::level::warn);
  spdlog::flush_every(std::chrono::seconds(1));
  return Status::OK();
}

std::shared_ptr<spdlog::logger> Logger(const std::string& name) {
  if (auto existing = spdlog::get(name)) return existing;
  auto& state = State();
  std::lock_guard lock(state.mu);
  if (auto existing = spdlog::get(name)) return existing;
  std::shared_ptr<spdlog::logger> logger;
  if (state.initialized) {
    logger = std::make_shared<spdlog::logger>(name, state.sinks.begin(), state.sinks.end());
  } else {
    auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    sink->set_pattern(kPattern);
    logger = std::make_shared<spdlog::logger>(name, sink);
  }
  logger->set_level(state.level);
  logger->flush_on(spdlog::level::warn);
  spdlog::register_logger(logger);
  return logger;
}

void ShutdownLogging() { spdlog::shutdown(); }

}  // namespace mq
