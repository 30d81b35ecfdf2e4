// TcpProxy: a loopback TCP proxy a test puts between two processes (here a slave and its
// master's replication port) to inject network faults on a real TCP path:
//   kForward  bytes flow, each direction delayed by SetDelay() (0 = none);
//   kStall    a partition: nothing is read or written on any connection, old or new, so
//             peers see silence (buffered bytes flow again after heal, as after a real
//             partition that heals before TCP gives up);
//   kStallToUpstream / kStallToClient  a one-way partition: only bytes towards the
//             upstream (here: the slave's acks) or towards the client (the master's chunks)
//             are held;
//   kRefuse   every live connection is reset (RST) and new ones are reset on accept.
// ResetAll() resets the live connections mid-stream; SetResetAfterBytes() makes every
// connection (old or new) reset itself after a pseudo-random number of forwarded bytes in
// [n/2, 3n/2).
// SetMode() returns only once every connection has seen the new mode, so a test knows no byte
// crosses after it switched to kStall or kRefuse.
//
// Threads: one acceptor thread plus one pump thread per connection (poll() over both
// sockets, 20 ms ticks to notice mode changes). Locks: mu_ guards conns_; modes and counters
// are atomics. Stop() (and the destructor) joins every thread. Not copyable.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace mq::testing {

class TcpProxy {
 public:
  enum class Mode { kForward, kStall, kStallToUpstream, kStallToClient, kRefuse };

  // upstream: "host:port" of the real server (IPv4 literal, e.g. 127.0.0.1:41234).
  explicit TcpProxy(std::string upstream);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  // Listens on 127.0.0.1 with an ephemeral port. False (with errno logged) on failure.
  bool Start();
  void Stop();
  // "127.0.0.1:<port>" for the client to connect to.
  std::string address() const;

  // Returns once every live connection observed `mode` (bounded: 5 s).
  void SetMode(Mode mode);
  void SetDelay(std::chrono::milliseconds delay) { delay_ms_ = delay.count(); }
  void SetResetAfterBytes(int64_t bytes) { reset_after_ = bytes; }
  void ResetAll();
  // Every live connection goes silent for good (as kStall, whatever the mode later is); new
  // connections follow the mode. A peer that vanished while its connections stay open.
  void FreezeLive();

  int64_t accepted() const { return accepted_; }
  int64_t resets() const { return resets_; }
  int64_t forwarded_bytes() const { return forwarded_; }

 private:
  struct Conn {
    int client_fd = -1;
    int upstream_fd = -1;
    uint64_t reset_epoch = 0;            // ResetAll() calls before this connection existed
    std::atomic<uint64_t> seen_mode{0};  // last mode_epoch_ the pump acted on
    std::atomic<bool> done{false};
    std::atomic<bool> frozen{false};
    std::thread thread;
  };

  void AcceptLoop();
  // reset_factor in [0.5, 1.5) scales reset_after_ for this connection.
  void Pump(Conn* conn, double reset_factor);
  void ReapFinished();  // requires mu_

  const std::string upstream_host_;
  const int upstream_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<Mode> mode_{Mode::kForward};
  std::atomic<uint64_t> mode_epoch_{0};
  std::atomic<uint64_t> reset_epoch_{0};
  std::atomic<int64_t> delay_ms_{0};
  std::atomic<int64_t> reset_after_{0};
  std::atomic<int64_t> accepted_{0};
  std::atomic<int64_t> resets_{0};
  std::atomic<int64_t> forwarded_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::list<std::unique_ptr<Conn>> conns_;  // GUARDED_BY(mu_)
  uint64_t seed_ = 0x9e3779b97f4a7c15ULL;   // GUARDED_BY(mu_), per-connection reset thresholds
};

}  // namespace mq::testing
