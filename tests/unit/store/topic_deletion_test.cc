// MessageStore::DeleteTopic: a deleted topic's messages never come back, through a re-created
// topic of the same name, a restart, a rebuild of the consume queues after a crash, or a slave
// that copies the log.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "store_test_util.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::store {
namespace {

using mq::testing::WaitUntil;
using testing::Dispatched;
using testing::Msg;
using testing::PutSync;
using testing::WaitForPut;
namespace fs = std::filesystem;

PutResult DeleteSync(MessageStore& store, const std::string& topic) {
  return WaitForPut([&](PutCallback done) { store.DeleteTopic(topic, std::move(done)); });
}

std::vector<std::string> Bodies(const MessageStore& store, const std::string& topic, int32_t queue_id) {
  std::vector<std::string> out;
  for (const auto& m : store.GetMessages("g", topic, queue_id, 0, 1000, 1 << 24).messages) {
    auto view = DecodeRecord(m, true);
    EXPECT_TRUE(view.ok()) << view.status().ToString();
    if (view.ok()) out.emplace_back(view->body);
  }
  return out;
}

class TopicDeletionTest : public testing::StoreFixture {
 protected:
  // 30 old messages of "Doomed" over 3 queues and 10 of "Doomed-1" (a topic whose queue keys
  // begin like Doomed's), then Doomed deleted and re-created with one new message in queue 0.
  void DeleteAndRecreate(MessageStore& store) {
    for (int i = 0; i < 30; ++i)
      ASSERT_TRUE(PutSync(store, Msg("Doomed", i % 3, "old" + std::to_string(i))).ok());
    for (int i = 0; i < 10; ++i)
      ASSERT_TRUE(PutSync(store, Msg("Doomed-1", 0, "kept" + std::to_string(i))).ok());
    auto deleted = DeleteSync(store, "Doomed");
    ASSERT_TRUE(deleted.ok()) << deleted.error;
    ASSERT_TRUE(WaitUntil([&] { return Dispatched(store); }));
    auto put = PutSync(store, Msg("Doomed", 0, "new"));
    ASSERT_TRUE(put.ok()) << put.error;
    EXPECT_EQ(put.queue_offset, 0);
    ASSERT_TRUE(WaitUntil([&] { return Dispatched(store); }));
  }

  void ExpectOnlyTheNewMessage(MessageStore& store) {
    EXPECT_EQ(Bodies(store, "Doomed", 0), std::vector<std::string>{"new"});
    for (int q = 1; q < 3; ++q) {
      EXPECT_EQ(store.MaxOffsetInQueue("Doomed", q), 0) << q;
      EXPECT_EQ(store.GetMessages("g", "Doomed", q, 0, 10, 1 << 20).status,
                GetMessageStatus::kNoMatchedLogicQueue);
    }
    EXPECT_EQ(Bodies(store, "Doomed-1", 0).size(), 10u);
    EXPECT_FALSE(store.HasQueues(std::string(kTopicDeletionTopic)));
  }
};

TEST_F(TopicDeletionTest, ADeletedTopicIsEmptyAndARecreatedOneStartsAtZero) {
  auto store = Open();
  DeleteAndRecreate(*store);
  ExpectOnlyTheNewMessage(*store);
  EXPECT_FALSE(fs::exists(dir_.Sub("consumequeue/Doomed/1")));
  auto next = PutSync(*store, Msg("Doomed-1", 0, "kept10"));
  EXPECT_EQ(next.queue_offset, 10);  // a topic whose name starts with the deleted one's goes on
}

// Before: under ASYNC_FLUSH the marker was dispatched as soon as it was written, so the topic's
// consume queues were removed (durably) while a power cut could still take the marker: the
// restarted store held the old records with no deletion after them, and a later rebuild of the
// queues served the deleted messages again, under queue offsets new ones had taken.
TEST_F(TopicDeletionTest, AnAsyncDeletionActsOnlyOnceItsMarkerIsDurable) {
  options_.flush_disk_type = FlushDiskType::kAsyncFlush;
  options_.flush_interval_commit_log_ms = 3'600'000;  // no flush unless one is asked for
  auto store = Open();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(PutSync(*store, Msg("Doomed", 0, "old" + std::to_string(i))).ok());
  ASSERT_TRUE(WaitUntil([&] { return Dispatched(*store); }));
  ASSERT_TRUE(DeleteSync(*store, "Doomed").ok());
  const int64_t marker_end = store->MaxPhyOffset();
  ASSERT_TRUE(WaitUntil([&] { return !store->HasQueues("Doomed"); }))
      << "the deletion waits for a flush it asked for, not for the flush interval";
  EXPECT_GE(store->FlushedPhyOffset(), marker_end) << "the queues went before the marker was durable";
  EXPECT_TRUE(Bodies(*store, "Doomed", 0).empty());
}

TEST_F(TopicDeletionTest, TheDeletionHoldsAfterARestartAndAfterARebuildFromTheLog) {
  {
    auto store = Open();
    DeleteAndRecreate(*store);
    store->Shutdown();
  }
  {
    auto store = Open();
    ExpectOnlyTheNewMessage(*store);
    EXPECT_EQ(PutSync(*store, Msg("Doomed", 0, "new2")).queue_offset, 1);
    store->Shutdown();
  }
  // A crash that lost the consume queues and the checkpoint: everything is dispatched again
  // from the log's first record, the old messages included, and the marker drops them again.
  fs::remove_all(dir_.Sub("consumequeue"));
  fs::remove(dir_.Sub("checkpoint"));
  ASSERT_TRUE(WriteFileAtomically(dir_.Sub("abort"), "x").ok());
  auto store = Open();
  EXPECT_EQ(Bodies(*store, "Doomed", 0), (std::vector<std::string>{"new", "new2"}));
  EXPECT_EQ(store->MaxOffsetInQueue("Doomed", 1), 0);
  EXPECT_EQ(Bodies(*store, "Doomed-1", 0).size(), 10u);
  EXPECT_EQ(PutSync(*store, Msg("Doomed", 0, "new3")).queue_offset, 2);
}

TEST_F(TopicDeletionTest, AReplicaDropsTheTopicWhereItsMasterDid) {
  auto master = Open();
  StoreOptions slave_options = testing::SmallOptions(dir_.Sub("slave"));
  auto slave = testing::OpenStore(slave_options, &clock_);
  DeleteAndRecreate(*master);
  const int64_t end = master->MaxPhyOffset();
  for (int64_t offset = 0; offset < end;) {
    auto bytes = master->ReadReplicaBytes(offset, 4096);
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    ASSERT_TRUE(slave->ReplicaAppend(offset, *bytes).ok());
    offset += static_cast<int64_t>(bytes->size());
  }
  ASSERT_TRUE(WaitUntil([&] { return Dispatched(*slave); }));
  ExpectOnlyTheNewMessage(*slave);
}

TEST_F(TopicDeletionTest, OnlyTheStoreWritesAMarker) {
  auto store = Open();
  ASSERT_TRUE(PutSync(*store, Msg("Victim", 0, "stays")).ok());
  MessageInput forged = Msg(std::string(kTopicDeletionTopic), 0, "Victim");
  forged.sys_flag = kSysFlagTopicDeletion;
  auto refused = PutSync(*store, forged);
  EXPECT_EQ(refused.status, PutStatus::kMessageIllegal);
  EXPECT_NE(refused.error.find("sys_flag"), std::string::npos) << refused.error;
  // The marker topic's name alone deletes nothing: it is an ordinary topic then.
  ASSERT_TRUE(PutSync(*store, Msg(std::string(kTopicDeletionTopic), 0, "Victim")).ok());
  for (const std::string& bad : std::vector<std::string>{"", "..", "a/b", std::string(200, 't')}) {
    auto r = DeleteSync(*store, bad);
    EXPECT_EQ(r.status, PutStatus::kMessageIllegal) << bad;
    EXPECT_NE(r.error.find("topic"), std::string::npos) << r.error;
  }
  ASSERT_TRUE(WaitUntil([&] { return Dispatched(*store); }));
  EXPECT_EQ(Bodies(*store, "Victim", 0), std::vector<std::string>{"stays"});
}

}  // namespace
}  // namespace mq::store
