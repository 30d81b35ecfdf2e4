#include "broker/store/clean_service.h"

#include <sys/statvfs.h>

#include <ctime>
#include <string_view>

#include "broker/store/message_format.h"
#include "common/coding.h"
#include "common/logging.h"
#include "common/naming.h"

namespace mq::store {

CleanService::CleanService(const StoreOptions& options, Clock* clock, CommitLog* commit_log,
                           ConsumeQueueTable* queues, IndexService* index,
                           std::function<int64_t()> dispatched_offset)
    : options_(options),
      clock_(clock),
      commit_log_(commit_log),
      queues_(queues),
      index_(index),
      dispatched_offset_(std::move(dispatched_offset)) {}

bool CleanService::IsDeleteHour(const std::string& delete_when, int64_t now_ms) {
  std::time_t secs = static_cast<std::time_t>(now_ms / 1000);
  std::tm local{};
  localtime_r(&secs, &local);
  for (const auto& token : SplitList(delete_when)) {
    int hour = 0;
    bool valid = true;
    for (char c : token) {
      if (c < '0' || c > '9') valid = false;
      hour = hour * 10 + (c - '0');
    }
    if (valid && hour == local.tm_hour) return true;
  }
  return false;
}

double CleanService::DiskUsage() const {
  if (options_.disk_usage_probe) return options_.disk_usage_probe();
  struct statvfs vfs {};
  if (::statvfs(options_.store_path_root_dir.c_str(), &vfs) != 0 || vfs.f_blocks == 0) return 0;
  double total = static_cast<double>(vfs.f_blocks);
  return (total - static_cast<double>(vfs.f_bavail)) / total;
}

int64_t CleanService::NewestTimestamp(const MappedFile& file) const {
  int64_t ts = file.max_store_timestamp();
  if (ts != 0) return ts;
  // Unknown after a clean restart: hop over record headers (no CRC, no copies).
  int32_t pos = 0;
  while (pos + kEndFileMinBlankLength <= file.wrote_position()) {
    auto probe = ProbeRecord(file.View(pos, file.size() - pos));
    if (!probe.ok() || probe->kind != RecordKind::kMessage) break;
    ts = std::max<int64_t>(ts, static_cast<int64_t>(DecodeFixed64BE(file.data() + pos + kStoreTimestampPos)));
    pos += probe->size;
  }
  const_cast<MappedFile&>(file).UpdateMaxStoreTimestamp(ts);
  return ts;
}

CleanStats CleanService::RunOnce() {
  std::lock_guard<std::mutex> lock(run_mu_);
  CleanStats stats;
  stats.disk_usage = DiskUsage();
  last_usage_.store(stats.disk_usage);
  bool full = stats.disk_usage > options_.disk_space_warning_level_ratio;
  if (full != disk_full_.load()) {
    if (full) {
      MQ_LOG_ERROR(Logger("store"), "disk usage {:.1f}% above diskSpaceWarningLevelRatio, refusing puts",
                   stats.disk_usage * 100);
    } else {
      MQ_LOG_INFO(Logger("store"), "disk usage {:.1f}%, accepting puts again", stats.disk_usage * 100);
    }
    disk_full_.store(full, std::memory_order_release);
  }
  int64_t now = clock_->NowMillis();
  bool over_ratio = stats.disk_usage * 100 > options_.disk_max_used_space_ratio;
  bool forcibly = stats.disk_usage > options_.disk_space_clean_forcibly_ratio;
  if (!over_ratio && !IsDeleteHour(options_.delete_when, now)) return stats;

  int64_t expire_before = now - int64_t{options_.file_reserved_time_hours} * 3600 * 1000;
  int64_t dispatched = dispatched_offset_();
  stats.commit_log_files_deleted = commit_log_->queue().DeleteLeading(
      [&](const MappedFile& file) {
        if (file.from_offset() + file.size() > dispatched) return false;
        return forcibly || NewestTimestamp(file) < expire_before;
      },
      options_.delete_file_batch_max);
  if (stats.commit_log_files_deleted == 0) return stats;
  int64_t min_phy = commit_log_->min_offset();
  for (const auto& cq : queues_->All()) stats.consume_queue_files_deleted += cq->DeleteExpired(min_phy);
  if (index_ != nullptr) stats.index_files_deleted = index_->DeleteExpired(min_phy);
  MQ_LOG_INFO(Logger("store"),
              "retention: deleted commit_log_files={} consume_queue_files={} index_files={} min_offset={}",
              stats.commit_log_files_deleted, stats.consume_queue_files_deleted, stats.index_files_deleted,
              min_phy);
  return stats;
}

}  // namespace mq::store
