#include "send_accumulator.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace mq::client {
namespace {

// A send whose wire bytes are its body.
void Add(SendAccumulator& acc, const std::string& topic, const std::string& body) {
  PendingSend s;
  s.body_bytes = static_cast<int64_t>(body.size());
  acc.Add(topic, std::move(s), [&body](std::string* wire) { wire->append(body); });
}

// Records every dispatched batch as its bodies, each cut from the batch's wire by its wire_bytes.
struct Recorder {
  std::vector<std::pair<std::string, std::vector<std::string>>> batches;
  SendAccumulator::Dispatch Dispatch() {
    return [this](const std::string& topic, SendBatch batch) {
      std::vector<std::string> bodies;
      size_t at = 0;
      for (const auto& s : batch.sends) {
        bodies.push_back(batch.wire.substr(at, s.wire_bytes));
        at += s.wire_bytes;
      }
      EXPECT_EQ(at, batch.wire.size()) << "the wire holds the batch's sends and nothing else";
      batches.emplace_back(topic, std::move(bodies));
    };
  }
};

using Bodies = std::vector<std::string>;

// One broker: a batch that is not full waits for the one request out; full batches go while
// fewer than max_in_flight requests are out.
TEST(SendAccumulatorTest, PartialBatchesWaitForTheRequestOutFullOnesUseTheFreeSlots) {
  Recorder rec;
  SendAccumulator acc({/*max_in_flight=*/2, /*max_batch_messages=*/3, /*max_batch_bytes=*/1000},
                      rec.Dispatch());
  Add(acc, "T", "a");
  ASSERT_EQ(rec.batches.size(), 1u) << "an idle topic sends at once";
  EXPECT_EQ(rec.batches[0].second, Bodies{"a"});
  Add(acc, "T", "b");
  Add(acc, "T", "c");
  EXPECT_EQ(rec.batches.size(), 1u) << "a batch that is not full waits for the request out";
  Add(acc, "T", "d");
  ASSERT_EQ(rec.batches.size(), 2u) << "a full batch takes the second slot";
  EXPECT_EQ(rec.batches[1].second, (Bodies{"b", "c", "d"}));
  for (const char* b : {"e", "f", "g", "h"}) Add(acc, "T", b);
  EXPECT_EQ(rec.batches.size(), 2u) << "both slots are taken: nothing leaves";
  acc.Completed("T");
  ASSERT_EQ(rec.batches.size(), 3u);
  EXPECT_EQ(rec.batches[2].second, (Bodies{"e", "f", "g"})) << "the full batch goes first";
  acc.Completed("T");
  EXPECT_EQ(rec.batches.size(), 3u) << "h is not full and one request is still out";
  acc.Completed("T");
  ASSERT_EQ(rec.batches.size(), 4u);
  EXPECT_EQ(rec.batches[3].second, Bodies{"h"});
  acc.Completed("T");
  // Every slot is free again: the next send leaves at once.
  Add(acc, "T", "i");
  ASSERT_EQ(rec.batches.size(), 5u);
  EXPECT_EQ(rec.batches[4].second, Bodies{"i"});
}

TEST(SendAccumulatorTest, BatchesCloseAtMaxBytesAndAnOversizeMessageTravelsAlone) {
  Recorder rec;
  SendAccumulator acc({1, 100, 10}, rec.Dispatch());
  Add(acc, "T", "first");
  Add(acc, "T", "1234");
  Add(acc, "T", "5678");
  Add(acc, "T", "90");            // 4 + 4 + 2 = 10 bytes: still fits
  Add(acc, "T", "x");             // 11: a new batch
  Add(acc, "T", "twelve bytes");  // above the limit: its own batch
  Add(acc, "T", "y");
  for (int i = 0; i < 4; ++i) acc.Completed("T");
  ASSERT_EQ(rec.batches.size(), 5u);
  EXPECT_EQ(rec.batches[1].second, (Bodies{"1234", "5678", "90"}));
  EXPECT_EQ(rec.batches[2].second, Bodies{"x"});
  EXPECT_EQ(rec.batches[3].second, Bodies{"twelve bytes"});
  EXPECT_EQ(rec.batches[4].second, Bodies{"y"});
}

TEST(SendAccumulatorTest, TopicsHaveTheirOwnSlots) {
  Recorder rec;
  SendAccumulator acc({1, 10, 1000}, rec.Dispatch());
  Add(acc, "A", "a1");
  Add(acc, "B", "b1");
  Add(acc, "A", "a2");
  ASSERT_EQ(rec.batches.size(), 2u);
  EXPECT_EQ(rec.batches[0].first, "A");
  EXPECT_EQ(rec.batches[1].first, "B");
  acc.Completed("B");
  EXPECT_EQ(rec.batches.size(), 2u) << "B's slot does not release A's batch";
  acc.Completed("A");
  ASSERT_EQ(rec.batches.size(), 3u);
  EXPECT_EQ(rec.batches[2].first, "A");
  EXPECT_EQ(rec.batches[2].second, Bodies{"a2"});
}

TEST(SendAccumulatorTest, DispatchRunsOutsideTheLock) {
  // A dispatch that sends again (as a retry path may) must not deadlock.
  SendAccumulator* self = nullptr;
  int dispatched = 0;
  SendAccumulator acc({1, 10, 1000}, [&](const std::string& topic, SendBatch) {
    if (++dispatched == 1) Add(*self, topic, "from inside");
  });
  self = &acc;
  Add(acc, "T", "outside");
  EXPECT_EQ(dispatched, 1);
  acc.Completed("T");
  EXPECT_EQ(dispatched, 2);
}

}  // namespace
}  // namespace mq::client

namespace mq::client {
namespace {

// Slots count per broker: a topic on two brokers keeps a request out to each even with
// batches that are not full; a topic whose brokers are not known yet counts as one broker.
TEST(SendAccumulatorTest, EachBrokerOfATopicGetsItsOwnRequestsInFlight) {
  Recorder rec;
  SendAccumulator acc({/*max_in_flight=*/2, /*max_batch_messages=*/100, /*max_batch_bytes=*/1000},
                      rec.Dispatch());
  Add(acc, "T", "a");
  Add(acc, "T", "b");
  ASSERT_EQ(rec.batches.size(), 1u) << "one broker known: one request out";
  acc.SetBrokers("T", 2);
  acc.SetBrokers("U", 0);  // clamped to one
  Add(acc, "T", "c");
  ASSERT_EQ(rec.batches.size(), 2u) << "the second broker's slot takes the waiting batch";
  EXPECT_EQ(rec.batches[1].second, (Bodies{"b", "c"}));
  Add(acc, "T", "d");
  EXPECT_EQ(rec.batches.size(), 2u) << "a request out per broker: d waits";
  acc.Completed("T");
  ASSERT_EQ(rec.batches.size(), 3u);
  EXPECT_EQ(rec.batches[2].second, Bodies{"d"});
  Add(acc, "U", "u1");
  Add(acc, "U", "u2");
  ASSERT_EQ(rec.batches.size(), 4u) << "U has one broker: one request out";
  EXPECT_EQ(rec.batches[3].first, "U");
}

// A completed batch whose sync senders will send again keeps its slot until they have: their
// sends leave as one request from the last one's Add, and the batch's Completed frees nothing
// more (the slot is free already).
TEST(SendAccumulatorTest, ASlotAwaitingRequeuesIsFreedByTheLastOfThem) {
  Recorder rec;
  SendAccumulator acc({/*max_in_flight=*/4, /*max_batch_messages=*/100, /*max_batch_bytes=*/1000},
                      rec.Dispatch());
  Add(acc, "T", "first");
  Add(acc, "T", "early");  // arrived during the round trip: waits, counts before the requeues
  ASSERT_EQ(rec.batches.size(), 1u);
  acc.AwaitRequeues("T", 3);
  Add(acc, "T", "r1");
  Add(acc, "T", "r2");
  EXPECT_EQ(rec.batches.size(), 1u) << "the slot waits for the third requeue";
  Add(acc, "T", "r3");
  ASSERT_EQ(rec.batches.size(), 2u) << "the last requeue frees the slot";
  EXPECT_EQ(rec.batches[1].second, (Bodies{"early", "r1", "r2", "r3"}));
  acc.Completed("T");  // the first batch's, due anyway: its slot was freed by r3
  Add(acc, "T", "next");
  EXPECT_EQ(rec.batches.size(), 2u) << "the second request is out: next waits";
  acc.Completed("T");
  ASSERT_EQ(rec.batches.size(), 3u);
  EXPECT_EQ(rec.batches[2].second, Bodies{"next"});
}

// Senders that do not come back (fewer than announced) cost no more than before: the batch's
// Completed frees the slot and sends what gathered.
TEST(SendAccumulatorTest, CompletedFreesASlotWhoseRequeuesDidNotAllCome) {
  Recorder rec;
  SendAccumulator acc({4, 100, 1000}, rec.Dispatch());
  Add(acc, "T", "first");
  acc.AwaitRequeues("T", 5);
  Add(acc, "T", "r1");
  Add(acc, "T", "r2");
  EXPECT_EQ(rec.batches.size(), 1u);
  acc.Completed("T");
  ASSERT_EQ(rec.batches.size(), 2u);
  EXPECT_EQ(rec.batches[1].second, (Bodies{"r1", "r2"}));
  acc.AwaitRequeues("U", 2);  // a topic with nothing out: no effect
  Add(acc, "U", "u");
  EXPECT_EQ(rec.batches.size(), 3u) << "an idle topic still sends at once";
}

}  // namespace
}  // namespace mq::client

namespace mq::client {
namespace {

// A message whose encoding throws (bad_alloc) joins no batch: none of its bytes stay in the
// batch it was appended to, and a batch it opened is not left behind empty.
TEST(SendAccumulatorTest, AMessageWhoseEncodingThrowsLeavesNothingBehind) {
  Recorder rec;
  SendAccumulator acc({/*max_in_flight=*/1, /*max_batch_messages=*/10, /*max_batch_bytes=*/1000},
                      rec.Dispatch());
  auto add_throwing = [&] {
    PendingSend s;
    s.body_bytes = 1;
    acc.Add("T", std::move(s), [](std::string* wire) {
      wire->append("partial");
      throw std::bad_alloc();
    });
  };
  Add(acc, "T", "a");  // in flight: the next send opens a batch to wait in
  EXPECT_THROW(add_throwing(), std::bad_alloc);
  acc.Completed("T");  // frees the slot: there must be no (empty) batch to send
  ASSERT_EQ(rec.batches.size(), 1u);
  Add(acc, "T", "b");
  Add(acc, "T", "c");
  EXPECT_THROW(add_throwing(), std::bad_alloc);  // into the open batch holding c
  acc.Completed("T");
  ASSERT_EQ(rec.batches.size(), 3u);
  EXPECT_EQ(rec.batches[1].second, Bodies{"b"});
  EXPECT_EQ(rec.batches[2].second, Bodies{"c"});
}

// A linger with a clock and a timer the test drives: what each scheduled task asked for, and
// the tasks themselves, run when the test says.
struct LingerHarness {
  SendAccumulator::Clock::time_point now{std::chrono::seconds(100)};
  std::vector<std::pair<std::chrono::microseconds, std::function<void()>>> scheduled;
  SendAccumulator::Schedule Schedule() {
    return [this](std::chrono::microseconds delay, std::function<void()> task) {
      scheduled.emplace_back(delay, std::move(task));
    };
  }
  std::function<SendAccumulator::Clock::time_point()> Now() {
    return [this] { return now; };
  }
  void RunScheduled() {
    auto tasks = std::move(scheduled);
    scheduled.clear();
    for (auto& [delay, task] : tasks) task();
  }
};

// With a linger, a batch that is not full waits until its first send is that old, even with no
// request out: the topic's timer sends it then, or a later Add that finds it old enough does.
TEST(SendAccumulatorTest, ALingeringBatchLeavesOnceItsFirstSendIsOldEnough) {
  Recorder rec;
  LingerHarness h;
  SendAccumulator acc({/*max_in_flight=*/2, /*max_batch_messages=*/3, /*max_batch_bytes=*/1000,
                       /*linger=*/std::chrono::microseconds(500)},
                      rec.Dispatch(), h.Schedule(), h.Now());
  Add(acc, "T", "a");
  EXPECT_TRUE(rec.batches.empty()) << "an idle topic's first send lingers";
  ASSERT_EQ(h.scheduled.size(), 1u);
  EXPECT_EQ(h.scheduled[0].first, std::chrono::microseconds(500));
  h.now += std::chrono::microseconds(200);
  Add(acc, "T", "b");
  EXPECT_TRUE(rec.batches.empty());
  EXPECT_EQ(h.scheduled.size(), 1u) << "one timer per topic";
  h.now += std::chrono::microseconds(300);
  h.RunScheduled();
  ASSERT_EQ(rec.batches.size(), 1u) << "the timer sends the batch once it is old enough";
  EXPECT_EQ(rec.batches[0].second, (Bodies{"a", "b"}));
  EXPECT_TRUE(h.scheduled.empty()) << "nothing waits: no timer";

  acc.Completed("T");
  Add(acc, "T", "c");
  ASSERT_EQ(h.scheduled.size(), 1u);
  h.now += std::chrono::microseconds(600);
  Add(acc, "T", "d");
  ASSERT_EQ(rec.batches.size(), 2u) << "an Add that finds the batch old enough sends it";
  EXPECT_EQ(rec.batches[1].second, (Bodies{"c", "d"}));
  h.RunScheduled();
  EXPECT_EQ(rec.batches.size(), 2u) << "the timer then finds nothing to send";
}

// The linger holds back only batches that are not full: a full one leaves at once, into a free
// slot as without a linger; and a timer that fires early for a newer batch waits again.
TEST(SendAccumulatorTest, AFullBatchDoesNotLingerAndAnEarlyTimerIsArmedAgain) {
  Recorder rec;
  LingerHarness h;
  SendAccumulator acc({/*max_in_flight=*/2, /*max_batch_messages=*/2, /*max_batch_bytes=*/1000,
                       /*linger=*/std::chrono::microseconds(1000)},
                      rec.Dispatch(), h.Schedule(), h.Now());
  Add(acc, "T", "a");
  Add(acc, "T", "b");
  ASSERT_EQ(rec.batches.size(), 1u) << "full: no linger";
  EXPECT_EQ(rec.batches[0].second, (Bodies{"a", "b"}));
  ASSERT_EQ(h.scheduled.size(), 1u) << "armed for the first send while the batch was partial";
  acc.Completed("T");
  h.now += std::chrono::microseconds(400);
  Add(acc, "T", "c");  // a new batch, due 1,000 µs from now
  h.now += std::chrono::microseconds(600);
  h.RunScheduled();  // the first timer: c has waited 600 µs of its 1,000
  EXPECT_EQ(rec.batches.size(), 1u) << "c is not old enough yet";
  ASSERT_EQ(h.scheduled.size(), 1u) << "armed again for c";
  EXPECT_EQ(h.scheduled[0].first, std::chrono::microseconds(400));
  h.now += std::chrono::microseconds(400);
  h.RunScheduled();
  ASSERT_EQ(rec.batches.size(), 2u);
  EXPECT_EQ(rec.batches[1].second, Bodies{"c"});
}

}  // namespace
}  // namespace mq::client
