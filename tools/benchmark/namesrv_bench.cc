// namesrv_bench: measures a running NameServer.
//  1. Registration time of one broker carrying --register-topics topics (streamed in chunks).
//  2. QueryRoute throughput and latency with --topics topics registered, from --connections
//     channels each keeping --window calls in flight, for --seconds.
// Only connect it to NameServers on this machine or your own test hosts.
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "common/rpc/grpc_defaults.h"
#include "common/rpc/namesrv_registration.h"
#include "mq/v1/namesrv.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;

std::vector<mq::v1::TopicConfig> MakeTopics(const std::string& prefix, int count) {
  std::vector<mq::v1::TopicConfig> topics(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    auto& t = topics[static_cast<size_t>(i)];
    t.set_topic_name(prefix + std::to_string(i));
    t.set_read_queue_nums(8);
    t.set_write_queue_nums(8);
    t.set_perm(6);
  }
  return topics;
}

mq::v1::BrokerIdentity Broker(const std::string& name, const std::string& addr) {
  mq::v1::BrokerIdentity b;
  b.set_cluster_name("BenchCluster");
  b.set_broker_name(name);
  b.set_broker_id(0);
  b.set_broker_addr(addr);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"namesrv_bench: NameServer registration and QueryRoute benchmark"};
  std::string addr = "127.0.0.1:9876";
  int topics = 1000;
  int register_topics = 100000;
  int connections = 2;
  int window = 16;
  double seconds = 5;
  bool json = false;
  app.add_option("-n,--namesrv", addr, "NameServer host:port");
  app.add_option("--topics", topics, "topics registered for the QueryRoute phase");
  app.add_option("--register-topics", register_topics, "topics of the big registration (0 skips it)");
  app.add_option("--connections", connections, "client connections for QueryRoute");
  app.add_option("--window", window, "QueryRoute calls in flight per connection");
  app.add_option("--seconds", seconds, "duration of the QueryRoute phase");
  app.add_flag("--json", json, "print one JSON summary line");
  CLI11_PARSE(app, argc, argv);

  auto channel = mq::rpc::CreateChannel(addr);
  auto stub = mq::v1::NameServer::NewStub(channel);

  double register_ms = 0;
  if (register_topics > 0) {
    auto big = MakeTopics("BigTopic_", register_topics);
    mq::v1::RegisterBrokerResponse resp;
    mq::v1::DataVersion v;
    v.set_counter(1);
    auto start = Clock::now();
    auto s = mq::rpc::RegisterBrokerChunked(stub.get(), Broker("bench-big", "127.0.0.1:1"), v, big,
                                            std::chrono::seconds(60), &resp);
    register_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    if (!s.ok()) {
      std::fprintf(stderr, "registration failed: %s\n", s.error_message().c_str());
      return 1;
    }
    if (!json) std::printf("register %d topics: %.1f ms\n", register_topics, register_ms);
  }

  auto small = MakeTopics("RouteTopic_", topics);
  {
    mq::v1::RegisterBrokerResponse resp;
    mq::v1::DataVersion v;
    v.set_counter(1);
    auto s = mq::rpc::RegisterBrokerChunked(stub.get(), Broker("bench-a", "127.0.0.1:2"), v, small,
                                            std::chrono::seconds(60), &resp);
    if (!s.ok()) {
      std::fprintf(stderr, "registration failed: %s\n", s.error_message().c_str());
      return 1;
    }
  }

  // Closed loop: --connections channels, each keeping --window QueryRoute calls in flight
  // through the async callback API, so the client's own CPU cost stays small.
  struct Lane {
    std::unique_ptr<mq::v1::NameServer::Stub> stub;
    std::mutex mu;
    std::vector<int64_t> latencies_us;  // guarded by mu
  };
  std::atomic<bool> stop{false};
  std::atomic<int64_t> errors{0};
  std::atomic<int64_t> in_flight{0};
  std::vector<std::unique_ptr<Lane>> lanes;
  for (int c = 0; c < connections; ++c) {
    auto lane = std::make_unique<Lane>();
    lane->stub = mq::v1::NameServer::NewStub(mq::rpc::CreateChannel(addr));
    lanes.push_back(std::move(lane));
  }
  std::function<void(Lane*, uint64_t)> issue = [&](Lane* lane, uint64_t i) {
    struct Call {
      grpc::ClientContext ctx;
      mq::v1::QueryRouteRequest req;
      mq::v1::QueryRouteResponse resp;
      Clock::time_point begin;
    };
    auto call = std::make_shared<Call>();
    call->req.set_topic(small[i % small.size()].topic_name());
    call->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    call->begin = Clock::now();
    in_flight++;
    lane->stub->async()->QueryRoute(
        &call->ctx, &call->req, &call->resp, [&, lane, call, i](grpc::Status st) mutable {
          int64_t us =
              std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - call->begin).count();
          {
            std::lock_guard lock(lane->mu);
            lane->latencies_us.push_back(us);
          }
          if (!st.ok()) errors++;
          if (!stop.load()) issue(lane, i + static_cast<uint64_t>(window));
          call.reset();  // before the count lets the channels go (broker_bench.cc says why)
          in_flight--;
        });
  };
  auto start = Clock::now();
  for (auto& lane : lanes) {
    for (int w = 0; w < window; ++w) issue(lane.get(), static_cast<uint64_t>(w));
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  auto drain_deadline = Clock::now() + std::chrono::seconds(10);
  while (in_flight.load() > 0 && Clock::now() < drain_deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::vector<int64_t> all;
  for (auto& lane : lanes) {
    std::lock_guard lock(lane->mu);
    all.insert(all.end(), lane->latencies_us.begin(), lane->latencies_us.end());
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  double qps = static_cast<double>(all.size()) / elapsed;
  double p50 = mq::bench::PercentileMs(all, 0.50), p99 = mq::bench::PercentileMs(all, 0.99);
  if (json) {
    std::printf(
        "{\"register_topics\":%d,\"register_ms\":%.1f,\"route_topics\":%d,\"connections\":%d,\"queries\":%zu,"
        "\"window\":%d,\"qps\":%.0f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"errors\":%lld}\n",
        register_topics, register_ms, topics, connections, all.size(), window, qps, p50, p99,
        static_cast<long long>(errors.load()));
  } else {
    std::printf(
        "QueryRoute: %zu queries in %.1f s = %.0f/s, p50 %.3f ms, p99 %.3f ms, errors %lld (%d topics, %d "
        "connections x %d in flight)\n",
        all.size(), elapsed, qps, p50, p99, static_cast<long long>(errors.load()), topics, connections,
        window);
  }
  // gRPC 1.51's callback-CQ thread can race static destruction at exit (seen as a double free
  // in grpc_cq_internal_unref); the results are printed, so leave without destructors.
  std::fflush(stdout);
  std::_Exit(errors.load() == 0 ? 0 : 1);
}
