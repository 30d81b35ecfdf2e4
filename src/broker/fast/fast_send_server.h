// FastSendServer: the broker's fast send port (fastListenPort, RocketMQ's rule listenPort - 2):
// SendMessage, PullMessage and UpdateConsumerOffset requests as frames (common/frame.h) on plain
// TCP, each answered on its connection by request id, and Cancel frames that end a pull in progress. It
// exists because a gRPC call on this kind of machine costs about 200 us of CPU and five thread switches
// between the two processes, far more than a batch's own work (docs/benchmarks.md, "fifteenth session"); here
// a request costs a read and a write.
//
// Threads: `threads` IO threads ("mq-fast-io"), each running its own IoExecutor; the first also
// accepts, and each connection is served by one of them (round robin) for its life, so no two
// threads hand a connection's work back and forth (one shared context cost about two futex
// calls per request). A thread reads and hands each request to SendProcessor::SendWire itself. The reply is
// written by whichever thread completes the send (the reader itself under ASYNC_FLUSH, the flush thread under
// SYNC_FLUSH, an HA thread on a SYNC_MASTER) straight into the socket; only what the socket does not take at
// once is left to the IO thread. Memory: a connection reads into its IO thread's buffer and keeps only the
// start of a frame not complete yet; that frame (from its header on), a request until its send completes, and
// replies the socket has not taken are all leased from the gRPC port's send budget
// (sendRequestMemoryQuota), but pull replies, which keep their pullResponseMemoryQuota lease
// until the socket took them (as the gRPC port's do until sent): a frame that does not fit is
// refused with RESOURCE_EXHAUSTED and its bytes skipped. A connection with more than 1 MiB of
// unsent replies handles no further frame (the rest of what it read is held, leased) and is not
// read until they drain; its standing pulls end. A connection whose socket fails is closed by
// whichever side sees it. Frames are at most max_frame_bytes (the gRPC port's request limit).
// Locking: each connection's mutex guards its unsent bytes, its closed flag (no write after
// its socket closed) and its pulls in progress; mu_ guards the connection set. The processor and budget
// outlive this.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "broker/processor/byte_budget.h"
#include "broker/processor/client_processor.h"
#include "broker/processor/pull_processor.h"
#include "broker/processor/send_processor.h"
#include "common/io_executor.h"
#include "common/status.h"

namespace mq::broker {

class FastSendServer {
 public:
  struct Options {
    std::string bind_address = "0.0.0.0";
    int port = 0;  // 0: any free port
    int threads = 2;
    uint32_t max_frame_bytes = 9u * 1024 * 1024 + 20;
  };
  // `pull` and `client` (may be null: PullMessage, UpdateConsumerOffset are NOT_SUPPORTED here)
  // serve pulls and offset commits on the same port.
  FastSendServer(Options options, SendProcessor* send, ByteBudget* budget, PullProcessor* pull = nullptr,
                 ClientProcessor* client = nullptr);
  ~FastSendServer();
  FastSendServer(const FastSendServer&) = delete;
  FastSendServer& operator=(const FastSendServer&) = delete;

  // Binds, listens and starts accepting; port() is the bound port after it.
  Status Start();
  int port() const { return port_; }
  // Stops accepting and reading new requests, waits until `deadline` for the sends in
  // progress to be answered, then closes every connection and stops the IO threads.
  // Idempotent; the destructor runs it with no wait.
  void Shutdown(std::chrono::system_clock::time_point deadline);

  class Connection;
  // What connections share with the server and still use after it stopped: the count of sends
  // in progress (Shutdown waits for zero) and whether new requests are refused.
  struct Shared {
    std::mutex mu;
    std::condition_variable idle;
    int64_t calls_in_progress = 0;  // guarded by mu: sends and pulls not answered yet
    std::atomic<bool> stopping{false};
  };

 private:
  void Accept();
  void RemoveConnection(const std::shared_ptr<Connection>& connection);

  const Options options_;
  SendProcessor* const send_;
  PullProcessor* const pull_;
  ClientProcessor* const client_;
  ByteBudget* const budget_;
  std::vector<std::unique_ptr<IoExecutor>> io_;  // one context per IO thread; io_[0] accepts
  size_t next_io_ = 0;                           // IO thread only: the next connection's context
  struct Acceptor;
  std::unique_ptr<Acceptor> acceptor_;
  int port_ = 0;
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  std::mutex mu_;
  std::set<std::shared_ptr<Connection>> connections_;  // guarded by mu_; removed when closed
  bool started_ = false;
};

}  // namespace mq::broker
