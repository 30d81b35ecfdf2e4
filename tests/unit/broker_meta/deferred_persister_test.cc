#include "broker/meta/deferred_persister.h"

#include <gtest/gtest.h>

#include <atomic>

#include "testutil/wait.h"

namespace mq::broker {
namespace {

using namespace std::chrono_literals;

TEST(DeferredPersisterTest, CoalescesABurstIntoOneWrite) {
  std::atomic<int> writes{0};
  DeferredPersister p("test", 200ms, [&] {
    ++writes;
    return Status::OK();
  });
  for (int i = 0; i < 10000; ++i) p.MarkDirty();
  ASSERT_TRUE(testing::WaitUntil([&] { return writes >= 1; }, 10s));
  EXPECT_TRUE(testing::WaitUntil([&] { return !p.pending(); }, 10s));
  // The whole burst took far less than the delay, so it cannot need more than two writes.
  EXPECT_LE(writes.load(), 2);
}

TEST(DeferredPersisterTest, NothingIsWrittenWithoutAMark) {
  std::atomic<int> writes{0};
  {
    DeferredPersister p("test", 1ms, [&] {
      ++writes;
      return Status::OK();
    });
    EXPECT_FALSE(p.pending());
    EXPECT_TRUE(p.Stop().ok());
  }
  EXPECT_EQ(writes, 0);
}

TEST(DeferredPersisterTest, StopWritesPendingChangeOnTheCaller) {
  std::atomic<int> writes{0};
  DeferredPersister p("test", 60s, [&] {
    ++writes;
    return Status::IoError("disk gone");
  });
  p.MarkDirty();
  EXPECT_TRUE(p.pending());
  Status s = p.Stop();
  EXPECT_EQ(writes, 1);
  EXPECT_EQ(s.code(), StatusCode::kIoError) << "the caller learns the final write failed";
  EXPECT_TRUE(p.Stop().ok()) << "idempotent";
  p.MarkDirty();  // after Stop: written at once on this thread
  EXPECT_EQ(writes, 2);
}

TEST(DeferredPersisterTest, FlushSoonBringsAPendingWriteForward) {
  std::atomic<int> writes{0};
  DeferredPersister p("test", 60s, [&] {
    ++writes;
    return Status::OK();
  });
  p.MarkDirty();  // due in a minute
  p.FlushSoon();  // someone waits: due now
  ASSERT_TRUE(testing::WaitUntil([&] { return writes == 1; }, 10s));
  EXPECT_FALSE(p.pending());
}

TEST(DeferredPersisterTest, RetriesAFailedWrite) {
  std::atomic<int> attempts{0};
  DeferredPersister p("test", 10ms,
                      [&] { return ++attempts < 3 ? Status::IoError("transient") : Status::OK(); });
  p.MarkDirty();
  ASSERT_TRUE(testing::WaitUntil([&] { return attempts >= 3; }, 10s));
  EXPECT_TRUE(testing::WaitUntil([&] { return !p.pending(); }, 10s));
  EXPECT_EQ(attempts, 3);
}

}  // namespace
}  // namespace mq::broker
