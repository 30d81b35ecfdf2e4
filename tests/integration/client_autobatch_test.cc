// Producer auto-batching (issue 11 item 2) and the connections sends spread over, against real
// processes. The brokers are paused with SIGSTOP so that sends provably pile up behind the one
// request in flight (no timing luck), then resumed: the pile must leave as one request, and
// every message keep its own result.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "client_cluster.h"
#include "process_pause.h"
#include "transaction_producer_access.h"

namespace mq::testing {
namespace {

using namespace std::chrono_literals;
using mq::client::MakeMessage;
using mq::client::Producer;
using mq::client::ProducerOptions;
using mq::client::SendResult;

// The results of async sends by index. Thread-safe.
class Results {
 public:
  mq::client::SendCallback For(int i) {
    return [this, i](const Result<SendResult>& r) {
      std::lock_guard lock(mu_);
      results_.emplace(i, r);
    };
  }
  size_t size() {
    std::lock_guard lock(mu_);
    return results_.size();
  }
  Result<SendResult> at(int i) {
    std::lock_guard lock(mu_);
    return results_.at(i);
  }

 private:
  std::mutex mu_;
  std::map<int, Result<SendResult>> results_;
};

// Parks both internal threads of `producer`'s client (client_instance.cc) until `released`
// is ready.
void HoldInternalThreads(Producer& producer, const std::shared_future<void>& released) {
  auto blocked = std::make_shared<std::atomic<int>>(0);
  auto& client = mq::client::ProducerAccess::Client(producer);
  for (int i = 0; i < 2; ++i) {
    client.internal().Post([blocked, released] {
      ++*blocked;
      released.wait();
    });
  }
  ASSERT_TRUE(WaitUntil([&] { return blocked->load() == 2; }, 10s));
}

class ClientAutoBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.Start());
    ASSERT_TRUE(cluster_.CreateTopic(kTopic));
  }
  ProducerOptions Options() const {
    ProducerOptions o;
    o.client = cluster_.Client();
    o.group = "batching-producer";
    o.auto_batch_max_in_flight = 1;
    o.send_timeout_ms = 30'000;  // the pause must not time the first request out
    o.attempt_timeout_ms = 30'000;
    return o;
  }
  std::vector<ChildProcess*> Brokers() {
    return {&cluster_.broker(0).process(), &cluster_.broker(1).process()};
  }
  BrokerProcess& BrokerNamed(const std::string& name) { return cluster_.broker(name == "broker-a" ? 0 : 1); }

  static constexpr char kTopic[] = "BatchTopic";
  ClientCluster cluster_;
};

// auto_batch_linger_us: sends of an idle producer wait for the linger and leave as one request,
// each with its own result; Shutdown() right after them still sends them (the linger's timer
// runs before the client's threads stop).
TEST_F(ClientAutoBatchTest, ALingerGathersAnIdleProducersSendsIntoOneRequestAndShutdownSendsThem) {
  auto options = Options();
  options.auto_batch_linger_us = 300'000;
  Producer producer(options);
  ASSERT_TRUE(producer.Start().ok());
  ASSERT_TRUE(producer.FetchPublishQueues(kTopic).ok());
  constexpr int kN = 20;
  Results results;
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < kN; ++i)
    producer.SendAsync(MakeMessage(kTopic, "l" + std::to_string(i)), results.For(i));
  producer.Shutdown();
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(results.size(), static_cast<size_t>(kN)) << "Shutdown() returned with sends unanswered";
  EXPECT_GE(took, 300ms) << "the first send lingered";
  EXPECT_EQ(producer.stats().send_requests, 1) << "all " << kN << " sends lingered into one request";
  for (int i = 0; i < kN; ++i) {
    auto r = results.at(i);
    ASSERT_TRUE(r.ok()) << i << ": " << r.status().ToString();
    EXPECT_EQ(r->status, mq::client::SendStatus::kSendOk);
    EXPECT_EQ(r->queue, results.at(0)->queue) << i;
    EXPECT_EQ(r->queue_offset, results.at(0)->queue_offset + i) << "in send order";
  }
}

TEST_F(ClientAutoBatchTest, AsyncSendsQueuedBehindARequestLeaveAsOneBatchEachWithItsOwnResult) {
  Producer producer(Options());
  ASSERT_TRUE(producer.Start().ok());
  // Caches the route without a send, whose slot the accumulator would free only after Send()
  // returned.
  ASSERT_TRUE(producer.FetchPublishQueues(kTopic).ok());

  constexpr int kN = 200;
  Results results;
  {
    ProcessPause paused(Brokers());
    for (int i = 0; i < kN; ++i)
      producer.SendAsync(MakeMessage(kTopic, "m" + std::to_string(i)), results.For(i));
  }
  ASSERT_TRUE(WaitUntil([&] { return results.size() == kN; }, 30s)) << results.size();

  // One request in flight per broker: m0 alone (its route tells the accumulator the topic has
  // two brokers), m1 alone beside it, then m2..m199 in one request.
  EXPECT_EQ(producer.stats().send_requests, 3) << "m0 and m1 alone, then m2..m199 in one request";
  EXPECT_EQ(producer.stats().batched_messages_acked, kN);
  std::set<std::string> ids;
  for (int i = 0; i < kN; ++i) {
    auto r = results.at(i);
    ASSERT_TRUE(r.ok()) << i << ": " << r.status().ToString();
    EXPECT_EQ(r->status, mq::client::SendStatus::kSendOk);
    ASSERT_EQ(r->msg_ids.size(), 1u);
    EXPECT_EQ(r->msg_ids[0], r->msg_id);
    ids.insert(r->msg_id);
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kN)) << "every message has its own id";
  // The batch went to one queue, in send order, at consecutive offsets.
  constexpr int kFirstBatched = 2;
  const auto first = *results.at(kFirstBatched);
  for (int i = kFirstBatched + 1; i < kN; ++i) {
    auto r = *results.at(i);
    EXPECT_EQ(r.queue, first.queue) << i;
    EXPECT_EQ(r.queue_offset, first.queue_offset + i - kFirstBatched) << i;
  }
  auto* stub = BrokerNamed(first.queue.broker_name).messaging();
  ASSERT_TRUE(WaitForMaxOffset(stub, kTopic, first.queue.queue_id, first.queue_offset + kN - kFirstBatched));
  mq::v1::PullMessageResponse pulled;
  ASSERT_TRUE(Pull(stub, "reader", kTopic, first.queue.queue_id, first.queue_offset, &pulled).ok());
  ASSERT_GT(pulled.messages_size(), 0);
  for (int i = 0; i < pulled.messages_size(); ++i) {
    EXPECT_EQ(pulled.messages(i).message().body(), "m" + std::to_string(i + kFirstBatched));
    EXPECT_EQ(pulled.messages(i).msg_id(), results.at(i + kFirstBatched)->msg_id);
  }
}

TEST_F(ClientAutoBatchTest, SyncSendsFromManyThreadsEachGetTheirOwnResult) {
  Producer producer(Options());
  ASSERT_TRUE(producer.Start().ok());
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  std::mutex mu;
  std::set<std::pair<std::string, int64_t>> positions;  // (queue, offset): each message its own
  std::set<std::string> ids;
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = producer.Send(MakeMessage(kTopic, "t" + std::to_string(t) + "-" + std::to_string(i)));
        if (!r.ok()) {
          failed++;
          continue;
        }
        std::lock_guard lock(mu);
        positions.emplace(r->queue.ToString(), r->queue_offset);
        ids.insert(r->msg_id);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(positions.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(ids.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_LE(producer.stats().send_requests, kThreads * kPerThread);
  std::printf("%d sync sends from %d threads took %lld requests\n", kThreads * kPerThread, kThreads,
              static_cast<long long>(producer.stats().send_requests));
}

TEST_F(ClientAutoBatchTest, SendRepliesAreHandledOnTheThreadTheyArriveOn) {
  // The reply to a lone send wakes its sync sender and frees the accumulator's slot on gRPC's
  // callback thread: posting either to the client's internal threads costs a thread wake-up
  // per request (843 and 947 here with both posted), at low rates a good part of a send's CPU.
  ProducerOptions o = Options();
  o.auto_batch_max_in_flight = 4;
  Producer producer(o);
  ASSERT_TRUE(producer.Start().ok());
  ASSERT_TRUE(producer.Send(MakeMessage(kTopic, "first")).ok());  // route cached, channels up
  const int64_t before = ThreadSwitches(getpid(), "mq-client");
  constexpr int kSends = 300;
  for (int i = 0; i < kSends; ++i) {
    auto r = producer.Send(MakeMessage(kTopic, "s" + std::to_string(i)));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  // One request per sync send from one thread: 300 requests. Only the client's periodic work
  // (route refresh, heartbeat: every 30 s) may wake its internal threads meanwhile.
  EXPECT_LT(ThreadSwitches(getpid(), "mq-client") - before, 20);
}

// Sends in flight together take connections of their own, up to send_connections_per_broker;
// one send at a time keeps the one connection (send_channel_pool.h). The paused broker holds
// every send in flight, so the spread does not depend on timing.
TEST_F(ClientAutoBatchTest, SendsInFlightTogetherSpreadOverUpToTheConfiguredConnections) {
  ProducerOptions o = Options();
  o.client.send_connections_per_broker = 3;
  o.client.fast_send = false;  // the gRPC port's connections are what this is about
  Producer producer(o);
  ASSERT_TRUE(producer.Start().ok());
  BrokerProcess& broker = cluster_.broker(0);
  const std::string addr = broker.address();
  const auto port = static_cast<uint16_t>(std::stoi(addr.substr(addr.rfind(':') + 1)));
  // Sends with a selector (here: a queue of broker-a) are never auto-batched: one request each.
  const mq::client::MessageQueueSelector to_a = [](const std::vector<mq::client::MessageQueue>& queues,
                                                   const mq::client::Message&, const std::string&) {
    for (const auto& q : queues)
      if (q.broker_name == "broker-a") return q;
    return queues.front();
  };
  auto& client = mq::client::ProducerAccess::Client(producer);
  for (int i = 0; i < 5; ++i) {
    auto r = producer.Send(MakeMessage(kTopic, "one-" + std::to_string(i)), to_a, "");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->queue.broker_name, "broker-a");
  }
  EXPECT_EQ(client.SendConnections(addr), 1) << "one send at a time";
  const int before = EstablishedConnectionsTo(port);
  const int64_t requests = producer.stats().send_requests;

  constexpr int kSenders = 5;
  std::atomic<int> ok{0};
  std::vector<std::thread> senders;
  {
    ProcessPause paused({&broker.process()});
    for (int i = 0; i < kSenders; ++i) {
      senders.emplace_back([&, i] {
        if (producer.Send(MakeMessage(kTopic, "together-" + std::to_string(i)), to_a, "").ok()) ok++;
      });
    }
    // A request is counted once it has taken its connection.
    ASSERT_TRUE(WaitUntil([&] { return producer.stats().send_requests == requests + kSenders; }, 10s));
    EXPECT_EQ(client.SendConnections(addr), 3) << "five sends in flight, at most three connections";
    EXPECT_TRUE(WaitUntil([&] { return EstablishedConnectionsTo(port) == before + 2; }, 10s))
        << "each connection is a TCP connection of its own: " << EstablishedConnectionsTo(port) << " vs "
        << before;
  }
  for (auto& t : senders) t.join();
  EXPECT_EQ(ok.load(), kSenders);
  EXPECT_EQ(client.SendConnections(addr), 3);
}

// A broker that refuses a batch as a whole (here: larger than its maxMessageSize) gets each
// message again alone, so only the message that is really too large fails.
TEST(ClientAutoBatchRefusalTest, ABatchTheBrokerRefusesIsSentAgainOneByOne) {
  TempDir dir;
  NamesrvProcess namesrv;
  ASSERT_TRUE(namesrv.started());
  BrokerProcess broker({namesrv.address(),
                        dir.Sub("broker"),
                        "broker-a",
                        {"maxMessageSize=8192", "autoCreateTopicEnable=true"}});
  ASSERT_TRUE(broker.Start());
  ProducerOptions o;
  o.client.namesrv_addrs = {namesrv.address()};
  o.group = "refused-producer";
  o.auto_batch_max_in_flight = 1;
  o.send_timeout_ms = 30'000;
  o.attempt_timeout_ms = 30'000;
  Producer producer(o);
  ASSERT_TRUE(producer.Start().ok());
  // The route (the auto-create template's until the first send creates the topic), no send.
  ASSERT_TRUE(WaitUntil([&] { return producer.FetchPublishQueues("SmallMax").ok(); }, 10s));

  constexpr int kN = 11;
  constexpr int kTooLarge = 5;
  Results results;
  {
    ProcessPause paused({&broker.process()});
    for (int i = 0; i < kN; ++i) {
      std::string body(i == kTooLarge ? 9000 : 4000, static_cast<char>('a' + i));
      producer.SendAsync(MakeMessage("SmallMax", body), results.For(i));
    }
  }
  ASSERT_TRUE(WaitUntil([&] { return results.size() == kN; }, 30s)) << results.size();
  for (int i = 0; i < kN; ++i) {
    auto r = results.at(i);
    if (i == kTooLarge) {
      EXPECT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();
      EXPECT_NE(r.status().message().find("body"), std::string::npos) << r.status().ToString();
    } else {
      EXPECT_TRUE(r.ok()) << i << ": " << r.status().ToString();
    }
  }
  // The first alone, the refused batch of 10, then each of the 10 alone.
  EXPECT_EQ(producer.stats().send_requests, 12);
}

// Sync senders woken by a batch's reply and sending again free its slot themselves: the last
// of them sends their messages as the next request (SendAccumulator::AwaitRequeues), with no
// hop through the client's internal threads, here kept busy the whole time. Without it every
// batch of two or more messages waits for those threads to free its slot, and the senders stall.
TEST_F(ClientAutoBatchTest, SyncSendersSendingAgainNeedNoInternalThread) {
  Producer producer(Options());
  ASSERT_TRUE(producer.Start().ok());
  for (int i = 0; i < 16; ++i) {  // the route cached, a channel to each broker
    ASSERT_TRUE(producer.Send(MakeMessage(kTopic, "warm-" + std::to_string(i))).ok());
  }
  const int64_t warm_requests = producer.stats().send_requests;

  constexpr int kSenders = 4;
  constexpr int kGoal = 400;
  std::promise<void> unblock;
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> senders;
  // Ends the senders and frees the internal threads on every way out of the test.
  struct Cleanup {
    std::function<void()> run;
    ~Cleanup() { run(); }
  } cleanup{[&] {
    stop = true;
    unblock.set_value();  // also for tasks not started yet, or the producer's shutdown would hang
    for (auto& t : senders) t.join();
  }};
  // Both internal threads wait until the end of the test.
  HoldInternalThreads(producer, unblock.get_future().share());
  {
    // Paused, the brokers hold the first requests while the other senders queue behind them,
    // so later requests carry several messages.
    ProcessPause paused(Brokers());
    for (int t = 0; t < kSenders; ++t) {
      senders.emplace_back([&, t] {
        for (int i = 0; !stop.load(); ++i) {
          auto r = producer.Send(MakeMessage(kTopic, std::to_string(t) + "-" + std::to_string(i)));
          r.ok() ? ok++ : failed++;
        }
      });
    }
    ASSERT_TRUE(WaitUntil([&] { return producer.stats().send_requests > warm_requests; }, 10s));
  }
  EXPECT_TRUE(WaitUntil([&] { return ok.load() >= kGoal; }, 20s))
      << ok.load() << " sends in " << producer.stats().send_requests - warm_requests << " requests";
  EXPECT_LT(producer.stats().send_requests - warm_requests, ok.load()) << "requests carried several messages";
  EXPECT_EQ(failed.load(), 0);
}

TEST_F(ClientAutoBatchTest, AsyncBatchesNeedNoInternalThread) {
  // A reply to several async sends wakes no sender (their callbacks run on the callback
  // threads), so the next batch leaves from the thread the reply came on. Freeing the slot
  // through a post to the internal threads cost a wake-up per request; with both internal
  // threads held here, the second wave below never left.
  Producer producer(Options());
  ASSERT_TRUE(producer.Start().ok());
  for (int i = 0; i < 8; ++i) {  // the route cached, a channel to each broker
    ASSERT_TRUE(producer.Send(MakeMessage(kTopic, "warm-" + std::to_string(i))).ok());
  }
  std::promise<void> unblock;
  struct Cleanup {  // frees the internal threads on every way out, or Shutdown() would hang
    std::promise<void>* unblock;
    ~Cleanup() { unblock->set_value(); }
  } cleanup{&unblock};
  HoldInternalThreads(producer, unblock.get_future().share());

  // Each paused wave: its first message leaves alone for the one free slot, the rest gather
  // into one batch behind it and leave when it is answered. Two such batches held both slots
  // (one per broker) for good when freeing them waited for the internal threads: the third
  // wave never left.
  constexpr int kWave = 100;
  Results results;
  for (int wave = 0; wave < 3; ++wave) {
    {
      std::optional<ProcessPause> paused;
      if (wave < 2) paused.emplace(Brokers());
      for (int i = wave * kWave; i < (wave + 1) * kWave; ++i)
        producer.SendAsync(MakeMessage(kTopic, "m" + std::to_string(i)), results.For(i));
    }
    ASSERT_TRUE(WaitUntil([&] { return results.size() == static_cast<size_t>((wave + 1) * kWave); }, 20s))
        << "wave " << wave << ": " << results.size();
  }
  for (int i = 0; i < 3 * kWave; ++i) EXPECT_TRUE(results.at(i).ok()) << i;
  EXPECT_LT(producer.stats().send_requests, 8 + 3 * kWave) << "requests carried several messages";
}

}  // namespace
}  // namespace mq::testing
