// CleanService: retention (RocketMQ CleanCommitLogService + CleanConsumeQueueService).
//
// A pass deletes leading commit log segments whose newest message is older than
// fileReservedTime hours, when the local hour is listed in deleteWhen or disk usage is above
// diskMaxUsedSpaceRatio; above diskSpaceCleanForciblyRatio the oldest segments go even if
// not expired. Segments not yet dispatched and the active segment are never deleted. Then
// consume queue and index segments below the new commit log min offset are deleted and the
// queues' min offsets advance. Above diskSpaceWarningLevelRatio disk_full() turns true and
// the store refuses puts.
// Threads: RunOnce from the store's maintenance thread or a test; serialised by run_mu_.
// Time comes from the injected Clock.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>

#include "broker/store/commit_log.h"
#include "broker/store/consume_queue.h"
#include "broker/store/index_service.h"
#include "broker/store/store_options.h"
#include "common/clock.h"

namespace mq::store {

struct CleanStats {
  double disk_usage = 0;
  int commit_log_files_deleted = 0;
  int consume_queue_files_deleted = 0;
  int index_files_deleted = 0;
};

class CleanService {
 public:
  CleanService(const StoreOptions& options, Clock* clock, CommitLog* commit_log, ConsumeQueueTable* queues,
               IndexService* index, std::function<int64_t()> dispatched_offset);

  CleanStats RunOnce();
  bool disk_full() const { return disk_full_.load(std::memory_order_acquire); }
  double last_disk_usage() const { return last_usage_.load(std::memory_order_relaxed); }

  // True when the local hour of now_ms is listed in delete_when ("04", "01;02;03").
  static bool IsDeleteHour(const std::string& delete_when, int64_t now_ms);

 private:
  double DiskUsage() const;
  int64_t NewestTimestamp(const MappedFile& file) const;

  const StoreOptions& options_;
  Clock* const clock_;
  CommitLog* const commit_log_;
  ConsumeQueueTable* const queues_;
  IndexService* const index_;
  const std::function<int64_t()> dispatched_offset_;
  std::mutex run_mu_;
  std::atomic<bool> disk_full_{false};
  std::atomic<double> last_usage_{0};
};

}  // namespace mq::store
