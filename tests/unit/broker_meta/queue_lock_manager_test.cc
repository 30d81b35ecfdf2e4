#include "broker/meta/queue_lock_manager.h"

#include <gtest/gtest.h>

namespace mq::broker {
namespace {

mq::v1::QueueRef Q(const std::string& topic, int32_t id) {
  mq::v1::QueueRef ref;
  ref.set_topic(topic);
  ref.set_queue_id(id);
  return ref;
}

std::vector<int32_t> Ids(const std::vector<mq::v1::QueueRef>& queues) {
  std::vector<int32_t> out;
  for (const auto& q : queues) out.push_back(q.queue_id());
  return out;
}

class QueueLockManagerTest : public ::testing::Test {
 protected:
  ManualClock clock_;  // the steady clock the TTL runs on
  QueueLockManager locks_{60'000, &clock_};
};

TEST_F(QueueLockManagerTest, LocksFreeQueuesAndRefusesOthers) {
  EXPECT_EQ(Ids(locks_.TryLockBatch("G", "c1", {Q("T", 0), Q("T", 1)})), (std::vector<int32_t>{0, 1}));
  EXPECT_TRUE(locks_.IsLocked("G", "T", 0, "c1"));
  EXPECT_FALSE(locks_.IsLocked("G", "T", 0, "c2"));
  EXPECT_EQ(Ids(locks_.TryLockBatch("G", "c2", {Q("T", 1), Q("T", 2)})), (std::vector<int32_t>{2}));
  EXPECT_TRUE(locks_.IsLocked("G", "T", 1, "c1"));
  // Another group has its own locks.
  EXPECT_EQ(Ids(locks_.TryLockBatch("G2", "c2", {Q("T", 0)})), (std::vector<int32_t>{0}));
  // Topics are distinct.
  EXPECT_EQ(Ids(locks_.TryLockBatch("G", "c2", {Q("U", 0)})), (std::vector<int32_t>{0}));
}

TEST_F(QueueLockManagerTest, TakeoverAfterTtl) {
  locks_.TryLockBatch("G", "c1", {Q("T", 0)});
  clock_.Advance(60'000);
  EXPECT_TRUE(locks_.TryLockBatch("G", "c2", {Q("T", 0)}).empty()) << "exactly at the TTL: still held";
  clock_.Advance(1);
  EXPECT_FALSE(locks_.IsLocked("G", "T", 0, "c1")) << "expired";
  EXPECT_EQ(locks_.TryLockBatch("G", "c2", {Q("T", 0)}).size(), 1u);
  EXPECT_TRUE(locks_.IsLocked("G", "T", 0, "c2"));
  EXPECT_TRUE(locks_.TryLockBatch("G", "c1", {Q("T", 0)}).empty());
}

TEST_F(QueueLockManagerTest, RelockByOwnerRefreshes) {
  locks_.TryLockBatch("G", "c1", {Q("T", 0)});
  clock_.Advance(50'000);
  EXPECT_EQ(locks_.TryLockBatch("G", "c1", {Q("T", 0)}).size(), 1u);
  clock_.Advance(50'000);  // 100 s after the first lock, 50 s after the refresh
  EXPECT_TRUE(locks_.IsLocked("G", "T", 0, "c1"));
  EXPECT_TRUE(locks_.TryLockBatch("G", "c2", {Q("T", 0)}).empty());
}

TEST_F(QueueLockManagerTest, UnlockByNonOwnerIsIgnored) {
  locks_.TryLockBatch("G", "c1", {Q("T", 0), Q("T", 1)});
  locks_.UnlockBatch("G", "c2", {Q("T", 0)});
  EXPECT_TRUE(locks_.IsLocked("G", "T", 0, "c1"));
  locks_.UnlockBatch("G", "c1", {Q("T", 0)});
  EXPECT_FALSE(locks_.IsLocked("G", "T", 0, "c1"));
  EXPECT_TRUE(locks_.IsLocked("G", "T", 1, "c1"));
  EXPECT_EQ(locks_.TryLockBatch("G", "c2", {Q("T", 0)}).size(), 1u);
  locks_.UnlockBatch("unknown", "c1", {Q("T", 0)});  // no-op
}

TEST_F(QueueLockManagerTest, DuplicatesInRequestAreReportedOnce) {
  EXPECT_EQ(Ids(locks_.TryLockBatch("G", "c1", {Q("T", 3), Q("T", 3), Q("T", 1)})),
            (std::vector<int32_t>{3, 1}));
}

TEST_F(QueueLockManagerTest, UnlockAllReleasesEveryGroup) {
  locks_.TryLockBatch("G1", "c1", {Q("T", 0)});
  locks_.TryLockBatch("G2", "c1", {Q("T", 0)});
  locks_.TryLockBatch("G2", "c2", {Q("T", 1)});
  locks_.UnlockAll("c1");
  EXPECT_FALSE(locks_.IsLocked("G1", "T", 0, "c1"));
  EXPECT_FALSE(locks_.IsLocked("G2", "T", 0, "c1"));
  EXPECT_TRUE(locks_.IsLocked("G2", "T", 1, "c2"));
}

}  // namespace
}  // namespace mq::broker
