// The three mqbench workloads on top of the client library (no private back doors).
// Each returns the process exit code: 0 when nothing failed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mq/client/producer.h"

namespace mq::bench {

// The client's defaults, which mqbench's options keep unless told otherwise.
inline const client::ProducerOptions& ClientDefaults() {
  static const client::ProducerOptions defaults;
  return defaults;
}

struct BenchParams {
  std::vector<std::string> namesrv_addrs;
  std::string topic = "BenchmarkTopic";
  std::string group = "benchmark_consumer";
  std::string tags = "bench";
  int body_size = 1024;
  int threads = 4;
  std::string mode = "async";                     // producer: sync | async | oneway
  int window = 64;                                // async sends in flight per thread
  int batch = 1;                                  // messages per send (batch sends are sync)
  double seconds = 0;                             // run length; 0 = until count
  int64_t count = 0;                              // messages; 0 = until seconds
  int64_t rate = 0;                               // e2e: messages per second sent
  double warmup_seconds = 0;                      // e2e: sent at the rate first, not measured
  int64_t timeline_ms = 100;                      // e2e: window of the timeline
  std::string timeline_path;                      // e2e: CSV of the timeline ("" = none)
  bool from_first = false;                        // consumer: start at the first offset of new queues
  bool auto_batch = ClientDefaults().auto_batch;  // producer, e2e: ProducerOptions::auto_batch
  // producer, e2e: ProducerOptions::auto_batch_max_in_flight, default the client's
  int batch_in_flight = ClientDefaults().auto_batch_max_in_flight;
  // producer, e2e: ProducerOptions::auto_batch_linger_us, default the client's
  int64_t linger_us = ClientDefaults().auto_batch_linger_us;
  // producer, e2e: ClientOptions::send_connections_per_broker, default the client's
  int send_connections = ClientDefaults().client.send_connections_per_broker;
  bool fast_send = ClientDefaults().client.fast_send;  // ClientOptions::fast_send, every client
  bool lite = false;                                   // consumer: the lite pull consumer (Poll)
  // producer, e2e: ClientOptions::callback_threads (0: callbacks on the reply's thread)
  int callback_threads = ClientDefaults().client.callback_threads;
  // producer, e2e: ClientOptions::callback_on_reply_thread_max_us (0: never moved there)
  int callback_on_reply_thread_max_us = ClientDefaults().client.callback_on_reply_thread_max_us;
  int pull_batch = 0;      // consumer, e2e: PushConsumerOptions::pull_batch_size (0 = default)
  int pull_standing = -1;  // consumer, e2e: PushConsumerOptions::pull_standing_replies (-1 = default)
  bool json = false;
  int buckets = 0;  // producer, e2e: property "bucket" = send sequence % buckets (0 = none)
  std::string sql;  // consumer, e2e: SQL92 selector instead of "*" (e.g. "bucket = 0")
};

int RunProducer(const BenchParams& params);
int RunConsumer(const BenchParams& params);
// A consumer and a rate-limited producer in one process; reports send-to-consume latency.
int RunEndToEnd(const BenchParams& params);

}  // namespace mq::bench
