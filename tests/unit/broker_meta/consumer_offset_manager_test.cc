#include "broker/meta/consumer_offset_manager.h"

#include <gtest/gtest.h>

#include <memory>

#include "test_files.h"
#include "testutil/temp_dir.h"

namespace mq::broker {
namespace {

using testing::Overwrite;
using testing::ReadOrDie;

class ConsumerOffsetManagerTest : public ::testing::Test {
 protected:
  std::unique_ptr<ConsumerOffsetManager> Open() {
    auto manager = std::make_unique<ConsumerOffsetManager>(config_dir_);
    Status s = manager->Load();
    EXPECT_TRUE(s.ok()) << s.ToString();
    return manager;
  }
  std::string path() const { return config_dir_ + "/consumerOffset.json"; }

  mq::testing::TempDir dir_;
  std::string config_dir_ = dir_.Sub("config");
};

TEST_F(ConsumerOffsetManagerTest, CommitQueryAndRestart) {
  {
    auto m = Open();
    EXPECT_FALSE(m->Query("G", "T", 0));
    EXPECT_TRUE(m->Commit("G", "T", 0, 10));
    EXPECT_TRUE(m->Commit("G", "T", 1, 20));
    EXPECT_TRUE(m->Commit("G", "T", 0, 5));  // stored as given, even when lower
    EXPECT_EQ(m->Query("G", "T", 0), 5);
    EXPECT_EQ(m->QueryAll("G", "T"), (std::map<int32_t, int64_t>{{0, 5}, {1, 20}}));
    ASSERT_TRUE(m->Persist().ok());
  }
  EXPECT_NE(ReadOrDie(path()).find("\"T@G\""), std::string::npos) << "RocketMQ key format";
  auto m = Open();
  EXPECT_EQ(m->Query("G", "T", 0), 5);
  EXPECT_EQ(m->Query("G", "T", 1), 20);
  EXPECT_FALSE(m->dirty());
}

TEST_F(ConsumerOffsetManagerTest, PersistOnlyWritesWhenDirty) {
  auto m = Open();
  EXPECT_FALSE(m->dirty());
  ASSERT_TRUE(m->Persist().ok());
  EXPECT_FALSE(ReadFileToString(path()).ok()) << "nothing to write yet";
  EXPECT_TRUE(m->Commit("G", "T", 0, 1));
  EXPECT_TRUE(m->dirty());
  ASSERT_TRUE(m->Persist().ok());
  EXPECT_FALSE(m->dirty());
  // A hand-made marker shows whether the next Persist() rewrites the file.
  Overwrite(path(), R"({"offset_table": {"T@G": {"offsets": {"0": "99"}}}})");
  EXPECT_TRUE(m->Commit("G", "T", 0, 1));  // same value: not a change
  ASSERT_TRUE(m->Persist().ok());
  EXPECT_NE(ReadOrDie(path()).find("99"), std::string::npos);
  EXPECT_TRUE(m->Commit("G", "T", 0, 2));
  ASSERT_TRUE(m->Persist().ok());
  EXPECT_EQ(ReadOrDie(path()).find("99"), std::string::npos);
}

TEST_F(ConsumerOffsetManagerTest, TopicsAndGroupsAndRemoval) {
  auto m = Open();
  EXPECT_TRUE(m->Commit("G1", "T1", 0, 1));
  EXPECT_TRUE(m->Commit("G1", "T2", 0, 1));
  EXPECT_TRUE(m->Commit("G2", "T1", 0, 1));
  EXPECT_EQ(m->TopicsOfGroup("G1"), (std::vector<std::string>{"T1", "T2"}));
  EXPECT_EQ(m->GroupsOfTopic("T1"), (std::vector<std::string>{"G1", "G2"}));
  EXPECT_TRUE(m->TopicsOfGroup("nobody").empty());

  ASSERT_TRUE(m->Persist().ok());
  m->RemoveGroup("G1");
  EXPECT_TRUE(m->dirty());
  EXPECT_TRUE(m->TopicsOfGroup("G1").empty());
  EXPECT_EQ(m->GroupsOfTopic("T1"), (std::vector<std::string>{"G2"}));
  m->RemoveTopic("T1");
  EXPECT_TRUE(m->GroupsOfTopic("T1").empty());
  ASSERT_TRUE(m->Persist().ok());
  EXPECT_EQ(Open()->Snapshot().offset_table_size(), 0);
}

TEST_F(ConsumerOffsetManagerTest, ResetIsPendingUntilTakenAndBlocksStaleCommits) {
  auto m = Open();
  EXPECT_TRUE(m->Commit("G", "T", 0, 100));
  EXPECT_TRUE(m->Commit("G", "T", 1, 200));
  m->ResetOffsets("G", "T", {{0, 10}, {1, 20}});
  EXPECT_EQ(m->Query("G", "T", 0), 10);

  // The consumer has not seen the reset yet: its periodic commit must not undo it.
  EXPECT_FALSE(m->Commit("G", "T", 0, 101));
  EXPECT_EQ(m->Query("G", "T", 0), 10);

  // The pull processor answers OFFSET_RESET once per queue.
  EXPECT_EQ(m->TakePendingReset("G", "T", 0), 10);
  EXPECT_FALSE(m->TakePendingReset("G", "T", 0));
  EXPECT_TRUE(m->Commit("G", "T", 0, 11));
  EXPECT_EQ(m->Query("G", "T", 0), 11);

  // Queue 1 is still pending; other groups are unaffected.
  EXPECT_FALSE(m->Commit("G", "T", 1, 201));
  EXPECT_EQ(m->Query("G", "T", 1), 20);
  EXPECT_TRUE(m->Commit("Other", "T", 1, 5));
  EXPECT_FALSE(m->TakePendingReset("Other", "T", 1));
  EXPECT_EQ(m->TakePendingReset("G", "T", 1), 20);
}

TEST_F(ConsumerOffsetManagerTest, ResetIsPersistedButPendingStateIsNot) {
  {
    auto m = Open();
    EXPECT_TRUE(m->Commit("G", "T", 0, 100));
    m->ResetOffsets("G", "T", {{0, 7}});
    ASSERT_TRUE(m->Persist().ok());
  }
  auto m = Open();
  EXPECT_EQ(m->Query("G", "T", 0), 7);
  EXPECT_FALSE(m->TakePendingReset("G", "T", 0));
}

TEST_F(ConsumerOffsetManagerTest, RemoveGroupClearsPendingResets) {
  auto m = Open();
  m->ResetOffsets("G", "T", {{0, 7}});
  m->RemoveGroup("G");
  EXPECT_FALSE(m->TakePendingReset("G", "T", 0));
  EXPECT_TRUE(m->Commit("G", "T", 0, 1));
}

TEST_F(ConsumerOffsetManagerTest, SnapshotAndMergeTakeIncomingValues) {
  auto master = Open();
  EXPECT_TRUE(master->Commit("G", "T", 0, 50));
  EXPECT_TRUE(master->Commit("G", "T", 1, 60));

  mq::testing::TempDir slave_dir;
  ConsumerOffsetManager slave(slave_dir.Sub("config"));
  ASSERT_TRUE(slave.Load().ok());
  EXPECT_TRUE(slave.Commit("G", "T", 0, 500));  // higher, but the master's value wins
  EXPECT_TRUE(slave.Commit("G", "T", 2, 70));   // not in the snapshot: kept
  slave.MergeFrom(master->Snapshot());
  EXPECT_EQ(slave.QueryAll("G", "T"), (std::map<int32_t, int64_t>{{0, 50}, {1, 60}, {2, 70}}));
  EXPECT_TRUE(slave.dirty());
}

TEST_F(ConsumerOffsetManagerTest, CorruptFileAndBadKeys) {
  Overwrite(path(), "[1, 2");
  ConsumerOffsetManager m(config_dir_);
  Status s = m.Load();
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("consumerOffset.json"), std::string::npos);

  Overwrite(path(), R"({"offset_table": {"no_at_sign": {"offsets": {"0": "1"}}}})");
  s = m.Load();
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("no_at_sign"), std::string::npos) << s.message();
}

TEST_F(ConsumerOffsetManagerTest, BackupFallbackIsRewrittenOnNextPersist) {
  {
    auto m = Open();
    EXPECT_TRUE(m->Commit("G", "T", 0, 1));
    ASSERT_TRUE(m->Persist().ok());
    EXPECT_TRUE(m->Commit("G", "T", 0, 2));
    ASSERT_TRUE(m->Persist().ok());
  }
  Overwrite(path(), "garbage");
  auto m = Open();
  EXPECT_EQ(m->Query("G", "T", 0), 2) << "the backup mirrors the latest version";
  EXPECT_TRUE(m->dirty());
  ASSERT_TRUE(m->Persist().ok());
  EXPECT_EQ(Open()->Query("G", "T", 0), 2);
}

}  // namespace
}  // namespace mq::broker
