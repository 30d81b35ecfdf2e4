// timer_bench: scheduled-delivery benchmark (docs/benchmarks.md). Parks --count messages with
// delivery times spread uniformly at random over [now + --lead-sec, + --spread-sec], reports
// the enqueue rate and the broker's anonymous RSS while they are pending, then pulls the real
// topic and measures delivery lateness (pull arrival - TIMER_OUT_MS) over the first --measure
// messages that come due. Raw gRPC stubs, no client library.
//   timer_bench -b 127.0.0.1:10911 --pid $(pgrep -n mqbroker) --count 1000000 --spread-sec 600 --lead-sec 60
//   --measure 100000
// Only point it at brokers on this machine or your own test hosts.
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "common/rpc/grpc_defaults.h"
#include "mq/v1/admin.grpc.pb.h"
#include "mq/v1/broker.grpc.pb.h"

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// RssAnon of a process in MiB (Linux), -1 if unknown.
double RssAnonMiB(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("RssAnon:", 0) == 0) return std::stod(line.substr(8)) / 1024.0;
  }
  return -1;
}

std::string RuntimeValue(mq::v1::BrokerAdmin::Stub* admin, const std::string& key) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  mq::v1::GetBrokerRuntimeInfoResponse resp;
  if (!admin->GetBrokerRuntimeInfo(&ctx, mq::v1::GetBrokerRuntimeInfoRequest(), &resp).ok()) return "";
  auto it = resp.table().find(key);
  return it == resp.table().end() ? "" : it->second;
}

struct Options {
  std::string broker = "127.0.0.1:10911";
  std::string topic = "TimerBench";
  int pid = 0;
  int64_t count = 1'000'000;
  int64_t spread_sec = 600;
  int64_t lead_sec = 60;
  int64_t measure = 100'000;
  int queues = 4;
  int window = 256;
  int size = 64;
};

// Sends every message with its delivery time; returns the seconds it took (or -1 on failure).
double Enqueue(const Options& o, mq::v1::Messaging::Stub* stub, int64_t first_due_ms) {
  std::mt19937_64 rng(12345);
  std::uniform_int_distribution<int64_t> spread(0, o.spread_sec * 1000 - 1);
  std::mutex mu;
  std::condition_variable cv;
  int64_t in_flight = 0;  // guarded by mu
  std::atomic<int64_t> next{0}, failed{0};
  const std::string body(static_cast<size_t>(o.size), 'x');
  std::vector<int64_t> due(static_cast<size_t>(o.count));
  for (auto& d : due) d = first_due_ms + spread(rng);
  std::function<void()> issue = [&] {
    const int64_t i = next.fetch_add(1);
    if (i >= o.count) return;
    struct Call {
      grpc::ClientContext ctx;
      mq::v1::SendMessageRequest req;
      mq::v1::SendMessageResponse resp;
    };
    auto call = std::make_shared<Call>();
    call->req.set_producer_group("timer_bench");
    call->req.set_topic(o.topic);
    call->req.set_queue_id(static_cast<int32_t>(i % o.queues));
    auto* m = call->req.add_messages();
    m->set_body(body);
    m->set_deliver_time_ms(due[static_cast<size_t>(i)]);
    call->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    {
      std::lock_guard lock(mu);
      ++in_flight;
    }
    stub->async()->SendMessage(&call->ctx, &call->req, &call->resp, [&, call](grpc::Status s) mutable {
      if (!s.ok() && failed.fetch_add(1) == 0)
        std::fprintf(stderr, "send failed: %s\n", s.error_message().c_str());
      issue();
      call.reset();  // before the count lets the channel go (broker_bench.cc says why)
      std::lock_guard lock(mu);
      --in_flight;
      cv.notify_all();
    });
  };
  const auto start = std::chrono::steady_clock::now();
  for (int w = 0; w < o.window; ++w) issue();
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return in_flight == 0 && next.load() >= o.count; });
  }
  if (failed.load() > 0) return -1;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Pulls every queue round-robin until `measure` delivered messages were seen; lateness in us.
std::vector<int64_t> MeasureLateness(const Options& o, mq::v1::Messaging::Stub* stub) {
  std::vector<int64_t> late_us;
  std::vector<int64_t> offsets(static_cast<size_t>(o.queues), 0);
  const auto give_up = std::chrono::steady_clock::now() +
                       std::chrono::seconds(o.lead_sec + o.spread_sec * o.measure / o.count + 120);
  while (static_cast<int64_t>(late_us.size()) < o.measure && std::chrono::steady_clock::now() < give_up) {
    for (int q = 0; q < o.queues; ++q) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      mq::v1::PullMessageRequest req;
      req.set_consumer_group("timer_bench");
      req.set_topic(o.topic);
      req.set_queue_id(q);
      req.set_queue_offset(offsets[static_cast<size_t>(q)]);
      req.set_max_msg_nums(32);
      req.set_suspend_timeout_millis(200);
      mq::v1::PullMessageResponse resp;
      if (!stub->PullMessage(&ctx, req, &resp).ok()) continue;
      const int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
      for (const auto& m : resp.messages()) {
        auto it = m.message().user_properties().find("TIMER_OUT_MS");
        if (it == m.message().user_properties().end()) continue;
        late_us.push_back(now_us - std::stoll(it->second) * 1000);
      }
      offsets[static_cast<size_t>(q)] = resp.next_begin_offset();
    }
  }
  return late_us;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string admin_addr;
  CLI::App app{"timer_bench: pending timer memory, enqueue rate and delivery lateness"};
  app.add_option("-b,--broker", o.broker, "broker host:port");
  app.add_option("--admin", admin_addr, "broker admin host:port (default: --broker)");
  app.add_option("-t,--topic", o.topic, "topic (created with --queues queues)");
  app.add_option("--pid", o.pid, "broker pid, for RssAnon");
  app.add_option("--count", o.count, "scheduled messages")
      ->check(CLI::Range(int64_t{1}, int64_t{100'000'000}));
  app.add_option("--spread-sec", o.spread_sec, "delivery times spread over this many seconds")
      ->check(CLI::Range(int64_t{1}, int64_t{86400 * 3}));
  app.add_option("--lead-sec", o.lead_sec, "first delivery this many seconds after start");
  app.add_option("--measure", o.measure, "deliveries to measure lateness over");
  app.add_option("--queues", o.queues, "queues of the topic")->check(CLI::Range(1, 256));
  app.add_option("--window", o.window, "sends in flight")->check(CLI::Range(1, 100000));
  app.add_option("-s,--size", o.size, "body bytes")->check(CLI::Range(1, 1 << 20));
  CLI11_PARSE(app, argc, argv);
  if (admin_addr.empty()) admin_addr = o.broker;
  auto channel = mq::rpc::CreateChannel(o.broker);
  auto stub = mq::v1::Messaging::NewStub(channel);
  auto admin = mq::v1::BrokerAdmin::NewStub(mq::rpc::CreateChannel(admin_addr));
  {
    grpc::ClientContext ctx;
    mq::v1::CreateTopicRequest req;
    req.mutable_config()->set_topic_name(o.topic);
    req.mutable_config()->set_read_queue_nums(o.queues);
    req.mutable_config()->set_write_queue_nums(o.queues);
    req.mutable_config()->set_perm(6);
    mq::v1::CreateTopicResponse resp;
    if (grpc::Status s = admin->CreateTopic(&ctx, req, &resp); !s.ok()) {
      std::fprintf(stderr, "create topic: %s\n", s.error_message().c_str());
      return 1;
    }
  }
  // "not measured" without --pid (a negative figure read like a measurement).
  auto rss = [&o] {
    const double mib = o.pid > 0 ? RssAnonMiB(o.pid) : -1;
    return mib < 0 ? std::string("not measured (--pid)") : fmt::format("{:.1f} MiB", mib);
  };
  const std::string rss_before = rss();
  const int64_t first_due = NowMs() + o.lead_sec * 1000;
  const double secs = Enqueue(o, stub.get(), first_due);
  if (secs < 0) return 1;
  // Wait (bounded) for the broker to index every parked message into its wheel.
  // Deliveries may have begun (a short --lead-sec): what left the wheel counts as indexed.
  std::string pending;
  for (int i = 0; i < 600; ++i) {
    pending = RuntimeValue(admin.get(), "timerPending");
    const std::string delivered = RuntimeValue(admin.get(), "timerDelivered");
    if (!pending.empty() && !delivered.empty() && std::stoll(pending) + std::stoll(delivered) >= o.count)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const std::string rss_pending = rss();
  const int64_t enqueued_at = NowMs();
  std::printf(
      "enqueue: %lld messages in %.1f s = %.0f msg/s; wheel pending=%s (indexed %.1f s after the last ack)\n",
      static_cast<long long>(o.count), secs, static_cast<double>(o.count) / secs, pending.c_str(),
      static_cast<double>(enqueued_at - first_due + o.lead_sec * 1000) / 1000.0 - secs);
  std::printf("broker RssAnon: %s before, %s with %lld pending\n", rss_before.c_str(), rss_pending.c_str(),
              static_cast<long long>(o.count));
  if (enqueued_at >= first_due)
    std::printf("warning: enqueue overran --lead-sec; lateness includes the backlog\n");
  std::fflush(stdout);
  auto late = MeasureLateness(o, stub.get());
  if (late.empty()) {
    std::fprintf(stderr, "no delivery seen\n");
    return 1;
  }
  int64_t early = 0;
  for (int64_t l : late) early += l < 0 ? 1 : 0;
  const size_t n = late.size();
  const double p50 = mq::bench::PercentileMs(late, 0.50);
  const double p99 = mq::bench::PercentileMs(late, 0.99);
  const double max = mq::bench::PercentileMs(late, 1.0);
  std::printf("lateness over %zu deliveries: p50 %.0f ms, p99 %.0f ms, max %.0f ms, early %lld\n", n, p50,
              p99, max, static_cast<long long>(early));
  std::printf("broker RssAnon during delivery: %s\n", rss().c_str());
  return 0;
}
