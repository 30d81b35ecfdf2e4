// HaService: the master side of replication (RocketMQ DefaultHAService + HAConnection +
// GroupTransferService). Serves mq.v1.Replication on its own gRPC server bound to
// haListenPort (0 = pick a free port; port() tells which).
//
// Replicate: one stream per slave. The slave's first SlaveReport says where to start (its
// MaxPhyOffset) and carries the handshake (handshake.h): a slave whose log the master's does
// not provably continue is refused before a byte is streamed, and the refusal is kept for
// runtime info / haStatus (kRefusalMemoryMs). Otherwise the first chunk accepts it and the
// master streams raw commit log bytes in chunks of up to 1 MiB (one segment at most), one
// Write in flight, so gRPC flow control is the backpressure. When there is nothing to send it
// sends an empty heartbeat chunk every second. Every later report acknowledges the slave's
// appended end, counted only up to the bytes streamed to it on this stream; acks drive
// ReplicationWaiters.
// GetMetadata: topic configs, subscription groups, consumer offsets (see metadata_sync.h).
//
// SYNC_MASTER: WaitForSlaves() completes once every in-sync slave (accepted by the handshake,
// connected, less than kMaxGapNotInSync bytes behind, acked within kAckStaleMs) has
// acknowledged the offset — at least one is required.
//
// Threads: a gRPC callback service (no synchronous server thread, see replicate_stream.h).
// Each stream has one thread of its own for its write loop; acks arrive on gRPC's threads;
// no disk I/O beyond memcpy out of the page cache happens on either. GetMetadata runs on a
// gRPC thread. Locks: mu_ guards the slave table, refusals_ and the live stream count, and
// wakes writers; it is never held across gRPC calls or callbacks.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "broker/ha/metadata_sync.h"
#include "broker/ha/replication_waiters.h"
#include "broker/store/store_types.h"
#include "common/status.h"

namespace grpc {
class Server;
}

namespace mq::store {
class MessageStore;
}

namespace mq::ha {

// RocketMQ haMaxGapNotInSync: a slave further behind does not count for SYNC_MASTER.
inline constexpr int64_t kMaxGapNotInSync = 256LL * 1024 * 1024;
// A slave acks at least every heartbeat (1 s); one silent for longer is not in sync (it may
// be hung with its connection still open) and stops holding SYNC_MASTER sends back.
inline constexpr int64_t kAckStaleMs = 3000;
// The replication server pings every slave connection this often; one that leaves a ping
// unanswered for kSlaveKeepaliveTimeoutMs is closed, ending its stream (a slave host that
// vanished, or a partition, would otherwise stay a connected slave until TCP gives up).
inline constexpr int kSlaveKeepaliveMs = 5000;
inline constexpr int kSlaveKeepaliveTimeoutMs = 5000;
inline constexpr int32_t kMaxChunkBytes = 1024 * 1024;
inline constexpr std::chrono::milliseconds kHeartbeatInterval{1000};
// A refused slave retries every few seconds (HaClient backoff <= 3 s); one not heard from for
// this long has gone away and drops out of the refusal table.
inline constexpr int64_t kRefusalMemoryMs = 60000;

struct SlaveStatus {
  int64_t broker_id = 0;
  std::string addr;             // the slave's client-facing address
  int64_t ack_offset = 0;       // slave's acknowledged commit log end, as counted (see OnAck)
  int64_t reported_offset = 0;  // what the slave last reported (may exceed what it was sent)
  int64_t lag_bytes = 0;        // master max - ack_offset
  int64_t lag_ms = 0;           // how long the slave has been behind (0 when caught up)
  int64_t connected_ms = 0;     // connect time
  bool in_sync = false;         // counts for SYNC_MASTER (see InSync)
};

// A slave the handshake refused (latest attempt), kept kRefusalMemoryMs.
struct RefusedSlave {
  int64_t broker_id = 0;
  std::string addr;
  std::string reason;  // "<STATUS>: <message>", e.g. "SLAVE_AHEAD: slave ... ends at offset ..."
  int64_t count = 0;   // refused attempts since it was last accepted (or forgotten)
  int64_t last_ms = 0;
};

class HaService {
 public:
  struct Options {
    std::string bind_host = "0.0.0.0";
    int port = 10912;  // 0 = pick a free port
    // Only slaves of this broker set (same brokerName) may replicate or sync metadata.
    std::string broker_name;
  };

  HaService(Options options, store::MessageStore* store, MetadataManagers metadata);
  ~HaService();
  HaService(const HaService&) = delete;
  HaService& operator=(const HaService&) = delete;

  Status Start();
  // Ends every stream, completes pending waiters with FLUSH_SLAVE_TIMEOUT, stops the server.
  void Shutdown();
  int port() const { return port_; }

  // New bytes were appended locally: wake the stream writers. Cheap; any thread. Between
  // Start() and Shutdown() the store calls it after every append (SetAppendListener), before
  // the bytes are flushed, so replication runs alongside a SYNC_FLUSH fsync.
  void NotifyAppended();
  // SYNC_MASTER: `done` gets kOk once the in-sync slaves hold [.., end_offset), or
  // kSlaveNotAvailable (no in-sync slave) / kFlushSlaveTimeout. May run inline.
  void WaitForSlaves(int64_t end_offset, std::chrono::milliseconds timeout,
                     std::function<void(store::PutStatus)> done);

  std::vector<SlaveStatus> Slaves() const;
  std::vector<RefusedSlave> Refused() const;
  // Adds haSlaveCount, haSlaveAckOffset_<id>, haLagBytes_<id>, haLagTimeMills_<id>,
  // haSlaveAddr_<id>, haSlaveInSync_<id>, haPendingSyncRequests, and per refused slave
  // haRefusedAddr_<id>, haRefusedReason_<id>, haRefusedCount_<id>.
  void AddRuntimeInfo(std::map<std::string, std::string>* table) const;

 private:
  class Impl;
  friend class ReplicateStream;
  struct Slave {
    uint64_t conn_id = 0;
    int64_t broker_id = 0;
    std::string addr;
    int64_t ack_offset = 0;  // min(the slave's report, streamed_end)
    int64_t reported_offset = 0;
    int64_t streamed_end = 0;     // the handshake offset + bytes handed to this stream
    bool reported_ahead = false;  // it acked past streamed_end once (logged once)
    int64_t caught_up_ms = 0;     // last time ack_offset >= master max
    int64_t last_ack_ms = 0;
    int64_t connected_ms = 0;
  };

  // A replication stream of this broker id is accepted and live.
  bool HasSlave(int64_t broker_id) const;
  // Called by the stream handlers (Impl). `offset`: where the handshake accepted the slave.
  uint64_t AddSlave(int64_t broker_id, const std::string& addr, int64_t offset);
  void RemoveSlave(uint64_t conn_id);
  // The stream is about to write bytes up to `end`; acks may count up to there.
  void OnStreamed(uint64_t conn_id, int64_t end);
  void OnAck(uint64_t conn_id, int64_t offset);
  void RecordRefusal(int64_t broker_id, const std::string& addr, const std::string& status,
                     const std::string& message);
  static bool InSync(const Slave& s, int64_t master_max, int64_t now_ms) {
    return s.ack_offset <= master_max && master_max - s.ack_offset < kMaxGapNotInSync &&
           now_ms - s.last_ack_ms <= kAckStaleMs;
  }
  // Recomputes the offset all in-sync slaves hold and feeds the waiters. Requires !mu_.
  void UpdateReplicated();
  // Waits until there are bytes past `offset`, `deadline`, or stop / `cancelled`.
  void WaitForData(int64_t offset, std::chrono::steady_clock::time_point deadline,
                   const std::atomic<bool>& cancelled);
  uint64_t metadata_version();
  bool stopping() const;
  // A stream thread started / is about to return (Shutdown waits for every one to return).
  void StreamStarted();
  void StreamEnded();

  const Options options_;
  store::MessageStore* const store_;
  const MetadataManagers metadata_;
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<grpc::Server> server_;
  ReplicationWaiters waiters_;
  int port_ = 0;

  mutable std::mutex mu_;
  std::condition_variable data_cv_;
  bool stop_ = false;                                      // GUARDED_BY(mu_)
  std::condition_variable streams_cv_;                     // live_streams_ dropped to 0
  int live_streams_ = 0;                                   // GUARDED_BY(mu_)
  uint64_t next_conn_id_ = 1;                              // GUARDED_BY(mu_)
  std::map<uint64_t, Slave> slaves_;                       // GUARDED_BY(mu_)
  uint64_t replicated_generation_ = 0;                     // GUARDED_BY(mu_), UpdateReplicated
  std::map<int64_t, RefusedSlave> refusals_;               // GUARDED_BY(mu_), by brokerId
  uint64_t md_version_ = 0;                                // GUARDED_BY(mu_)
  std::chrono::steady_clock::time_point md_version_at_{};  // GUARDED_BY(mu_)
};

}  // namespace mq::ha
