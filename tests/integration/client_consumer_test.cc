// Push consumers (clustering, broadcasting) against 1 NameServer + 2 broker sets; orderly ones in
// client_orderly_consumer_test.cc.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "client_cluster.h"
#include "client_consumer_fixture.h"
#include "delivery_counter.h"
#include "testutil/proc_status.h"

namespace mq::testing {
namespace {

using mq::client::ConsumeResult;
using mq::client::MakeMessage;
using mq::client::MessageModel;
using mq::client::PushConsumer;
using mq::client::ReceivedMessage;

TEST_F(ClientConsumerTest, ClusteringSharesQueuesEvenlyAndConsumesEachMessageOnce) {
  Collector c;
  std::vector<std::unique_ptr<PushConsumer>> consumers;
  for (int i = 0; i < 3; ++i) consumers.push_back(NewConsumer(cluster_.Consumer("g-cluster"), &c, i));
  ASSERT_TRUE(WaitUntil(
      [&] {
        if (TotalAssigned(consumers) != 8) return false;
        for (const auto& x : consumers) {
          if (x->AssignedQueues().size() < 2 || x->AssignedQueues().size() > 3) return false;
        }
        return true;
      },
      std::chrono::seconds(20)));
  constexpr int kMessages = 10'000;
  SendRange(0, kMessages);
  ASSERT_TRUE(WaitUntil([&] { return c.total() >= kMessages; }, std::chrono::seconds(60)));
  EXPECT_EQ(c.distinct(), static_cast<size_t>(kMessages));
  EXPECT_EQ(c.total(), kMessages);  // no duplicate
  for (int i = 0; i < 3; ++i) EXPECT_GT(c.of(i), kMessages / 6) << "consumer " << i;
}

TEST_F(ClientConsumerTest, MembershipWatchSleepsWhileMessagesFlow) {
  // The membership watch long-polls GetConsumerIds for 10 s at a time. Blocked in a
  // synchronous gRPC call, its thread would poll gRPC's shared epoll set and wake for the
  // replies of other calls (every send and pull); waiting on its own completion it does not.
  // A woken poller thread wakes about once per few calls (hundreds here); a sleeping one at
  // most when a long poll ends (every 10 s) or the membership changes (never here).
  EXPECT_LT(SwitchesWhileConsuming("g-watch", [] { return ThreadSwitches(getpid(), "mq-rebal-watch"); }), 10);
}

TEST_F(ClientConsumerTest, RepliesOfSendsAndPullsAreHandledOnTheThreadTheyArriveOn) {
  // A pull's reply is decoded and handed to the consume threads, and the queue's next pull
  // started, on gRPC's callback thread; a send's reply likewise wakes its sender there. Posting
  // them to the client's internal threads cost a thread wake-up per reply (491 and 554 here).
  // 300 send replies and at least as many pull replies; the clients' periodic work is
  // spaced out of the count (quiet), so hardly anything else wakes the internal threads.
  EXPECT_LT(SwitchesWhileConsuming(
                "g-inline", [] { return ThreadSwitches(getpid(), "mq-client"); }, /*quiet=*/true),
            40);
}

TEST_F(ClientConsumerTest, BrokersEndSendsAndPullsWhereTheCallsFinish) {
  // gRPC runs the end of a call (OnDone: its buffers freed, the byte budget's lease returned)
  // on its executor thread unless the reactor says its reactions may run inline; the broker's
  // send and pull reactor does. Handed over, the ends of the 300 sends and 300 or more pulls
  // woke the executor 569 times; inline, 40-64 wake-ups remain (gRPC also hands it some reads).
  auto executor_switches = [this] {
    int64_t n = 0;
    for (int i = 0; i < 2; ++i) n += ThreadSwitches(cluster_.broker(i).process().pid(), "default-executo");
    return n;
  };
  EXPECT_LT(SwitchesWhileConsuming("g-ondone", executor_switches), 200);
}

TEST_F(ClientConsumerTest, JoinAndLeaveMidStreamLosesNothing) {
  // A queue's new owner starts from the offset the broker has when it asks (RocketMQ does the
  // same): what the previous owner consumed after its last commit may come again, nothing may
  // be lost. So the group's offsets are committed to the end of the first range before the
  // membership changes: those messages come once; the ranges sent during a join and a leave
  // come at least once.
  Collector c;
  std::vector<std::unique_ptr<PushConsumer>> consumers;
  for (int i = 0; i < 2; ++i) consumers.push_back(NewConsumer(cluster_.Consumer("g-churn"), &c, i));
  ASSERT_TRUE(WaitUntil([&] { return TotalAssigned(consumers) == 8; }, std::chrono::seconds(20)));
  SendRange(0, 1000);
  ASSERT_TRUE(
      WaitUntil([&] { return c.distinct() == 1000 && cluster_.CommittedLag("ConsTopic", "g-churn") == 0; },
                std::chrono::seconds(20)))
      << "distinct=" << c.distinct() << " lag=" << cluster_.CommittedLag("ConsTopic", "g-churn");
  std::thread sender([&] { SendRange(1000, 2000); });
  consumers.push_back(NewConsumer(cluster_.Consumer("g-churn"), &c, 2));
  sender.join();
  // 8 queues in all with 2 or more the joiner's own means the others gave theirs up.
  ASSERT_TRUE(
      WaitUntil([&] { return TotalAssigned(consumers) == 8 && consumers[2]->AssignedQueues().size() >= 2; },
                std::chrono::seconds(20)));
  sender = std::thread([&] { SendRange(2000, 3000); });
  consumers[0]->Shutdown();
  sender.join();
  ASSERT_TRUE(WaitUntil([&] { return c.distinct() == 3000; }, std::chrono::seconds(30)))
      << "distinct=" << c.distinct();
  EXPECT_GT(c.of(2), 0);
  std::string again;
  for (int i = 0; i < 1000; ++i) {
    if (int n = c.Count("m" + std::to_string(i)); n != 1) again += fmt::format("m{}x{} ", i, n);
  }
  EXPECT_EQ(again, "") << "committed before the changes, delivered again";
}

TEST_F(ClientConsumerTest, BroadcastingEveryoneGetsAllAndARestartResumesFromLocalOffsets) {
  Collector c[3];
  Collector again;  // the restarted consumer's; declared before the consumers so that it outlives them
  std::vector<std::unique_ptr<PushConsumer>> consumers;
  auto options = [&](int i) {
    auto o = cluster_.Consumer("g-bcast");
    o.model = MessageModel::kBroadcasting;
    o.client.instance_name = "inst" + std::to_string(i);
    return o;
  };
  for (int i = 0; i < 3; ++i) consumers.push_back(NewConsumer(options(i), &c[i], i));
  ASSERT_TRUE(WaitUntil([&] { return TotalAssigned(consumers) == 24; }, std::chrono::seconds(20)));
  SendRange(0, 300);
  for (auto& x : c) ASSERT_TRUE(WaitUntil([&] { return x.distinct() == 300; }, std::chrono::seconds(20)));
  consumers[2]->Shutdown();
  consumers[2].reset();
  SendRange(300, 400);
  consumers[2] = NewConsumer(options(2), &again, 2);
  ASSERT_TRUE(WaitUntil([&] { return again.distinct() == 100; }, std::chrono::seconds(20)));
  for (int i = 0; i < 2; ++i) EXPECT_TRUE(WaitUntil([&] { return c[i].distinct() == 400; }));
  EXPECT_EQ(again.total(), 100) << "the restarted consumer replays nothing before its local offset";
}

TEST_F(ClientConsumerTest, GracefulShutdownAndRestartReplaysNothing) {
  Collector first;
  Collector second;  // declared before the consumer so that it outlives the consumer that calls it
  auto consumer = NewConsumer(cluster_.Consumer("g-restart"), &first, 0);
  SendRange(0, 500);
  ASSERT_TRUE(WaitUntil([&] { return first.distinct() == 500; }, std::chrono::seconds(20)));
  consumer->Shutdown();
  consumer.reset();
  SendRange(500, 600);
  consumer = NewConsumer(cluster_.Consumer("g-restart"), &second, 0);
  ASSERT_TRUE(WaitUntil([&] { return second.distinct() == 100; }, std::chrono::seconds(20)))
      << "distinct " << second.distinct() << " total " << second.total();
  EXPECT_EQ(second.total(), 100);
  EXPECT_EQ(first.total(), 500);
}

// Before: a second Start() got past its checks and replaced the consumer's offset store (and its
// heartbeat filler and retry subscription) under the running threads before the client refused
// to start again: the offsets consumed so far and not yet committed went with the old store, and
// a restart consumed those messages again.
TEST_F(ClientConsumerTest, ASecondStartIsRefusedAndChangesNothing) {
  Collector first;
  Collector second;  // declared before the consumers that call them
  auto options = cluster_.Consumer("g-start-twice");
  options.commit_interval_ms = 600'000;  // nothing committed until the shutdown
  auto consumer = NewConsumer(options, &first, 0);
  SendRange(0, 200);
  ASSERT_TRUE(WaitUntil([&] { return first.distinct() == 200; }, std::chrono::seconds(20)));
  Status again = consumer->Start();
  EXPECT_EQ(again.code(), StatusCode::kFailedPrecondition) << again.ToString();
  EXPECT_EQ(again.message(), "consumer: already started (a consumer starts once)");
  consumer->Shutdown();
  consumer.reset();
  SendRange(200, 250);
  consumer = NewConsumer(cluster_.Consumer("g-start-twice"), &second, 0);
  ASSERT_TRUE(WaitUntil([&] { return second.distinct() == 50; }, std::chrono::seconds(20)))
      << "distinct " << second.distinct() << " total " << second.total();
  EXPECT_EQ(second.total(), 50);
}

TEST_F(ClientConsumerTest, FailingListenerGetsTheMessageAgainThroughTheRetryTopic) {
  std::mutex mu;
  std::map<std::string, int> attempts;
  PushConsumer consumer(cluster_.Consumer("g-retry"));
  ASSERT_TRUE(consumer.Subscribe("ConsTopic", "TagA || TagB").ok());
  consumer.RegisterListener([&](const std::vector<ReceivedMessage>& msgs) {
    std::lock_guard lock(mu);
    EXPECT_EQ(msgs[0].message.topic, "ConsTopic");  // restored for retried messages too
    int n = ++attempts[msgs[0].message.body];
    if (n == 1) throw std::runtime_error("first delivery fails");
    return n < 3 ? ConsumeResult::kRetryLater : ConsumeResult::kSuccess;
  });
  ASSERT_TRUE(consumer.Start().ok());
  ASSERT_TRUE(producer_->Send(MakeMessage("ConsTopic", "flaky", "TagA")).ok());
  ASSERT_TRUE(producer_->Send(MakeMessage("ConsTopic", "filtered", "TagC")).ok());
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::lock_guard lock(mu);
        return attempts["flaky"] == 3;
      },
      std::chrono::seconds(20)));
  std::lock_guard lock(mu);
  EXPECT_EQ(attempts.count("filtered"), 0u);
}

TEST_F(ClientConsumerTest, AListenerMayShutItsConsumerDown) {
  // "Stop after this message": Shutdown() from the listener (its own consume or reply thread)
  // returns at once and the consumer stops without a crash; the message it consumed is committed.
  for (int on_reply_thread_us : {0, 200}) {
    const std::string group = "g-stop-" + std::to_string(on_reply_thread_us);
    std::atomic<bool> returned{false};
    std::atomic<int> calls{0};
    auto o = cluster_.Consumer(group);
    o.listener_on_reply_thread_max_us = on_reply_thread_us;
    auto consumer = std::make_unique<PushConsumer>(o);
    ASSERT_TRUE(consumer->Subscribe("ConsTopic", "*").ok());
    consumer->RegisterListener([&](const std::vector<ReceivedMessage>& msgs) {
      // The earlier rounds' messages come first (the group starts at the first offset).
      if (msgs[0].message.body == "stop-" + group && calls.fetch_add(1) == 0) {
        consumer->Shutdown();
        returned = true;
      }
      return ConsumeResult::kSuccess;
    });
    ASSERT_TRUE(consumer->Start().ok());
    ASSERT_TRUE(WaitUntil([&] { return consumer->AssignedQueues().size() == 8; }, std::chrono::seconds(20)))
        << consumer->AssignedQueues().size() << " queues, reply thread " << on_reply_thread_us;
    ASSERT_TRUE(producer_->Send(MakeMessage("ConsTopic", "stop-" + group)).ok());
    ASSERT_TRUE(WaitUntil([&] { return returned.load(); }, std::chrono::seconds(20)));
    consumer.reset();
    // The group's next consumer does not get that message again.
    Collector next;
    auto again = NewConsumer(cluster_.Consumer(group), &next, 0);
    ASSERT_TRUE(producer_->Send(MakeMessage("ConsTopic", "after-" + group)).ok());
    ASSERT_TRUE(WaitUntil([&] { return next.Has("after-" + group); }, std::chrono::seconds(20)));
    EXPECT_FALSE(next.Has("stop-" + group));
  }
}

}  // namespace
}  // namespace mq::testing

namespace mq::testing {
namespace {

// Issue 10 item 7: a consume batch still in flight when its queue is handed over must not write
// its offset back. Otherwise the old owner keeps a stale local offset and, when the queue comes
// back to it, starts there and delivers again what the other member already consumed.
TEST_F(ClientConsumerTest, InFlightBatchOfADroppedQueueDoesNotRewindItsNextOwner) {
  ASSERT_TRUE(cluster_.CreateTopic("HandOver", 1));  // broker-a#0 and broker-b#0
  // Every message goes to broker-a#0, the queue that moves between the two members.
  auto to_a = [](const std::vector<mq::client::MessageQueue>& qs, const mq::client::Message&,
                 const std::string&) {
    for (const auto& q : qs) {
      if (q.broker_name == "broker-a") return q;
    }
    return qs.front();
  };
  auto send = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      auto r = producer_->Send(MakeMessage("HandOver", "h" + std::to_string(i)), to_a, "");
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      ASSERT_EQ(r->queue.broker_name, "broker-a");
    }
  };
  const mq::client::MessageQueue handed{"HandOver", "broker-a", 0};
  auto holds = [&](PushConsumer& c) {
    auto qs = c.AssignedQueues();
    return std::find(qs.begin(), qs.end(), handed) != qs.end();
  };

  // Member "b" alone takes both queues; its listener holds h0 until released.
  std::mutex mu;
  std::condition_variable cv;
  bool release = false, holding = false, returned = false;
  std::set<std::string> b_seen;
  auto b_opts = cluster_.Consumer("g-handover");
  b_opts.client.instance_name = "b";  // client ids sort by instance: "a" gets broker-a#0 once it joins
  auto b = std::make_unique<PushConsumer>(b_opts);
  ASSERT_TRUE(b->Subscribe("HandOver", "*").ok());
  b->RegisterListener([&](const std::vector<ReceivedMessage>& msgs) {
    std::unique_lock lock(mu);
    for (const auto& m : msgs) b_seen.insert(m.message.body);
    if (msgs.front().message.body == "h0" && !returned) {
      holding = true;
      cv.notify_all();
      cv.wait_for(lock, std::chrono::seconds(30), [&] { return release; });
      returned = true;
    }
    return ConsumeResult::kSuccess;
  });
  ASSERT_TRUE(b->Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return b->AssignedQueues().size() == 2; }, std::chrono::seconds(20)));
  send(0, 10);
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::lock_guard lock(mu);
        return holding && b_seen.size() == 10;
      },
      std::chrono::seconds(20)));

  // Member "a" joins and gets broker-a#0; b's commit on the hand-over is 0 (h0 is in flight).
  Collector a_seen;
  auto a_opts = cluster_.Consumer("g-handover");
  a_opts.client.instance_name = "a";
  auto a = std::make_unique<PushConsumer>(a_opts);
  ASSERT_TRUE(a->Subscribe("HandOver", "*").ok());
  a->RegisterListener(a_seen.Listener(1));
  ASSERT_TRUE(a->Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return holds(*a) && !holds(*b); }, std::chrono::seconds(20)));
  ASSERT_TRUE(WaitUntil([&] { return a_seen.distinct() == 10; }, std::chrono::seconds(20)));

  // b's batch finishes now, after b gave the queue away.
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  ASSERT_TRUE(WaitUntil([&] {
    std::lock_guard lock(mu);
    return returned;
  }));

  // a consumes more and leaves (a graceful shutdown commits 20); the queue goes back to b.
  send(10, 20);
  ASSERT_TRUE(WaitUntil([&] { return a_seen.distinct() == 20; }, std::chrono::seconds(20)));
  a->Shutdown();
  ASSERT_TRUE(WaitUntil([&] { return holds(*b); }, std::chrono::seconds(20)));
  send(20, 21);
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::lock_guard lock(mu);
        return b_seen.count("h20") > 0;
      },
      std::chrono::seconds(20)));
  // b starts at a's commit (20), not at the offset its late batch computed (10).
  std::lock_guard lock(mu);
  for (int i = 10; i < 20; ++i) EXPECT_EQ(b_seen.count("h" + std::to_string(i)), 0u) << "h" << i;
}

TEST_F(ClientConsumerTest, ASlowListenerFansAPullOutOverThePool) {
  // A pull's messages are consumed by the task its reply posted, which posts helpers (up to
  // consume_threads) while the listener calls left would take longer than waking a thread:
  // always for a listener this slow, never for one of a few microseconds.
  constexpr int kMessages = 16;
  ASSERT_TRUE(cluster_.CreateTopic("SlowTopic", 1));  // one queue on each broker
  for (int i = 0; i < kMessages; ++i) {
    auto r = producer_->Send(MakeMessage("SlowTopic", "slow" + std::to_string(i)));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  std::atomic<int> running{0}, most{0}, consumed{0};
  auto o = cluster_.Consumer("g-fan-out");
  o.consume_threads = 8;
  auto consumer = std::make_unique<PushConsumer>(o);
  ASSERT_TRUE(consumer->Subscribe("SlowTopic", "*").ok());
  consumer->RegisterListener([&](const std::vector<ReceivedMessage>& msgs) {
    const int now = ++running;
    for (int m = most.load(); now > m && !most.compare_exchange_weak(m, now);) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the listener's work
    --running;
    consumed += static_cast<int>(msgs.size());
    return ConsumeResult::kSuccess;
  });
  ASSERT_TRUE(consumer->Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return consumed.load() >= kMessages; }, std::chrono::seconds(30)));
  // 16 messages in 2 queues, 8 per pull: more listener calls at once than queues means the
  // pulls were fanned out.
  EXPECT_GT(most.load(), 2) << "listener calls at once";
}

}  // namespace
}  // namespace mq::testing
