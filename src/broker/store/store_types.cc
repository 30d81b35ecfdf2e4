#include "broker/store/store_types.h"

#include <fmt/format.h>

#include "broker/store/message_format.h"
#include "broker/store/store_options.h"

namespace mq::store {

std::string_view PutStatusName(PutStatus status) {
  switch (status) {
    case PutStatus::kOk:
      return "PUT_OK";
    case PutStatus::kFlushDiskTimeout:
      return "FLUSH_DISK_TIMEOUT";
    case PutStatus::kFlushSlaveTimeout:
      return "FLUSH_SLAVE_TIMEOUT";
    case PutStatus::kSlaveNotAvailable:
      return "SLAVE_NOT_AVAILABLE";
    case PutStatus::kServiceNotAvailable:
      return "SERVICE_NOT_AVAILABLE";
    case PutStatus::kCreateMappedFileFailed:
      return "CREATE_MAPPED_FILE_FAILED";
    case PutStatus::kMessageIllegal:
      return "MESSAGE_ILLEGAL";
    case PutStatus::kPropertiesSizeExceeded:
      return "PROPERTIES_SIZE_EXCEEDED";
    case PutStatus::kOsPageCacheBusy:
      return "OS_PAGE_CACHE_BUSY";
    case PutStatus::kUnknownError:
      return "UNKNOWN_ERROR";
  }
  return "UNKNOWN_ERROR";
}

std::string_view GetMessageStatusName(GetMessageStatus status) {
  switch (status) {
    case GetMessageStatus::kFound:
      return "FOUND";
    case GetMessageStatus::kNoMatchedMessage:
      return "NO_MATCHED_MESSAGE";
    case GetMessageStatus::kMessageWasRemoving:
      return "MESSAGE_WAS_REMOVING";
    case GetMessageStatus::kOffsetFoundNull:
      return "OFFSET_FOUND_NULL";
    case GetMessageStatus::kOffsetOverflowBadly:
      return "OFFSET_OVERFLOW_BADLY";
    case GetMessageStatus::kOffsetOverflowOne:
      return "OFFSET_OVERFLOW_ONE";
    case GetMessageStatus::kOffsetTooSmall:
      return "OFFSET_TOO_SMALL";
    case GetMessageStatus::kNoMatchedLogicQueue:
      return "NO_MATCHED_LOGIC_QUEUE";
    case GetMessageStatus::kNoMessageInQueue:
      return "NO_MESSAGE_IN_QUEUE";
  }
  return "UNKNOWN";
}

Status ValidateStoreOptions(const StoreOptions& o) {
  if (o.store_path_root_dir.empty()) return Status::InvalidArgument("storePathRootDir: must not be empty");
  if (o.mapped_file_size_commit_log < 4096) {
    return Status::InvalidArgument("mappedFileSizeCommitLog: must be at least 4096 bytes");
  }
  if (o.mapped_file_size_consume_queue < 20 || o.mapped_file_size_consume_queue % 20 != 0) {
    return Status::InvalidArgument("mappedFileSizeConsumeQueue: must be a positive multiple of 20");
  }
  if (o.max_message_size <= 0 ||
      o.max_message_size > o.mapped_file_size_commit_log - kEndFileMinBlankLength) {
    return Status::InvalidArgument(
        fmt::format("maxMessageSize: must be in (0, mappedFileSizeCommitLog - {}]", kEndFileMinBlankLength));
  }
  if (o.commit_log_page_cache_bytes < 0) {
    return Status::InvalidArgument("commitLogPageCacheBytes: must not be negative (0 = never drop)");
  }
  if (o.flush_commit_log_every_bytes < 0) {
    return Status::InvalidArgument("flushCommitLogEveryBytes: must not be negative (0 = by time only)");
  }
  if (o.sync_flush_stage_bytes < 0) {
    return Status::InvalidArgument("sync_flush_stage_bytes: must not be negative (0 = no staging)");
  }
  if (o.flush_interval_commit_log_ms <= 0 || o.sync_flush_timeout_ms <= 0 ||
      o.flush_interval_consume_queue_ms <= 0 || o.clean_resource_interval_ms <= 0) {
    return Status::InvalidArgument("flush/clean intervals and syncFlushTimeout must be positive");
  }
  if (o.flush_interval_index_ms < 0)
    return Status::InvalidArgument("flushIntervalIndex: must not be negative (0 = at every checkpoint)");
  if (o.max_queue_nums_per_topic <= 0)
    return Status::InvalidArgument("max_queue_nums_per_topic: must be > 0");
  if (o.max_hash_slot_num <= 0 || o.max_index_num <= 1) {
    return Status::InvalidArgument("maxHashSlotNum/maxIndexNum: must be positive");
  }
  if (o.message_index_enable &&
      40 + int64_t{o.max_hash_slot_num} * 4 + int64_t{o.max_index_num} * 20 > INT32_MAX) {
    return Status::InvalidArgument("maxHashSlotNum/maxIndexNum: an index file would exceed 2 GiB");
  }
  if (o.file_reserved_time_hours < 0 || o.delete_file_batch_max <= 0) {
    return Status::InvalidArgument("fileReservedTime/deleteFileBatchMax: out of range");
  }
  return Status::OK();
}

}  // namespace mq::store
