// IndexService: persisted key index (RocketMQ IndexFile layout) for QueryMessageByKey and
// QueryMessageByUniqueKey. Keys indexed per message: "topic#UNIQ_KEY" and "topic#<token>" for
// each space-separated token of KEYS.
//
// Files: <root>/index/<20-digit commit log offset of the first indexed record>, each
//   header (40 B): beginTimestamp(8) endTimestamp(8) beginPhyOffset(8) endPhyOffset(8)
//                  hashSlotCount(4) indexCount(4)
//   slots: maxHashSlotNum x 4 B  (entry number of the newest entry in that bucket, 0 = empty)
//   entries: maxIndexNum x 20 B  keyHash(4) phyOffset(8) timeDiffSeconds(4) prevIndex(4)
// Big-endian. Entry numbers start at 1. Unlike RocketMQ, endPhyOffset is the END of the last
// indexed record, so re-dispatch after a restart skips what is already indexed. A lookup
// returns candidate offsets; the caller verifies the key against the record (hash collisions,
// entries left beyond a truncated log tail).
//
// Durability: files are written in place through the mapping; each File remembers how far
// it was written since its last flush (dirty_end), so Flush() syncs only files that changed
// and only up to their last written entry, never the unwritten tail of a fresh file nor the
// full files behind it (default geometry: ~420 MB of mapping each).
// Threads: BuildIndex from the dispatcher thread; queries, flush and retention from any
// thread. Locks: mu_ guards files_, every File's dirty_end and every read/write of the mapped
// index files; it is not held during the msync.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "broker/store/mapped_file.h"
#include "broker/store/store_options.h"
#include "common/result.h"

namespace mq::store {

struct IndexRequest {
  std::string_view topic;
  std::string_view keys;      // KEYS property, space separated
  std::string_view uniq_key;  // UNIQ_KEY property
  int64_t phy_offset = 0;
  int32_t size = 0;
  int64_t store_timestamp = 0;
};

class IndexService {
 public:
  explicit IndexService(const StoreOptions& options);
  IndexService(const IndexService&) = delete;
  IndexService& operator=(const IndexService&) = delete;

  Status Load();
  // Forgets index state at or beyond the recovered commit log end. When `synced_below` is below
  // that end (a crash: the index was last synced when the dispatcher had reached it), also what
  // was written since the sync: files started after it are deleted, and the last file keeps only
  // its entries below it, its slots rebuilt from them, whatever of the rest reached the disk.
  Status Recover(int64_t commit_log_end, int64_t synced_below);
  Status BuildIndex(const IndexRequest& request);
  // Commit log offsets of messages whose key may be `key`, newest first, store time within
  // [begin_ms, end_ms].
  std::vector<int64_t> Query(std::string_view topic, std::string_view key, int max_num, int64_t begin_ms,
                             int64_t end_ms) const;
  // End of the last indexed record (0 if nothing indexed).
  int64_t IndexedEnd() const;
  bool empty() const;
  // Makes what was written since the last Flush durable: one msync per file written since,
  // from the header to the end of its last written entry; none for untouched files (e.g.
  // full ones already flushed). On failure what was not synced stays dirty.
  Status Flush();
  // Deletes files whose records all lie below min_phy (never the newest).
  int DeleteExpired(int64_t min_phy);

 private:
  struct File;
  // Maps an existing index file, or with `create` a new one: fallocated (a full disk fails
  // here, not as a SIGBUS on a later write through the mapping) and its directory fsynced.
  Result<std::shared_ptr<File>> OpenFile(int64_t begin_phy, bool create) const;
  Status PutKey(File& file, int32_t hash, int64_t phy, int64_t store_ts);
  // Recover's part for the last file after a crash; see Recover.
  static void RepairUnsyncedTail(File& file, int64_t trusted_below);

  const StoreOptions& options_;
  const std::string dir_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<File>> files_;  // GUARDED_BY(mu_)
};

}  // namespace mq::store
