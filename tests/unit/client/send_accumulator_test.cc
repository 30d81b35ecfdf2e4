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

TEST(SendAccumulatorTest, SendsGoOutAloneWhileASlotIsFreeThenGatherUntilOneCompletes) {
  Recorder rec;
  SendAccumulator acc({/*max_in_flight=*/2, /*max_batch_messages=*/3, /*max_batch_bytes=*/1000},
                      rec.Dispatch());
  acc.Add("T", Body("a"));
  acc.Add("T", Body("b"));
  ASSERT_EQ(rec.batches.size(), 2u);
  EXPECT_EQ(rec.batches[0].second, Bodies{"a"});
  EXPECT_EQ(rec.batches[1].second, Bodies{"b"});
  for (const char* b : {"c", "d", "e", "f", "g"}) acc.Add("T", Body(b));
  EXPECT_EQ(rec.batches.size(), 2u) << "both slots are taken: nothing leaves";
  acc.Completed("T");
  ASSERT_EQ(rec.batches.size(), 3u);
  EXPECT_EQ(rec.batches[2].second, (Bodies{"c", "d", "e"})) << "a batch closes at max_batch_messages";
  acc.Completed("T");
  ASSERT_EQ(rec.batches.size(), 4u);
  EXPECT_EQ(rec.batches[3].second, (Bodies{"f", "g"}));
  acc.Completed("T");
  acc.Completed("T");
  EXPECT_EQ(rec.batches.size(), 4u);
  // Every slot is free again: the next send leaves at once.
  acc.Add("T", Body("h"));
  ASSERT_EQ(rec.batches.size(), 5u);
  EXPECT_EQ(rec.batches[4].second, Bodies{"h"});
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

// max_in_flight counts per broker: a topic on two brokers keeps two requests out, one on a
// single broker one; a topic whose brokers are not known yet counts as one broker.
TEST(SendAccumulatorTest, EachBrokerOfATopicGetsItsOwnRequestsInFlight) {
  Recorder rec;
  SendAccumulator acc({/*max_in_flight=*/1, /*max_batch_messages=*/100, /*max_batch_bytes=*/1000},
                      rec.Dispatch());
  acc.Add("T", Body("a"));
  acc.Add("T", Body("b"));
  ASSERT_EQ(rec.batches.size(), 1u) << "one broker known: one request out";
  acc.SetBrokers("T", 2);
  acc.SetBrokers("U", 0);  // clamped to one
  acc.Add("T", Body("c"));
  ASSERT_EQ(rec.batches.size(), 1u) << "b already waits: c joins its batch, in order";
  acc.Completed("T");
  ASSERT_EQ(rec.batches.size(), 2u);
  EXPECT_EQ(rec.batches[1].second, (Bodies{"b", "c"}));
  acc.Add("T", Body("d"));
  ASSERT_EQ(rec.batches.size(), 3u) << "two brokers: a second request goes out at once";
  EXPECT_EQ(rec.batches[2].second, Bodies{"d"});
  acc.Add("T", Body("e"));
  EXPECT_EQ(rec.batches.size(), 3u) << "both brokers' slots are taken";
  acc.Add("U", Body("u1"));
  acc.Add("U", Body("u2"));
  ASSERT_EQ(rec.batches.size(), 4u) << "U has one broker: one request out";
  EXPECT_EQ(rec.batches[3].first, "U");
}

}  // namespace
}  // namespace mq::client
