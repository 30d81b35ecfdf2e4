// ProcessQueue's message table: a listener call borrows the cached messages (moved, not copied)
// while their offsets and bytes stay counted until they are consumed or handed back.
#include <gtest/gtest.h>

#include "push_consumer_impl.h"

namespace mq::client {
namespace {

ReceivedMessage Pulled(int64_t offset, std::string body) {
  ReceivedMessage m;
  m.message = MakeMessage("T", std::move(body));
  m.msg_id = "id-" + std::to_string(offset);
  m.queue_offset = offset;
  return m;
}

void Put(ProcessQueue& pq, ReceivedMessage m) {
  ProcessQueue::Table arrived;
  const int64_t offset = m.queue_offset;
  arrived[offset].message = std::move(m);
  pq.PutLocked(arrived);
}

TEST(ProcessQueueTest, LentMessagesStayCountedAndAreLentOnce) {
  ProcessQueue pq;
  pq.next_offset = 12;
  Put(pq, Pulled(10, std::string(100, 'a')));
  Put(pq, Pulled(11, std::string(50, 'b')));
  ASSERT_EQ(pq.cached_bytes, 150);

  std::vector<ReceivedMessage> batch;
  ASSERT_TRUE(pq.LendLocked(pq.msgs.find(10), &batch));
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].message.body, std::string(100, 'a'));
  EXPECT_EQ(batch[0].msg_id, "id-10");
  // Still cached: the commit offset may not pass it and its bytes still hold back pulls.
  EXPECT_EQ(pq.msgs.size(), 2u);
  EXPECT_EQ(pq.cached_bytes, 150);
  EXPECT_EQ(pq.CommitOffsetLocked(), 10);
  // A second call (the same offset handed out twice) gets nothing while the first has it.
  EXPECT_FALSE(pq.LendLocked(pq.msgs.find(10), &batch));
  EXPECT_EQ(batch.size(), 1u);

  pq.EraseLocked(pq.msgs.find(10));
  EXPECT_EQ(pq.cached_bytes, 50);
  EXPECT_EQ(pq.CommitOffsetLocked(), 11);
}

TEST(ProcessQueueTest, AReturnedMessageCanBeLentAgainWhole) {
  ProcessQueue pq;
  Put(pq, Pulled(7, "body"));
  std::vector<ReceivedMessage> batch;
  ASSERT_TRUE(pq.LendLocked(pq.msgs.find(7), &batch));
  batch[0].reconsume_times = 1;
  pq.ReturnLocked(pq.msgs.find(7), std::move(batch[0]));
  EXPECT_EQ(pq.cached_bytes, 4);

  std::vector<ReceivedMessage> again;
  ASSERT_TRUE(pq.LendLocked(pq.msgs.find(7), &again));
  EXPECT_EQ(again[0].message.body, "body");
  EXPECT_EQ(again[0].msg_id, "id-7");
  EXPECT_EQ(again[0].reconsume_times, 1);
  pq.EraseLocked(pq.msgs.find(7));
  EXPECT_EQ(pq.cached_bytes, 0);
  EXPECT_TRUE(pq.msgs.empty());
}

// Settling erases the consumed messages from the table, but does not destroy them where it runs
// (a consume thread): they wait, whole, for the thread of the queue's next pull reply, which
// decoded them (TakeSettledLocked). The others go back for another try.
TEST(ProcessQueueTest, SettlingABatchKeepsTheConsumedForThePullThreadAndReturnsTheRest) {
  ProcessQueue pq;
  pq.next_offset = 3;
  Put(pq, Pulled(1, "one"));
  Put(pq, Pulled(2, "two"));
  std::vector<ReceivedMessage> batch;
  ASSERT_TRUE(pq.LendLocked(pq.msgs.find(1), &batch));
  ASSERT_TRUE(pq.LendLocked(pq.msgs.find(2), &batch));
  pq.SettleLocked(batch, [](int64_t offset) { return offset == 2; });
  batch.clear();                  // what the consume thread still holds: husks, both messages moved out
  ASSERT_EQ(pq.msgs.size(), 1u);  // 2 consumed
  EXPECT_EQ(pq.cached_bytes, 3);
  EXPECT_EQ(pq.CommitOffsetLocked(), 1);

  ProcessQueue::Settled settled = pq.TakeSettledLocked();
  ASSERT_EQ(settled.entries.size(), 1u);
  EXPECT_EQ(settled.entries[0].key(), 2);
  EXPECT_EQ(settled.entries[0].mapped().message.message.body, "two");
  EXPECT_EQ(settled.entries[0].mapped().message.msg_id, "id-2");
  EXPECT_TRUE(pq.TakeSettledLocked().entries.empty());  // taken once

  std::vector<ReceivedMessage> again;
  ASSERT_TRUE(pq.LendLocked(pq.msgs.find(1), &again));
  EXPECT_EQ(again[0].message.body, "one");
  EXPECT_EQ(again[0].reconsume_times, 1);
}

// The next pull reply decodes into the consumed messages' entries: each comes keyed by its new
// offset, not lent, holding a consumed message for the decoder to overwrite, until none is left.
TEST(ProcessQueueTest, SettledEntriesAreReusedForNewOffsetsWithTheirMessages) {
  ProcessQueue pq;
  Put(pq, Pulled(1, "one"));
  Put(pq, Pulled(2, "two"));
  std::vector<ReceivedMessage> batch;
  ASSERT_TRUE(pq.LendLocked(pq.msgs.find(1), &batch));
  ASSERT_TRUE(pq.LendLocked(pq.msgs.find(2), &batch));
  pq.SettleLocked(batch, [](int64_t) { return true; });
  ProcessQueue::Settled settled = pq.TakeSettledLocked();

  ProcessQueue::Table arrived;
  for (int64_t offset : {7, 8}) {
    ProcessQueue::Table::node_type node = settled.Reuse(offset);
    ASSERT_FALSE(node.empty());
    EXPECT_EQ(node.key(), offset);
    EXPECT_FALSE(node.mapped().lent);
    EXPECT_FALSE(node.mapped().message.msg_id.empty());  // a consumed message, not a husk
    node.mapped().message = Pulled(offset, "new");
    ASSERT_TRUE(arrived.insert(std::move(node)).inserted);
  }
  EXPECT_TRUE(settled.Reuse(9).empty());
  pq.PutLocked(arrived);
  EXPECT_EQ(pq.cached_bytes, 6);
  ASSERT_TRUE(pq.LendLocked(pq.msgs.find(7), &batch));
  EXPECT_EQ(batch.back().msg_id, "id-7");
}

TEST(ProcessQueueTest, PutKeepsTheCachedEntryOfAnOffsetAndCountsItsBytesOnce) {
  ProcessQueue pq;
  Put(pq, Pulled(5, "cached"));
  ProcessQueue::Table arrived;
  arrived[5].message = Pulled(5, "again");
  arrived[6].message = Pulled(6, "new");
  pq.PutLocked(arrived);
  ASSERT_EQ(pq.msgs.size(), 2u);
  EXPECT_EQ(pq.msgs.at(5).message.message.body, "cached");
  EXPECT_EQ(pq.cached_bytes, 6 + 3);
  ASSERT_EQ(arrived.size(), 1u);  // the newcomer for offset 5, not cached
  EXPECT_EQ(arrived.begin()->second.message.message.body, "again");
}

TEST(ProcessQueueTest, SpareEntriesAreKeptUpToACountAndBodyBytes) {
  // Five consumed entries of 100-byte bodies, as a reply that needed none of them leaves them.
  ProcessQueue pq;
  for (int64_t offset = 1; offset <= 5; ++offset) Put(pq, Pulled(offset, std::string(100, 'x')));
  std::vector<ReceivedMessage> batch;
  for (int64_t offset = 1; offset <= 5; ++offset) ASSERT_TRUE(pq.LendLocked(pq.msgs.find(offset), &batch));
  pq.SettleLocked(batch, [](int64_t) { return true; });
  ProcessQueue::Settled spare = pq.TakeSettledLocked();
  ASSERT_EQ(spare.entries.size(), 5u);
  const auto body_capacity = static_cast<int64_t>(spare.entries[0].mapped().message.message.body.capacity());

  // At most 3 waiting in all, one of them settled meanwhile: two more are kept.
  Put(pq, Pulled(6, "six"));
  batch.clear();
  ASSERT_TRUE(pq.LendLocked(pq.msgs.find(6), &batch));
  pq.SettleLocked(batch, [](int64_t) { return true; });
  pq.KeepSpareLocked(spare, 3, 1 << 20);
  EXPECT_EQ(pq.settled.entries.size(), 3u);
  EXPECT_EQ(spare.entries.size(), 3u);

  // The byte limit: only as many as fit in it.
  ProcessQueue other;
  other.KeepSpareLocked(spare, 100, 2 * body_capacity);
  EXPECT_EQ(other.settled.entries.size(), 2u);
  EXPECT_EQ(spare.entries.size(), 1u);
  ASSERT_FALSE(other.settled.entries.empty());
  EXPECT_FALSE(other.settled.entries[0].mapped().message.msg_id.empty());  // kept whole
}

}  // namespace
}  // namespace mq::client
