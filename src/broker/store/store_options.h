// StoreOptions: every knob of the storage engine, leveldb options.h style. Each field names
// the RocketMQ MessageStoreConfig key the broker binds it to, and its default.
// Plain value type; copied into MessageStore at construction and immutable afterwards.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace mq::store {

enum class FlushDiskType { kAsyncFlush, kSyncFlush };

// Test-only fault injection. Called before an I/O step; a non-OK return makes that step fail
// as if the kernel had returned the error. `op` is "create" (new segment file of the commit
// log, a consume queue or the index), "flush" (msync/fdatasync), "fsync_dir" (making a new
// segment's directory entry durable; `path` is the directory) or "fallocate" (re-reserving
// blocks for a zeroed segment tail); otherwise `path` is the file concerned.
using FaultHook = std::function<Status(std::string_view op, const std::string& path)>;

struct StoreOptions {
  // storePathRootDir: root of commitlog/, consumequeue/, index/, checkpoint, abort.
  // Default: "./store".
  std::string store_path_root_dir = "./store";

  // mappedFileSizeCommitLog: bytes per commit log segment. Default: 1 GiB.
  int32_t mapped_file_size_commit_log = 1024 * 1024 * 1024;

  // mappedFileSizeConsumeQueue: bytes per consume queue segment (multiple of 20).
  // Default: 300000 * 20.
  int32_t mapped_file_size_consume_queue = 300000 * 20;

  // flushDiskType: ASYNC_FLUSH or SYNC_FLUSH. Default: kAsyncFlush.
  FlushDiskType flush_disk_type = FlushDiskType::kAsyncFlush;

  // flushIntervalCommitLog: ASYNC_FLUSH period in ms. Default: 500.
  int32_t flush_interval_commit_log_ms = 500;

  // flushCommitLogEveryBytes (ours, not RocketMQ's): with ASYNC_FLUSH, a flush also starts as
  // soon as this many bytes were appended since the last one began, so no flush pass has more
  // than about this much to write back. At a high rate a 500 ms period leaves tens of MB to one
  // pass, whose writeback takes a CPU for milliseconds in one piece, and every message arriving
  // meanwhile waits (docs/benchmarks.md, thirty-eighth session). Flushing more often only makes
  // the data durable sooner. 0 = by time only, as RocketMQ. Default: 4 MiB.
  int64_t flush_commit_log_every_bytes = 4 << 20;

  // commitLogPageCacheBytes (ours, not RocketMQ's): how much of the commit log behind its
  // flushed end stays in the page cache; the flush thread drops older, already durable bytes
  // from it, so the log's page cache stops growing and the kernel recycles those pages for the
  // new ones instead of taking more memory: for a broker whose memory limit counts its page
  // cache (a container), or a VM whose host takes back freed guest memory (each new page is
  // a host fault). Consumers and slaves further behind read from disk (docs/store.md §6).
  // Default: 0, never drop (the kernel alone decides, as with RocketMQ).
  int64_t commit_log_page_cache_bytes = 0;

  // syncFlushTimeout: SYNC_FLUSH wait before a put reports kFlushDiskTimeout, ms. Default: 5000.
  int32_t sync_flush_timeout_ms = 5000;

  // syncFlushStageBytes (ours): with SYNC_FLUSH, appends are copied into a staging ring of
  // this many bytes and the flush thread writes everything staged in one pwrite() just before
  // each sync, instead of one pwrite() per put under the append lock (RocketMQ's
  // transientStorePool idea, kept for SYNC_FLUSH, where no reader may see the bytes before the
  // sync anyway). A put that does not fit writes the ring out itself. 0 = every put writes.
  // Default: 1 MiB (store_bench measured 4 MiB no faster), allocated on the first staged put.
  int32_t sync_flush_stage_bytes = 1 << 20;

  // flushIntervalConsumeQueue: how often consume queues are flushed and the checkpoint is
  // written, ms. Default: 1000.
  int32_t flush_interval_consume_queue_ms = 1000;

  // flushIntervalIndex (ours): how often the key index is synced, ms; checked at each
  // checkpoint. Random keys dirty the hash slots all over (about 20 MB of slots per file at the
  // default geometry), and syncing a page written through the mapping write-protects it again
  // on every CPU (an inter-processor interrupt per page, then a write fault at its next
  // update), so a sync every second rewrites the whole slot table every second. Between syncs
  // the checkpoint's logic offset stays at the last synced point, and recovery after a crash
  // re-indexes (and re-dispatches consume queues, idempotently) from there: a longer interval
  // costs only a longer re-dispatch. RocketMQ syncs an index file only when it is full. 0 =
  // at every checkpoint. Default: 10000.
  int32_t flush_interval_index_ms = 10000;

  // A slave's store (brokerRole=SLAVE): its commit log takes replicated bytes only
  // (ReplicaAppend); a local put is refused, as a record of its own would exist nowhere on the
  // master and the master would refuse to replicate to it again.
  bool replica = false;

  // maxMessageSize: largest accepted record (whole encoded record), bytes. Default: 4 MiB.
  int32_t max_message_size = 4 * 1024 * 1024;

  // Largest accepted queue id + 1 (the broker checks topic configs; this is the store's
  // sanity bound). Default: 1024.
  int32_t max_queue_nums_per_topic = 1024;

  // fileReservedTime: hours a commit log segment is kept after its newest message. Default: 72.
  int32_t file_reserved_time_hours = 72;

  // deleteWhen: local hours (two digits, ';'-separated) when expired files are deleted.
  // Default: "04".
  std::string delete_when = "04";

  // diskMaxUsedSpaceRatio: percent of the store disk above which expired files are deleted
  // immediately, regardless of deleteWhen. Default: 75.
  int32_t disk_max_used_space_ratio = 75;

  // diskSpaceCleanForciblyRatio: above this fraction, the oldest files are deleted even if
  // not expired. Default: 0.85.
  double disk_space_clean_forcibly_ratio = 0.85;

  // diskSpaceWarningLevelRatio: above this fraction puts are refused ("disk full").
  // Default: 0.90.
  double disk_space_warning_level_ratio = 0.90;

  // deleteFileBatchMax: segments deleted per clean pass. Default: 10.
  int32_t delete_file_batch_max = 10;

  // Period of the clean service, ms (RocketMQ cleanResourceInterval). Default: 10000.
  int32_t clean_resource_interval_ms = 10000;

  // maxHashSlotNum / maxIndexNum: IndexFile geometry. Default: 5000000 / 20000000.
  int32_t max_hash_slot_num = 5000000;
  int32_t max_index_num = 20000000;

  // messageIndexEnable: build the key index. Default: true.
  bool message_index_enable = true;

  // Pre-create and fallocate the next commit log segment on a background thread
  // (RocketMQ AllocateMappedFileService). Default: true.
  bool preallocate_next_segment = true;

  // brokerIP1:listenPort packed as storehost in every record (IPv4 only). Default: 127.0.0.1:10911.
  uint32_t store_host_ip = 0x7F000001;
  uint32_t store_host_port = 10911;

  // Test-only: returns the used fraction of the store's disk instead of statvfs(). Default: empty.
  std::function<double()> disk_usage_probe;

  // Test-only fault injection, see FaultHook. Default: empty.
  FaultHook fault_hook;
};

// Validates sizes and ratios; returns InvalidArgument naming the RocketMQ key.
Status ValidateStoreOptions(const StoreOptions& options);

}  // namespace mq::store
