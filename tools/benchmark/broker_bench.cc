// broker_bench: end-to-end send and pull throughput through the broker's gRPC API (raw stubs,
// no client library), for docs/benchmarks.md and the quickstart's first steps.
//   broker_bench -b 127.0.0.1:10911 -t BenchTopic --mode send --count 100000 -s 1024
//   broker_bench -b 127.0.0.1:10911 -t BenchTopic --mode pull
//   broker_bench -b 127.0.0.1:10911 -t BenchTopic --mode latency --rounds 200
// send: --connections channels, each with --window SendMessage calls in flight, round-robin
// over --queues queues. Only SEND_OK replies count as sent; every other outcome (a not
// durable FLUSH_DISK_TIMEOUT / FLUSH_SLAVE_TIMEOUT / SLAVE_NOT_AVAILABLE, or an RPC error) is
// failed and counted per status ("status" in --json). pull: drains every queue from offset 0
// with pulls of 32 messages.
// Only point it at brokers on this machine or your own test hosts.
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "common/rpc/grpc_defaults.h"
#include "mq/v1/broker.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;

struct SendStats {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int64_t> latencies_us;  // guarded by mu; SEND_OK requests only
  int64_t in_flight = 0;              // guarded by mu
  std::atomic<int64_t> requests{0};
  std::atomic<int64_t> ok_messages{0};
  std::atomic<int64_t> failed_messages{0};
  std::atomic<int64_t> next{0};
  mq::bench::StatusCounts outcomes;
};

std::string GrpcCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    default:
      return "GRPC_" + std::to_string(static_cast<int>(code));
  }
}

// A send counts only when the broker says SEND_OK. FLUSH_DISK_TIMEOUT, FLUSH_SLAVE_TIMEOUT and
// SLAVE_NOT_AVAILABLE mean stored but not durable as configured: failed, like RPC errors.
int RunSend(const std::string& addr, const std::string& topic, int size, int64_t count, int connections,
            int window, int queues, int batch, bool json) {
  std::vector<std::unique_ptr<mq::v1::Messaging::Stub>> stubs;
  for (int c = 0; c < connections; ++c)
    stubs.push_back(mq::v1::Messaging::NewStub(mq::rpc::CreateChannel(addr)));
  const std::string body(static_cast<size_t>(size), 'x');
  SendStats stats;
  std::function<void(mq::v1::Messaging::Stub*)> issue = [&](mq::v1::Messaging::Stub* stub) {
    int64_t i = stats.next.fetch_add(1);
    if (i >= count) return;
    struct Call {
      grpc::ClientContext ctx;
      mq::v1::SendMessageRequest req;
      mq::v1::SendMessageResponse resp;
      Clock::time_point begin;
    };
    auto call = std::make_shared<Call>();
    call->req.set_producer_group("bench_producer");
    call->req.set_topic(topic);
    call->req.set_queue_id(static_cast<int32_t>(i % queues));
    call->req.set_default_topic_queue_nums(queues);
    for (int b = 0; b < batch; ++b) {
      auto* m = call->req.add_messages();
      m->set_body(body);
      m->set_tags("bench");
    }
    call->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    call->begin = Clock::now();
    {
      std::lock_guard lock(stats.mu);
      ++stats.in_flight;
    }
    stub->async()->SendMessage(&call->ctx, &call->req, &call->resp, [&, stub, call](grpc::Status s) mutable {
      int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - call->begin).count();
      const bool ok = s.ok() && call->resp.status() == mq::v1::SEND_OK;
      std::string outcome =
          s.ok() ? mq::v1::SendStatus_Name(call->resp.status()) : GrpcCodeName(s.error_code());
      stats.outcomes.Add(outcome, batch);
      stats.requests.fetch_add(1);
      if (ok) {
        stats.ok_messages.fetch_add(batch);
      } else if (stats.failed_messages.fetch_add(batch) == 0) {
        std::fprintf(stderr, "send failed: %s %s\n", outcome.c_str(), s.error_message().c_str());
      }
      issue(stub);
      // Gone before the count lets RunSend drop the channels: a channel whose last holder is a
      // call's context would die on gRPC's thread, and as the process's last channel take the
      // completion queue that thread serves with it (gRPC 1.51; a double free in --mode both).
      call.reset();
      std::lock_guard lock(stats.mu);
      if (ok) stats.latencies_us.push_back(us);
      --stats.in_flight;
      stats.cv.notify_all();
    });
  };
  auto start = Clock::now();
  for (auto& stub : stubs) {
    for (int w = 0; w < window; ++w) issue(stub.get());
  }
  {
    std::unique_lock lock(stats.mu);
    stats.cv.wait(lock, [&] { return stats.in_flight == 0 && stats.next.load() >= count; });
  }
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  auto& lat = stats.latencies_us;
  const long long ok = stats.ok_messages.load();
  const long long failed = stats.failed_messages.load();
  const long long requests = stats.requests.load();
  double tps = static_cast<double>(ok) / secs;
  double mbps = tps * size / (1024.0 * 1024.0);
  double p50 = mq::bench::PercentileMs(lat, 0.5), p99 = mq::bench::PercentileMs(lat, 0.99),
         p999 = mq::bench::PercentileMs(lat, 0.999);
  double max = lat.empty() ? 0 : static_cast<double>(*std::max_element(lat.begin(), lat.end())) / 1000.0;
  if (json) {
    std::printf(
        "{\"mode\":\"send\",\"messages\":%lld,\"failed\":%lld,\"requests\":%lld,\"seconds\":%.2f,"
        "\"tps\":%.0f,\"mb_per_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,"
        "\"status\":%s}\n",
        ok, failed, requests, secs, tps, mbps, p50, p99, p999, max, stats.outcomes.Json().c_str());
  } else {
    std::printf(
        "send: %lld requests x %d msgs of %d B in %.2f s: %lld msgs SEND_OK = %.0f msg/s, %.1f MB/s; "
        "SEND_OK request latency p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms; failed %lld (%s)\n",
        requests, batch, size, secs, ok, tps, mbps, p50, p99, p999, max, failed,
        stats.outcomes.Text().c_str());
  }
  return failed == 0 ? 0 : 1;
}

int RunPull(const std::string& addr, const std::string& topic, int queues, bool json) {
  std::atomic<int64_t> total{0};
  std::atomic<int64_t> bytes{0};
  std::atomic<int64_t> errors{0};
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int q = 0; q < queues; ++q) {
    threads.emplace_back([&, q] {
      auto stub = mq::v1::Messaging::NewStub(mq::rpc::CreateChannel(addr));
      int64_t offset = 0;
      while (true) {
        mq::v1::PullMessageRequest req;
        req.set_consumer_group("bench_consumer");
        req.set_topic(topic);
        req.set_queue_id(q);
        req.set_queue_offset(offset);
        req.set_max_msg_nums(32);
        mq::v1::PullMessageResponse resp;
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
        auto s = stub->PullMessage(&ctx, req, &resp);
        if (!s.ok()) {
          if (errors.fetch_add(1) == 0) std::fprintf(stderr, "pull failed: %s\n", s.error_message().c_str());
          return;
        }
        if (resp.status() != mq::v1::FOUND) return;
        total += resp.messages_size();
        for (const auto& m : resp.messages()) bytes += static_cast<int64_t>(m.message().body().size());
        offset = resp.next_begin_offset();
      }
    });
  }
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  double tps = static_cast<double>(total.load()) / secs;
  double mbps = static_cast<double>(bytes.load()) / secs / (1024.0 * 1024.0);
  if (json) {
    std::printf(
        "{\"mode\":\"pull\",\"messages\":%lld,\"seconds\":%.2f,\"tps\":%.0f,\"mb_per_s\":%.1f,\"errors\":%"
        "lld}\n",
        static_cast<long long>(total.load()), secs, tps, mbps, static_cast<long long>(errors.load()));
  } else {
    std::printf("pull: %lld msgs in %.2f s = %.0f msg/s, %.1f MB/s (%d queues); errors %lld\n",
                static_cast<long long>(total.load()), secs, tps, mbps, queues,
                static_cast<long long>(errors.load()));
  }
  return errors.load() == 0 ? 0 : 1;
}

// Send-to-consume latency: a long-polling pull is parked on queue 0, then one message is
// sent; measures from the send call to the pull's answer, `rounds` times.
int RunLatency(const std::string& addr, const std::string& topic, int size, int rounds, bool json) {
  auto stub = mq::v1::Messaging::NewStub(mq::rpc::CreateChannel(addr));
  auto puller = mq::v1::Messaging::NewStub(mq::rpc::CreateChannel(addr));
  const std::string body(static_cast<size_t>(size), 'x');
  auto send = [&] {
    mq::v1::SendMessageRequest req;
    req.set_topic(topic);
    req.set_queue_id(0);
    req.add_messages()->set_body(body);
    mq::v1::SendMessageResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return stub->SendMessage(&ctx, req, &resp).ok();
  };
  if (!send()) {
    std::fprintf(stderr, "latency: warm-up send failed\n");
    return 1;
  }
  // Start after everything already in the queue is dispatched (consume queues lag the
  // commit log slightly), so each round's pull parks and is woken by that round's send.
  int64_t offset = -1;
  auto sync_offset = [&](int64_t at_least) {
    mq::v1::GetQueueOffsetsRequest oreq;
    oreq.mutable_queue()->set_topic(topic);
    for (int attempt = 0; attempt < 500; ++attempt) {
      mq::v1::GetQueueOffsetsResponse oresp;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      if (stub->GetQueueOffsets(&ctx, oreq, &oresp).ok() && oresp.max_offset() >= at_least) {
        offset = oresp.max_offset();
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  };
  if (!sync_offset(1)) {
    std::fprintf(stderr, "latency: the warm-up message never became pullable\n");
    return 1;
  }
  std::vector<int64_t> lat;
  for (int i = 0; i < rounds; ++i) {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    mq::v1::PullMessageRequest preq;
    preq.set_consumer_group("bench_latency");
    preq.set_topic(topic);
    preq.set_queue_id(0);
    preq.set_queue_offset(offset);
    preq.set_suspend_timeout_millis(10000);
    mq::v1::PullMessageResponse presp;
    grpc::ClientContext pctx;
    pctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    Clock::time_point answered;
    puller->async()->PullMessage(&pctx, &preq, &presp, [&](grpc::Status) {
      std::lock_guard lock(mu);
      answered = Clock::now();
      done = true;
      cv.notify_all();
    });
    // Give the pull time to park so the measurement covers the wake-up path.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto sent = Clock::now();
    if (!send()) return 1;
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(20), [&] { return done; })) return 1;
    if (presp.status() != mq::v1::FOUND) {
      if (!sync_offset(0)) return 1;
      continue;
    }
    offset = presp.next_begin_offset();
    if (std::getenv("BENCH_DEBUG")) {
      std::fprintf(stderr, "round %d: pulled %d msgs from %lld, next %lld\n", i, presp.messages_size(),
                   static_cast<long long>(preq.queue_offset()), static_cast<long long>(offset));
    }
    lat.push_back(std::chrono::duration_cast<std::chrono::microseconds>(answered - sent).count());
  }
  double p50 = mq::bench::PercentileMs(lat, 0.5), p99 = mq::bench::PercentileMs(lat, 0.99);
  double max = lat.empty() ? 0 : static_cast<double>(*std::max_element(lat.begin(), lat.end())) / 1000.0;
  if (json) {
    std::printf("{\"mode\":\"latency\",\"rounds\":%zu,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}\n",
                lat.size(), p50, p99, max);
  } else {
    std::printf("send-to-consume (parked long poll): %zu rounds, p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
                lat.size(), p50, p99, max);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"broker_bench: send/pull throughput through the broker's gRPC API"};
  std::string addr = "127.0.0.1:10911";
  std::string topic = "BenchmarkTopic";
  std::string mode = "send";
  int size = 1024;
  int64_t count = 100000;
  int connections = 2;
  int window = 64;
  int queues = 4;
  int batch = 1;
  int rounds = 200;
  bool json = false;
  app.add_option("-b,--broker", addr, "broker host:port");
  app.add_option("-t,--topic", topic, "topic (auto-created on first send)");
  app.add_option("--mode", mode, "send | pull | both | latency")
      ->check(CLI::IsMember({"send", "pull", "both", "latency"}));
  app.add_option("--batch", batch, "messages per SendMessage request")->check(CLI::Range(1, 1024));
  app.add_option("--rounds", rounds, "latency mode: measured sends")->check(CLI::Range(1, 100000));
  app.add_option("-s,--size", size, "message body bytes")->check(CLI::Range(1, 4 * 1024 * 1024));
  app.add_option("--count", count, "messages to send")->check(CLI::Range(int64_t{1}, int64_t{100'000'000}));
  app.add_option("--connections", connections, "gRPC channels")->check(CLI::Range(1, 64));
  app.add_option("--window", window, "sends in flight per channel")->check(CLI::Range(1, 4096));
  app.add_option("--queues", queues, "queues to spread over / drain")->check(CLI::Range(1, 1024));
  app.add_flag("--json", json, "one JSON line per phase");
  CLI11_PARSE(app, argc, argv);
  int rc = 0;
  if (mode == "send" || mode == "both") {
    rc |= RunSend(addr, topic, size, count / batch, connections, window, queues, batch, json);
  }
  if (mode == "latency") rc |= RunLatency(addr, topic, size, rounds, json);
  if (mode == "pull" || mode == "both") rc |= RunPull(addr, topic, queues, json);
  // gRPC 1.51's callback-CQ thread can race static destruction at exit (seen as a double free
  // in grpc_cq_internal_unref); the results are printed, so leave without destructors.
  std::fflush(stdout);
  std::_Exit(rc);
}
