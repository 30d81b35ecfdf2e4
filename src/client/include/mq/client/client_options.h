// Options shared by every client object (producer, push consumer, pull consumer).
// Plain value type; copy it into an options struct and pass it to a constructor.
//
// Errors: the client API reports failures as mq::Status / mq::Result<T> (common/status.h and
// common/result.h, installed with these headers); no exception crosses the API.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mq::client {

struct ClientOptions {
  // NameServer addresses "host:port". A random one is used first; on failure the next is tried.
  std::vector<std::string> namesrv_addrs;
  // Distinguishes several clients of one process. Also names the broadcast offset directory,
  // so give every broadcasting consumer of one host a stable, distinct instance name.
  std::string instance_name = "DEFAULT";
  // Route refresh period (RocketMQ pollNameServerInterval). Default 30 s.
  int64_t route_refresh_ms = 30'000;
  // Heartbeat period to every broker this client talks to (heartbeatBrokerInterval). Default 30 s.
  int64_t heartbeat_ms = 30'000;
  // Deadline of one control RPC (QueryRoute, Heartbeat, offsets, locks). Default 3 s.
  int64_t rpc_timeout_ms = 3'000;
  // Threads that run a producer's async send callbacks. Default 4; push consumers run their
  // listeners on their own consume_threads instead.
  // 0: each callback runs on the thread that finished its send, as Kafka's producer does,
  // saving a thread hand-off per reply (about a tenth of an end-to-end client's CPU here): the
  // one that read the broker's reply (the client's fast-send IO thread, or a gRPC thread for a
  // broker without a fast port), or an internal thread for a send that failed without one.
  // For callbacks that return at once (count, record, hand the result off): one that blocks
  // holds up every reply of the producer. A blocking Send() from one on the fast-send IO
  // thread goes over gRPC; on a gRPC or internal thread it fails at once with kFailedPrecondition
  // (SendAsync is fine). A send that fails inside SendAsync/Send still gets its callback on a
  // callback thread, never re-entrantly.
  int callback_threads = 4;
  // With callback_threads > 0: once 16 callbacks have been measured at this many µs or less on
  // average, and a reply's callbacks take at most 200 µs together, they run on the fast-send
  // IO thread that read the reply instead of waking a callback thread, as with
  // callback_threads = 0; callbacks that slow down go back to the callback threads. The call
  // that slows first holds the producer's other replies while it runs: set 0 (always the
  // callback threads) for callbacks that can block without warning (a lock, a remote call).
  // Range [0, 200]; default 20, as PushConsumerOptions::listener_on_reply_thread_max_us.
  int callback_on_reply_thread_max_us = 20;
  // Most gRPC connections to one broker that sends spread over (1-16) where they go over gRPC
  // (see fast_send). A send takes the
  // connection with the fewest sends in flight, and another is opened only while every open one
  // has a send in flight: a client with one request out at a time keeps a single connection.
  // Default 4.
  int send_connections_per_broker = 4;
  // Send and pull over a broker's fast send port (plain TCP frames, one connection per broker,
  // many requests in flight on it) when its route advertises one, else over gRPC as before
  // (RocketMQ's vipChannelEnabled in spirit). A port that cannot be reached is left alone for
  // a few seconds while calls go over gRPC. Default on.
  bool fast_send = true;
  // Process-wide, applied by the first client that starts with it set (glibc only): freed
  // buffers below 4 MiB stay in the heap and up to 8 MiB of free heap top stays mapped instead
  // of being returned to the kernel at every free, as a JVM keeps its heap. With glibc's
  // defaults each freed pull reply cost an madvise and a TLB shoot-down on every CPU: 40 % of a
  // backlog consumer's CPU. Thresholds set through MALLOC_*_ or GLIBC_TUNABLES win. Default on.
  bool tune_malloc = true;
};

}  // namespace mq::client
