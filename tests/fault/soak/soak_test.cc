// Soak (issue 12 item 7): a NameServer, an ASYNC_MASTER and its slave, an in-process producer
// and two orderly consumers in their own processes (soak_consumer), while the test kills -9,
// in turn, a consumer, the master, the other consumer and the slave, restarting each at once,
// for MQ_SOAK_SECONDS (default 120). Then it checks end to end:
//   - every message the producer got SEND_OK for was delivered at least once, byte-exact, at
//     its acknowledged queue offset;
//   - per queue, first deliveries happen in queue-offset order (an orderly consumer never
//     delivers a message before every earlier message of its queue was delivered);
// and reports messages, kills, duplicates and duration. Label `soak`: not in the default
// ./tools/test.sh run; run it with ./tools/test.sh -L soak.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "broker_fixture.h"
#include "grpc_test_util.h"
#include "mq/client/producer.h"
#include "namesrv_fixture.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

using namespace std::chrono_literals;
constexpr int kQueues = 8;
constexpr int kKeys = 16;
constexpr int kConsumers = 2;
const char* const kTopic = "Soak";
const char* const kGroup = "soak_group";

struct Acked {
  int32_t queue_id;
  int64_t offset;
  std::string body;
};

// What the consumers' files say about one message (queue, offset).
struct Delivered {
  std::string body;
  int64_t first_us = 0;
  int count = 0;
};
using Deliveries = std::map<std::pair<int32_t, int64_t>, Delivered>;

void ReadDeliveries(const std::string& file, Deliveries* out, int64_t* malformed) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    int32_t q = -1;
    int64_t offset = -1;
    int64_t us = 0;
    std::string body;
    if (!(fields >> q >> offset >> us >> body) || in.eof()) {
      ++*malformed;  // e.g. a line cut by kill -9 (never seen so far, but not impossible)
      continue;
    }
    Delivered& d = (*out)[{q, offset}];
    if (d.count == 0 || us < d.first_us) d.first_us = us;
    if (d.count == 0) d.body = body;
    EXPECT_EQ(d.body, body) << "queue " << q << " offset " << offset << " delivered with two bodies";
    ++d.count;
  }
}

class SoakTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(namesrv_.started()) << namesrv_.process().ReadLog();
    const std::vector<std::string> common = {"haListenPort=0", "channelExpiredTimeout=3000",
                                             "queueLockMaxLiveTime=3000"};
    auto sets = [&](std::vector<std::string> s) {
      s.insert(s.end(), common.begin(), common.end());
      return s;
    };
    master_ = std::make_unique<BrokerProcess>(BrokerOptions{
        namesrv_.address(), dir_.Sub("master"), "broker-a", sets({"brokerRole=ASYNC_MASTER", "brokerId=0"})});
    slave_ = std::make_unique<BrokerProcess>(BrokerOptions{namesrv_.address(), dir_.Sub("slave"), "broker-a",
                                                           sets({"brokerRole=SLAVE", "brokerId=1"})});
    ASSERT_TRUE(master_->Start()) << master_->process().ReadLog();
    ASSERT_TRUE(slave_->Start()) << slave_->process().ReadLog();
    mq::v1::CreateTopicRequest req;
    req.mutable_config()->set_topic_name(kTopic);
    req.mutable_config()->set_read_queue_nums(kQueues);
    req.mutable_config()->set_write_queue_nums(kQueues);
    req.mutable_config()->set_perm(6);
    mq::v1::CreateTopicResponse resp;
    ASSERT_GRPC_OK(Call(master_->admin(), &mq::v1::BrokerAdmin::Stub::CreateTopic, req, &resp));
    ASSERT_TRUE(WaitUntil(
        [&] {
          mq::v1::TopicRouteData route;
          return QueryRoute(namesrv_.stub(), kTopic, &route).ok() && route.queue_datas_size() == 1;
        },
        15s));
  }

  void TearDown() override {
    for (auto& c : consumers_) {
      if (c.running()) {
        c.Signal(SIGTERM);
        auto status = c.Wait(20s);
        // A clean shutdown (under ASan: no leak, no error) exits 0.
        EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
            << "consumer exit status " << (status ? *status : -1) << "\n"
            << Tail(c.ReadLog());
        if (!status) c.Kill();
      }
    }
    if (HasFailure()) {
      std::printf("MASTER LOG (tail):\n%s\n", Tail(master_->process().ReadLog()).c_str());
      std::printf("CONSUMER 0 LOG (tail):\n%s\n", Tail(consumers_[0].ReadLog()).c_str());
    }
  }

  static std::string Tail(const std::string& s) { return s.size() > 6000 ? s.substr(s.size() - 6000) : s; }

  void StartConsumer(int i) {
    const std::string out =
        dir_.Sub("consumer-" + std::to_string(i) + "-" + std::to_string(out_files_.size()) + ".out");
    out_files_.push_back(out);
    ASSERT_TRUE(consumers_[i].Start(BinaryPath("soak_consumer"), {namesrv_.address(), kGroup, kTopic, out},
                                    dir_.Sub("consumer-" + std::to_string(i) + ".log")));
  }

  Deliveries Collect(int64_t* malformed) {
    Deliveries d;
    *malformed = 0;
    for (const auto& f : out_files_) ReadDeliveries(f, &d, malformed);
    return d;
  }

  NamesrvProcess namesrv_;
  TempDir dir_;
  std::unique_ptr<BrokerProcess> master_;
  std::unique_ptr<BrokerProcess> slave_;
  ChildProcess consumers_[kConsumers];
  std::vector<std::string> out_files_;
};

TEST_F(SoakTest, KillsOfBrokersAndConsumersLoseNoAcknowledgedMessageAndKeepQueueOrder) {
  const char* env = std::getenv("MQ_SOAK_SECONDS");
  const auto duration = std::chrono::seconds(env != nullptr ? std::atoi(env) : 120);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kConsumers; ++i) StartConsumer(i);

  std::mutex mu;
  std::vector<Acked> acked;  // GUARDED_BY(mu)
  std::atomic<int64_t> failed{0};
  std::atomic<bool> stop{false};
  std::thread producer([&] {
    mq::client::ProducerOptions po;
    po.client.namesrv_addrs = {namesrv_.address()};
    po.client.route_refresh_ms = 500;
    po.client.heartbeat_ms = 1000;
    mq::client::Producer p(po);
    if (auto s = p.Start(); !s.ok()) {
      ADD_FAILURE() << "producer: " << s.ToString();
      return;
    }
    const auto selector = mq::client::HashSelector();
    auto next = std::chrono::steady_clock::now();
    for (int64_t seq = 0; !stop; ++seq) {
      const std::string key = "key" + std::to_string(seq % kKeys);
      const std::string body = key + "-" + std::to_string(seq);
      auto r = p.Send(mq::client::MakeMessage(kTopic, body), selector, key);
      if (r.ok() && r->status == mq::client::SendStatus::kSendOk) {
        std::lock_guard<std::mutex> lock(mu);
        acked.push_back({r->queue.queue_id, r->queue_offset, body});
      } else {
        ++failed;
      }
      // Pacing (at most ~1,000 messages/s), not synchronisation.
      next += 1ms;
      std::this_thread::sleep_until(next);
      if (std::chrono::steady_clock::now() > next + 100ms) next = std::chrono::steady_clock::now();
    }
    p.Shutdown();
  });
  auto acked_count = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return acked.size();
  };

  const char* names[] = {"consumer 0", "master", "consumer 1", "slave"};
  int kills[4] = {0, 0, 0, 0};
  for (int step = 0; std::chrono::steady_clock::now() - t0 < duration && !HasFatalFailure(); ++step) {
    // The system recovered from the last kill before the next one: 500 more acknowledged.
    const size_t before = acked_count();
    const bool progressed = WaitUntil([&] { return acked_count() >= before + 500; }, 60s, 50ms);
    ASSERT_TRUE(progressed) << "no progress after killing the " << names[(step + 3) % 4];
    switch (step % 4) {
      case 0:
      case 2: {
        const int i = step % 4 / 2;
        consumers_[i].Kill();
        StartConsumer(i);
        break;
      }
      case 1: {
        master_->process().Kill();
        const int64_t f = failed;
        EXPECT_TRUE(WaitUntil([&] { return failed > f; }, 10s)) << "sends kept succeeding without a master";
        ASSERT_TRUE(master_->Start()) << Tail(master_->process().ReadLog());
        break;
      }
      case 3:
        slave_->process().Kill();
        ASSERT_TRUE(slave_->Start()) << Tail(slave_->process().ReadLog());
        break;
    }
    ++kills[step % 4];
  }
  stop = true;
  producer.join();
  const double chaos_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // Drain: every acknowledged message must show up in some consumer's file.
  int64_t malformed = 0;
  Deliveries delivered;
  std::vector<const Acked*> missing;
  WaitUntil(
      [&] {
        delivered = Collect(&malformed);
        missing.clear();
        for (const auto& a : acked) {
          if (delivered.count({a.queue_id, a.offset}) == 0) missing.push_back(&a);
        }
        return missing.empty();
      },
      120s, 500ms);
  const double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  EXPECT_TRUE(missing.empty()) << missing.size() << " acknowledged messages never consumed, first: queue "
                               << missing.front()->queue_id << " offset " << missing.front()->offset;
  int64_t wrong_body = 0;
  for (const auto& a : acked) {
    auto it = delivered.find({a.queue_id, a.offset});
    if (it != delivered.end() && it->second.body != a.body) ++wrong_body;
  }
  EXPECT_EQ(wrong_body, 0);
  // Orderly: per queue, first deliveries in offset order.
  int64_t order_violations = 0;
  int64_t deliveries = 0;
  std::map<int32_t, std::pair<int64_t, int64_t>> last;  // queue -> (offset, first_us)
  for (const auto& [key, d] : delivered) {
    deliveries += d.count;
    auto it = last.find(key.first);
    if (it != last.end() && d.first_us < it->second.second) {
      if (++order_violations <= 5) {
        ADD_FAILURE() << "queue " << key.first << ": offset " << key.second
                      << " first delivered before offset " << it->second.first;
      }
    }
    last[key.first] = {key.second, d.first_us};
  }
  EXPECT_EQ(order_violations, 0);
  EXPECT_EQ(malformed, 0);
  std::printf(
      "[ soak ] %.0f s of faults (%.0f s with drain): %zu acknowledged, %ld sends failed, %zu distinct "
      "delivered, "
      "%ld deliveries (%ld duplicates), kills: consumer %d, master %d, slave %d; %zu consumer incarnations; "
      "missing %zu, order violations %ld\n",
      chaos_s, total_s, acked.size(), static_cast<long>(failed.load()), delivered.size(),
      static_cast<long>(deliveries), static_cast<long>(deliveries - static_cast<int64_t>(delivered.size())),
      kills[0] + kills[2], kills[1], kills[3], out_files_.size(), missing.size(),
      static_cast<long>(order_violations));
}

}  // namespace
}  // namespace mq::testing
