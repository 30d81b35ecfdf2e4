// txn_bench: transactional send throughput (half message + local transaction + COMMIT, i.e.
// two broker round trips per message) against plain synchronous sends, through the C++ client
// with N producer threads, for docs/benchmarks.md.
//   txn_bench -n 127.0.0.1:9876 -t TxnBench --mode txn  --threads 8 --seconds 10 -s 256
//   txn_bench -n 127.0.0.1:9876 -t TxnBench --mode sync --threads 8 --seconds 10 -s 256
// Each thread sends one message at a time and waits for it (a transaction cannot be
// pipelined: the local transaction runs between the half message and the end). Plain sends
// run with auto-batching off so each is its own round trip, as each half message is. A
// transaction counts when its half message was stored and the COMMIT was acknowledged.
// Prints one line: mode, threads, messages/s, p50/p99 latency (ms), failures (--json: JSON).
// Only point it at brokers on this machine or your own test hosts.
#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "mq/client/producer.h"
#include "mq/client/transaction_producer.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Totals {
  std::mutex mu;
  std::vector<int64_t> latencies_us;  // guarded by mu
  std::atomic<int64_t> ok{0};
  std::atomic<int64_t> failed{0};
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"txn_bench: transactional vs plain synchronous send throughput"};
  std::string namesrv = "127.0.0.1:9876";
  std::string topic = "TxnBench";
  std::string mode = "txn";
  int threads = 4;
  int seconds = 10;
  int size = 256;
  bool json = false;
  app.add_option("-n,--namesrv", namesrv, "NameServer host:port");
  app.add_option("-t,--topic", topic, "topic (must exist or be auto-creatable)");
  app.add_option("--mode", mode, "txn | sync")->check(CLI::IsMember({"txn", "sync"}));
  app.add_option("--threads", threads, "producer threads")->check(CLI::Range(1, 256));
  app.add_option("--seconds", seconds, "measured duration")->check(CLI::Range(1, 3600));
  app.add_option("-s,--size", size, "body bytes")->check(CLI::Range(1, 4 * 1024 * 1024));
  app.add_flag("--json", json, "print JSON");
  CLI11_PARSE(app, argc, argv);

  mq::client::ProducerOptions po;
  po.client.namesrv_addrs = {namesrv};
  po.group = "txn_bench_group";
  po.auto_batch = false;
  mq::client::TransactionProducerOptions to;
  to.producer = po;
  mq::client::TransactionProducer txn(
      to,
      [](const mq::client::Message&, const std::string&, const std::string&) {
        return mq::client::LocalTransactionState::kCommitMessage;
      },
      [](const mq::client::ReceivedMessage&) { return mq::client::LocalTransactionState::kCommitMessage; });
  mq::client::Producer plain(po);
  mq::Status started = mode == "txn" ? txn.Start() : plain.Start();
  if (!started.ok()) {
    std::fprintf(stderr, "txn_bench: start: %s\n", started.ToString().c_str());
    return 1;
  }
  const std::string body(static_cast<size_t>(size), 'x');
  // One warm-up send fetches the route (and, for --mode txn, opens the check stream).
  auto send_one = [&]() -> mq::Status {
    mq::client::Message m = mq::client::MakeMessage(topic, body);
    if (mode == "sync") return plain.Send(m).status();
    auto r = txn.SendMessageInTransaction(m);
    if (!r.ok()) return r.status();
    return r->end_status;
  };
  if (mq::Status s = send_one(); !s.ok()) {
    std::fprintf(stderr, "txn_bench: warm-up send: %s\n", s.ToString().c_str());
    return 1;
  }
  Totals totals;
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  const auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      std::vector<int64_t> local;
      while (!stop.load(std::memory_order_relaxed)) {
        auto t0 = Clock::now();
        mq::Status s = send_one();
        if (s.ok()) {
          local.push_back(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count());
          totals.ok.fetch_add(1);
        } else {
          totals.failed.fetch_add(1);
        }
      }
      std::lock_guard<std::mutex> lock(totals.mu);
      totals.latencies_us.insert(totals.latencies_us.end(), local.begin(), local.end());
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(seconds));  // the measured window
  stop = true;
  for (auto& w : workers) w.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const double rate = static_cast<double>(totals.ok.load()) / elapsed;
  const double p50 = mq::bench::PercentileMs(totals.latencies_us, 0.50);
  const double p99 = mq::bench::PercentileMs(totals.latencies_us, 0.99);
  if (json) {
    std::printf(
        "{\"mode\":\"%s\",\"threads\":%d,\"size\":%d,\"seconds\":%.2f,\"ok\":%lld,\"failed\":%lld,"
        "\"msgs_per_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f}\n",
        mode.c_str(), threads, size, elapsed, static_cast<long long>(totals.ok.load()),
        static_cast<long long>(totals.failed.load()), rate, p50, p99);
  } else {
    std::printf("mode=%s threads=%d size=%d ok=%lld failed=%lld msgs/s=%.1f p50=%.3fms p99=%.3fms\n",
                mode.c_str(), threads, size, static_cast<long long>(totals.ok.load()),
                static_cast<long long>(totals.failed.load()), rate, p50, p99);
  }
  if (mode == "txn") {
    txn.Shutdown();
  } else {
    plain.Shutdown();
  }
  return totals.failed.load() == 0 ? 0 : 2;
}
