#include "send_accumulator.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace mq::client {
namespace {

PendingSend Body(const std::string& body) {
  PendingSend s;
  s.wire = body;
  s.body_bytes = static_cast<int64_t>(body.size());
  return s;
}

// Records every dispatched batch as its bodies.
struct Recorder {
  std::vector<std::pair<std::string, std::vector<std::string>>> batches;
  SendAccumulator::Dispatch Dispatch() {
    return [this](const std::string& topic, std::vector<PendingSend> batch) {
      std::vector<std::string> bodies;
      for (const auto& s : batch) bodies.push_back(s.wire);
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
  acc.Add("T", Body("a"));
  ASSERT_EQ(rec.batches.size(), 1u) << "an idle topic sends at once";
  EXPECT_EQ(rec.batches[0].second, Bodies{"a"});
  acc.Add("T", Body("b"));
  acc.Add("T", Body("c"));
  EXPECT_EQ(rec.batches.size(), 1u) << "a batch that is not full waits for the request out";
  acc.Add("T", Body("d"));
  ASSERT_EQ(rec.batches.size(), 2u) << "a full batch takes the second slot";
  EXPECT_EQ(rec.batches[1].second, (Bodies{"b", "c", "d"}));
  for (const char* b : {"e", "f", "g", "h"}) acc.Add("T", Body(b));
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
  acc.Add("T", Body("i"));
  ASSERT_EQ(rec.batches.size(), 5u);
  EXPECT_EQ(rec.batches[4].second, Bodies{"i"});
}

TEST(SendAccumulatorTest, BatchesCloseAtMaxBytesAndAnOversizeMessageTravelsAlone) {
  Recorder rec;
  SendAccumulator acc({1, 100, 10}, rec.Dispatch());
  acc.Add("T", Body("first"));
  acc.Add("T", Body("1234"));
  acc.Add("T", Body("5678"));
  acc.Add("T", Body("90"));            // 4 + 4 + 2 = 10 bytes: still fits
  acc.Add("T", Body("x"));             // 11: a new batch
  acc.Add("T", Body("twelve bytes"));  // above the limit: its own batch
  acc.Add("T", Body("y"));
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
  acc.Add("A", Body("a1"));
  acc.Add("B", Body("b1"));
  acc.Add("A", Body("a2"));
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
  SendAccumulator acc({1, 10, 1000}, [&](const std::string& topic, std::vector<PendingSend>) {
    if (++dispatched == 1) self->Add(topic, Body("from inside"));
  });
  self = &acc;
  acc.Add("T", Body("outside"));
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
  acc.Add("T", Body("a"));
  acc.Add("T", Body("b"));
  ASSERT_EQ(rec.batches.size(), 1u) << "one broker known: one request out";
  acc.SetBrokers("T", 2);
  acc.SetBrokers("U", 0);  // clamped to one
  acc.Add("T", Body("c"));
  ASSERT_EQ(rec.batches.size(), 2u) << "the second broker's slot takes the waiting batch";
  EXPECT_EQ(rec.batches[1].second, (Bodies{"b", "c"}));
  acc.Add("T", Body("d"));
  EXPECT_EQ(rec.batches.size(), 2u) << "a request out per broker: d waits";
  acc.Completed("T");
  ASSERT_EQ(rec.batches.size(), 3u);
  EXPECT_EQ(rec.batches[2].second, Bodies{"d"});
  acc.Add("U", Body("u1"));
  acc.Add("U", Body("u2"));
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
  acc.Add("T", Body("first"));
  acc.Add("T", Body("early"));  // arrived during the round trip: waits, counts before the requeues
  ASSERT_EQ(rec.batches.size(), 1u);
  acc.AwaitRequeues("T", 3);
  acc.Add("T", Body("r1"));
  acc.Add("T", Body("r2"));
  EXPECT_EQ(rec.batches.size(), 1u) << "the slot waits for the third requeue";
  acc.Add("T", Body("r3"));
  ASSERT_EQ(rec.batches.size(), 2u) << "the last requeue frees the slot";
  EXPECT_EQ(rec.batches[1].second, (Bodies{"early", "r1", "r2", "r3"}));
  acc.Completed("T");  // the first batch's, due anyway: its slot was freed by r3
  acc.Add("T", Body("next"));
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
  acc.Add("T", Body("first"));
  acc.AwaitRequeues("T", 5);
  acc.Add("T", Body("r1"));
  acc.Add("T", Body("r2"));
  EXPECT_EQ(rec.batches.size(), 1u);
  acc.Completed("T");
  ASSERT_EQ(rec.batches.size(), 2u);
  EXPECT_EQ(rec.batches[1].second, (Bodies{"r1", "r2"}));
  acc.AwaitRequeues("U", 2);  // a topic with nothing out: no effect
  acc.Add("U", Body("u"));
  EXPECT_EQ(rec.batches.size(), 3u) << "an idle topic still sends at once";
}

}  // namespace
}  // namespace mq::client
