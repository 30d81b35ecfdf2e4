// ReplicateStream: one slave's mq.v1.Replication/Replicate stream on the master (RocketMQ
// HAConnection), as a gRPC callback reactor driven by a thread of its own.
//
// Why a reactor with a thread instead of a synchronous handler: a synchronous gRPC service
// keeps a server thread polling gRPC's process-wide event set, where it picks up and hands
// on reads of the client port's connections too: on a master without slaves that thread cost
// about a tenth of the broker's CPU per message in the batch benchmark (docs/benchmarks.md).
// With callback services only, no thread polls for nothing. The stream's loop still blocks
// (it waits for appended bytes, a heartbeat, or the end), which a reactor callback must not,
// so it runs on the stream's own thread and waits for each of its writes.
//
// What it does (see HaService): the slave's first report carries the handshake; a refused
// slave gets one reply chunk and FAILED_PRECONDITION. An accepted one gets commit log chunks
// of up to kMaxChunkBytes, one write in flight (gRPC flow control is the backpressure), and
// an empty heartbeat chunk every kHeartbeatInterval when there is nothing to send. Every
// later report is an ack (HaService::OnAck).
//
// Threads: the stream thread runs the handshake and the write loop and calls Finish; gRPC's
// threads run the reactions (OnReadDone acks and re-arms the read, OnWriteDone wakes the
// stream thread, OnCancel and a failed read end the loop). mu_ guards the write hand-off and
// reader_done_; never held while calling into gRPC. Lifetime: gRPC calls OnDone once Finish
// has completed and no operation is outstanding; OnDone deletes the reactor. The stream
// thread touches nothing of the reactor after calling Finish, and holds one of the owner's
// live-stream counts until it returns (HaService::Shutdown waits for them).
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "mq/v1/ha.grpc.pb.h"

namespace mq::ha {

class HaService;

class ReplicateStream final : public grpc::ServerBidiReactor<mq::v1::SlaveReport, mq::v1::LogChunk> {
 public:
  ReplicateStream(HaService* owner, grpc::CallbackServerContext* ctx);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  // The stream thread: handshake, then chunks until the slave goes, the stream is cancelled,
  // the service stops or a read of the log fails. Ends with Finish.
  void Run();
  grpc::Status Serve();
  // Stream thread: one write, waiting for its completion. False when the stream is broken.
  bool WriteAndWait(const mq::v1::LogChunk& chunk);
  // Stream thread: cancels the call and waits until no read is outstanding, so no reaction
  // re-arms one after Finish.
  void StopReading();
  // The read failed or the call was cancelled: the write loop must end.
  void EndLoop();

  HaService* const owner_;
  grpc::CallbackServerContext* const ctx_;
  mq::v1::SlaveReport report_;       // the read target: the first report, then each ack
  bool handshake_read_ = false;      // written by the first OnReadDone only
  uint64_t conn_ = 0;                // set by the stream thread before it re-arms the read
  std::atomic<bool> ending_{false};  // the slave went away or the call was cancelled

  std::mutex mu_;
  std::condition_variable cv_;
  bool write_pending_ = false;  // GUARDED_BY(mu_)
  bool write_ok_ = false;       // GUARDED_BY(mu_)
  bool reading_ = false;        // GUARDED_BY(mu_) an ack read is outstanding
};

}  // namespace mq::ha
