// The startup and shutdown steps mqnamesrv and mqbroker share, so both daemons treat
// configuration, logging, readiness and signals the same way. Called from main() only.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/config_file.h"

namespace mq {

// Prints "<program>: <message>" on stderr; returns the exit code 1.
int DaemonFail(std::string_view program, std::string_view message);

// Merges defaults < file < --set < flags into `schema`'s struct. Unknown keys are returned in
// *unknown, or are an error when `strict`.
Status ApplyDaemonConfig(const ConfigSources& sources, const ConfigSchema& schema, bool strict,
                         std::vector<std::string>* unknown);

// InitLogging() with a rotating file `file_name` under `dir` (empty: stderr only), then warns
// on `logger_name` about each unknown config key.
Status StartDaemonLogging(const std::string& dir, const std::string& file_name, const std::string& level,
                          const std::string& logger_name, const std::vector<std::string>& unknown);

// Prints `banner` on stdout, writes `address` to `ready_file` (when set) for scripts and
// tests, then blocks until SIGINT or SIGTERM (BlockShutdownSignals() must have run first).
void AnnounceReadyAndWait(const std::string& banner, const std::string& ready_file,
                          const std::string& address, const std::string& logger_name);

}  // namespace mq
