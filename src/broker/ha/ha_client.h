// HaClient: the slave side of replication (RocketMQ DefaultHAClient + SlaveSynchronize).
//
// Replication thread: finds the master's HA address (master_ha_addr(), fed by the
// NameServer registration replies), opens a Replicate stream from the local MaxPhyOffset()
// with the handshake (handshake.h: segment size and the anchor of its last record, kept up to
// date per appended chunk so a reconnect does not rescan a segment), appends every chunk
// verbatim through MessageStore::ReplicaAppend (the dispatcher builds the consume queues and
// index) and acknowledges its new end after each chunk. On any error it reconnects with
// exponential backoff (100 ms .. 3 s).
// Refusal: when the master refuses the handshake (the slave is ahead of it, the logs diverged,
// the segment sizes differ, ...) the slave appends nothing, logs the master's reason as an
// error, reports it as haRefused (and haDiverged=true for a log that is ahead or diverged) and
// keeps retrying; an operator must act (see docs/replication.md).
//
// Metadata thread: also the stream watchdog (a stream silent for 5 s, counted from its start
// so a handshake reply that never comes counts too, is cancelled, since the master heartbeats
// every second). It calls GetMetadata every kMetadataSyncInterval (10 s), immediately after
// a stream connects, and whenever the master's metadata fingerprint in a chunk changes; it sends offsets
// committed locally (consumers reading from this slave) so the master keeps them. It syncs only
// once a handshake was accepted and while none is refused.
//
// Threads: two dedicated threads (ReplicaAppend is a memcpy, no fsync, so appending inline
// is fine). Locks: mu_ guards the status fields, the live stream context and the wake flags;
// never held across gRPC calls.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "broker/ha/metadata_sync.h"
#include "broker/store/record_anchor.h"
#include "mq/v1/ha.pb.h"

namespace grpc {
class ClientContext;
}

namespace mq::store {
class MessageStore;
}

namespace mq::ha {

inline constexpr std::chrono::milliseconds kMetadataSyncInterval{10000};

class HaClient {
 public:
  struct Options {
    std::string broker_name;
    int64_t broker_id = 1;
    std::string self_addr;  // reported to the master (informational)
  };
  // Returns the master's HA address ("host:port"), empty while unknown.
  using MasterAddrFn = std::function<std::string()>;

  HaClient(Options options, store::MessageStore* store, MetadataManagers metadata, MasterAddrFn master);
  ~HaClient();
  HaClient(const HaClient&) = delete;
  HaClient& operator=(const HaClient&) = delete;

  void Start();
  // Cancels the live stream and joins both threads (no gRPC callback threads are left).
  void Shutdown();

  // haMasterAddress, haConnected, haMasterMaxOffset, haLagBytes, haLagTimeMills, haDiverged,
  // haRefused, haLastMetadataSync.
  void AddRuntimeInfo(std::map<std::string, std::string>* table) const;

 private:
  void ReplicationLoop();
  // Runs one stream until it breaks; returns whether any chunk arrived.
  bool RunStream(const std::string& addr);
  // Handles the master's handshake reply (the first chunk); false when refused.
  bool OnHandshakeReply(const std::string& addr, const mq::v1::LogChunk& first, std::string* error);
  // Records a refusal for runtime info, logs it once per distinct reason; returns `reason`.
  std::string NoteRefusal(const std::string& reason, bool diverged = false);
  void MetadataLoop();
  bool SyncMetadata(const std::string& addr);
  // Waits up to `d`; false when stopping.
  bool Sleep(std::chrono::milliseconds d);

  const Options options_;
  store::MessageStore* const store_;
  const MetadataManagers metadata_;
  const MasterAddrFn master_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = true;                     // GUARDED_BY(mu_)
  grpc::ClientContext* live_ = nullptr;  // GUARDED_BY(mu_)
  std::string connected_addr_;           // GUARDED_BY(mu_)
  int64_t master_max_ = 0;               // GUARDED_BY(mu_)
  int64_t caught_up_ms_ = 0;             // GUARDED_BY(mu_)
  bool diverged_ = false;                // GUARDED_BY(mu_)
  std::string refused_;                  // GUARDED_BY(mu_), last refusal, "" = none
  std::string last_logged_refusal_;      // GUARDED_BY(mu_), its kind, e.g. "SLAVE_AHEAD"
  uint64_t master_md_version_ = 0;       // GUARDED_BY(mu_)
  bool md_requested_ = false;            // GUARDED_BY(mu_)
  int64_t last_md_sync_ms_ = 0;          // GUARDED_BY(mu_)
  int64_t last_chunk_ms_ = 0;            // GUARDED_BY(mu_), stream start or last chunk; 0 = none
  MasterTables last_master_;             // metadata thread only: the master's last GetMetadata answer
  // Metadata thread only: the newest answer whose progress the local log does not cover yet.
  std::optional<mq::v1::GetMetadataResponse> pending_progress_;
  std::optional<store::RecordAnchor> anchor_;  // replication thread only
  std::thread repl_thread_;
  std::thread md_thread_;
};

}  // namespace mq::ha
