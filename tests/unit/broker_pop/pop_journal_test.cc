// The pop journal codec (round trip, damaged records refused) and the replay property the
// snapshot relies on: re-applying records the state already holds changes nothing.
#include "broker/pop/pop_journal.h"

#include <gtest/gtest.h>

namespace mq::broker::pop {
namespace {

JournalEntry Make(JournalType type, int64_t offset, int64_t epoch) {
  JournalEntry e;
  e.type = type;
  e.key = QueueKey{"g", "T", 1};
  e.offset = offset;
  e.epoch = epoch;
  e.deadline_ms = 1000 + epoch;
  e.attempt = 1;
  e.commit_log_offset = 100 * offset;
  e.first_pop_ms = 7;
  return e;
}

TEST(PopJournalTest, RoundTripsAndRefusesDamage) {
  std::vector<JournalEntry> in = {Make(JournalType::kPop, 3, 10), Make(JournalType::kAck, 3, 10)};
  in[0].auto_renew = true;
  in[0].client_id = "client@1";
  const std::string body = EncodeJournal(in);
  auto out = DecodeJournal(body);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ((*out)[0].client_id, "client@1");
  EXPECT_TRUE((*out)[0].auto_renew);
  EXPECT_EQ((*out)[1].type, JournalType::kAck);
  EXPECT_EQ((*out)[1].key.topic, "T");
  for (size_t cut = 0; cut < body.size(); ++cut) {
    EXPECT_FALSE(DecodeJournal(body.substr(0, cut)).ok()) << cut;
  }
  std::string bad_type = body;
  bad_type[6] = 'X';
  EXPECT_FALSE(DecodeJournal(bad_type).ok());
  EXPECT_FALSE(DecodeJournal(body + "x").ok());
}

TEST(PopJournalTest, ReplayingAPrefixAgainIsHarmless) {
  std::vector<JournalEntry> log;
  JournalEntry advance = Make(JournalType::kAdvance, 0, 0);
  log.push_back(advance);
  for (int64_t o = 0; o < 4; ++o) log.push_back(Make(JournalType::kPop, o, 10 + o));
  log.push_back(Make(JournalType::kAck, 0, 10));
  JournalEntry change = Make(JournalType::kChange, 1, 11);
  change.new_epoch = 20;
  change.deadline_ms = 5000;
  log.push_back(change);
  JournalEntry redeliver = Make(JournalType::kPop, 2, 21);
  redeliver.attempt = 2;
  log.push_back(redeliver);
  log.push_back(Make(JournalType::kAck, 2, 12));  // stale: ignored
  log.push_back(Make(JournalType::kAck, 3, 13));

  PopStateTable once;
  for (const auto& e : log) ApplyJournalEntry(e, 0, &once);
  const QueueKey key{"g", "T", 1};
  EXPECT_EQ(once.LowWater(key), 1);
  EXPECT_EQ(once.InFlightCount(), 2u);
  ASSERT_NE(once.FindDelivery(key, 1, 20), nullptr);
  ASSERT_NE(once.FindDelivery(key, 2, 21), nullptr);
  EXPECT_EQ(once.FindDelivery(key, 2, 21)->attempt, 2);
  for (size_t from = 0; from < log.size(); ++from) {
    PopStateTable twice;
    mq::v1::PopStateSnapshot snapshot;
    once.ToProto(&snapshot);
    twice.FromProto(snapshot);
    for (size_t i = from; i < log.size(); ++i) ApplyJournalEntry(log[i], /*settled_epoch=*/21, &twice);
    mq::v1::PopStateSnapshot a, b;
    once.ToProto(&a);
    twice.ToProto(&b);
    EXPECT_EQ(a.SerializeAsString(), b.SerializeAsString()) << "replay from " << from;
  }
}

// Two pops of one queue store their records concurrently, so the later pop's record can come
// first. Replayed in that order after a kill -9, the earlier pop's deliveries are below
// next_offset with no entry; they are in flight, not done, and must come back.
TEST(PopJournalTest, RecordsOfConcurrentPopsReplayInEitherOrder) {
  std::vector<JournalEntry> first = {Make(JournalType::kAdvance, 0, 0)};
  for (int64_t o = 0; o < 5; ++o) first.push_back(Make(JournalType::kPop, o, 10 + o));
  std::vector<JournalEntry> second;
  for (int64_t o = 5; o < 10; ++o) second.push_back(Make(JournalType::kPop, o, 20 + o));
  second.push_back(Make(JournalType::kAdvance, 10, 0));
  const QueueKey key{"g", "T", 1};
  for (bool swapped : {false, true}) {
    PopStateTable table;
    for (const auto* record : {swapped ? &second : &first, swapped ? &first : &second}) {
      for (const auto& e : *record) ApplyJournalEntry(e, /*settled_epoch=*/5, &table);
    }
    EXPECT_EQ(table.LowWater(key), 0) << "swapped " << swapped;
    EXPECT_EQ(table.InFlightCount(), 10u) << "swapped " << swapped;
    ASSERT_NE(table.FindDelivery(key, 0, 10), nullptr) << "swapped " << swapped;
  }
  // A delivery the snapshot already settled (acked and trimmed) stays done when replayed again.
  PopStateTable table;
  table.ApplyAdvance(key, 10);
  ApplyJournalEntry(Make(JournalType::kPop, 3, 13), /*settled_epoch=*/29, &table);
  EXPECT_EQ(table.InFlightCount(), 0u);
}

}  // namespace
}  // namespace mq::broker::pop
