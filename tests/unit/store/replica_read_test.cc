// MessageStore::ReadReplicaBytes (master side of replication) feeding ReplicaAppend of a
// second store, across segment rolls.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "store_test_util.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::store {
namespace {

using mq::testing::TempDir;
using testing::Msg;
using testing::PutSync;
using testing::SmallOptions;

TEST(ReplicaReadTest, CopiesTheLogChunkBySegmentIntoAReplica) {
  TempDir dir;
  MessageStore master(SmallOptions(dir.Sub("master")));
  MessageStore slave(SmallOptions(dir.Sub("slave")));
  ASSERT_TRUE(master.Start().ok());
  ASSERT_TRUE(slave.Start().ok());
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(PutSync(master, Msg("T", i % 2, std::string(900, static_cast<char>('a' + i % 26)))).ok());
  }
  const int64_t end = master.MaxPhyOffset();
  ASSERT_GT(end, 2 * 64 * 1024);  // several segments

  int64_t offset = 0;
  int chunks = 0;
  while (offset < end) {
    auto bytes = master.ReadReplicaBytes(offset, 10000);
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    ASSERT_FALSE(bytes->empty());
    ASSERT_LE(bytes->size(), 10000u);
    // Never crosses a segment boundary.
    EXPECT_EQ(offset / (64 * 1024), (offset + static_cast<int64_t>(bytes->size()) - 1) / (64 * 1024));
    ASSERT_TRUE(slave.ReplicaAppend(offset, *bytes).ok());
    offset += static_cast<int64_t>(bytes->size());
    ++chunks;
  }
  EXPECT_GT(chunks, 20);
  EXPECT_EQ(slave.MaxPhyOffset(), end);
  auto at_end = master.ReadReplicaBytes(end, 10000);
  ASSERT_TRUE(at_end.ok());
  EXPECT_TRUE(at_end->empty());
  EXPECT_TRUE(master.ReadReplicaBytes(end + 1, 10).status().IsInvalidArgument());
  // Whole records only: a tiny max_bytes still returns the first record, and a chunk never
  // ends inside a record (the dispatcher of the replica above never saw a torn one).
  auto one = master.ReadReplicaBytes(0, 1);
  ASSERT_TRUE(one.ok());
  EXPECT_GT(one->size(), 900u);
  EXPECT_LT(one->size(), 2000u);
  EXPECT_FALSE(master.ReadReplicaBytes(3, 100).ok());  // not a record boundary

  // Both stores build their consume queues asynchronously: the master's is compared too.
  ASSERT_TRUE(mq::testing::WaitUntil(
      [&] { return slave.DispatchedPhyOffset() == end && master.DispatchedPhyOffset() == end; }));
  for (int q = 0; q < 2; ++q) {
    auto want = master.GetMessages("g", "T", q, 0, 1000, 1 << 24);
    auto got = slave.GetMessages("g", "T", q, 0, 1000, 1 << 24);
    ASSERT_EQ(got.messages.size(), 100u);
    EXPECT_EQ(got.messages, want.messages);
    EXPECT_EQ(got.queue_offsets, want.queue_offsets);
  }
  slave.Shutdown();
  master.Shutdown();
}

}  // namespace
}  // namespace mq::store
