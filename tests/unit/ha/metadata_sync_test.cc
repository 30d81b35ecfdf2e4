#include "broker/ha/metadata_sync.h"

#include <gtest/gtest.h>

#include "common/clock.h"
#include "testutil/temp_dir.h"

namespace mq::ha {
namespace {

using mq::testing::TempDir;

mq::v1::ConsumerOffsetTable Table(std::initializer_list<std::tuple<std::string, int32_t, int64_t>> rows) {
  mq::v1::ConsumerOffsetTable t;
  for (const auto& [key, q, off] : rows) (*(*t.mutable_offset_table())[key].mutable_offsets())[q] = off;
  return t;
}

TEST(MetadataSyncTest, LocalCommitsAreTheOffsetsAheadOfTheMastersCopy) {
  auto current = Table({{"T@g", 0, 10}, {"T@g", 1, 5}, {"T@g", 2, 7}, {"U@g", 0, 3}});
  auto last = Table({{"T@g", 0, 10}, {"T@g", 1, 8}});
  auto local = LocalCommits(current, last);
  // Queue 0 unchanged, queue 1 behind the master: not local. Queue 2 and U@g are new.
  EXPECT_EQ(local.offset_table().size(), 2u);
  EXPECT_EQ(local.offset_table().at("T@g").offsets().size(), 1u);
  EXPECT_EQ(local.offset_table().at("T@g").offsets().at(2), 7);
  EXPECT_EQ(local.offset_table().at("U@g").offsets().at(0), 3);
}

TEST(MetadataSyncTest, MasterAdoptsOnlyOffsetsThatMoveForward) {
  TempDir dir;
  broker::ConsumerOffsetManager offsets(dir.path());
  offsets.Commit("g", "T", 0, 100);
  offsets.Commit("g", "T", 1, 10);
  int moved = AdoptAhead(Table({{"T@g", 0, 50}, {"T@g", 1, 20}, {"T@g", 2, 1}}), &offsets);
  EXPECT_EQ(moved, 2);
  EXPECT_EQ(offsets.Query("g", "T", 0), 100);  // a slave never rewinds the master
  EXPECT_EQ(offsets.Query("g", "T", 1), 20);
  EXPECT_EQ(offsets.Query("g", "T", 2), 1);
}

TEST(MetadataSyncTest, SlaveAppliesTopicsGroupsAndOffsets) {
  TempDir master_dir;
  TempDir slave_dir;
  broker::TopicConfigManager::Options topt;
  topt.broker_name = "broker-a";
  broker::TopicConfigManager mt(master_dir.path(), topt, SystemClock::Default());
  broker::SubscriptionGroupManager mg(master_dir.path());
  broker::ConsumerOffsetManager mo(master_dir.path());
  broker::TopicConfigManager st(slave_dir.path(), topt, SystemClock::Default());
  broker::SubscriptionGroupManager sg(slave_dir.path());
  broker::ConsumerOffsetManager so(slave_dir.path());
  ASSERT_TRUE(mt.Load().ok());
  ASSERT_TRUE(st.Load().ok());
  MetadataManagers master{&mt, &mg, &mo};
  MetadataManagers slave{&st, &sg, &so};

  mq::v1::TopicConfig topic;
  topic.set_topic_name("Orders");
  topic.set_read_queue_nums(3);
  topic.set_write_queue_nums(3);
  topic.set_perm(6);
  ASSERT_TRUE(mt.CreateOrUpdate(topic).ok());
  auto group = broker::SubscriptionGroupManager::DefaultConfig("billing");
  group.set_retry_max_times(3);
  ASSERT_TRUE(mg.CreateOrUpdate(group).ok());
  mo.Commit("billing", "Orders", 2, 17);

  auto md = BuildMetadata(master);
  const uint64_t fp = MetadataFingerprint(md);
  EXPECT_EQ(fp, MetadataFingerprint(BuildMetadata(master)));  // stable
  ASSERT_TRUE(ApplyMetadata(md, slave).ok());
  ASSERT_TRUE(st.Get("Orders").has_value());
  EXPECT_EQ(st.Get("Orders")->read_queue_nums(), 3);
  ASSERT_TRUE(sg.Get("billing").has_value());
  EXPECT_EQ(sg.Get("billing")->retry_max_times(), 3);
  EXPECT_EQ(so.Query("billing", "Orders", 2), 17);

  // Applying the same metadata again changes nothing (no topic version bump).
  auto version = st.data_version().counter();
  ASSERT_TRUE(ApplyMetadata(md, slave).ok());
  EXPECT_EQ(st.data_version().counter(), version);

  mo.Commit("billing", "Orders", 2, 18);
  EXPECT_NE(MetadataFingerprint(BuildMetadata(master)), fp);
}

}  // namespace
}  // namespace mq::ha

namespace mq::ha {
namespace {

TEST(MetadataSyncTest, SlaveTakesTheMastersDelayOffsetsAndWritesDelayOffsetJson) {
  TempDir master_dir;
  TempDir slave_dir;
  broker::TopicConfigManager::Options topt;
  topt.broker_name = "broker-a";
  broker::TopicConfigManager mt(master_dir.path(), topt, SystemClock::Default());
  broker::SubscriptionGroupManager mg(master_dir.path());
  broker::ConsumerOffsetManager mo(master_dir.path());
  schedule::DelayOffsetTable md(master_dir.path());
  broker::TopicConfigManager st(slave_dir.path(), topt, SystemClock::Default());
  broker::SubscriptionGroupManager sg(slave_dir.path());
  broker::ConsumerOffsetManager so(slave_dir.path());
  schedule::DelayOffsetTable sd(slave_dir.path());
  md.Set(3, 42);
  auto metadata = BuildMetadata({&mt, &mg, &mo, &md});
  const uint64_t before = MetadataFingerprint(metadata);
  ASSERT_TRUE(ApplyMetadata(metadata, {&st, &sg, &so, &sd}).ok());
  EXPECT_EQ(sd.Get(3), 42);
  schedule::DelayOffsetTable reread(slave_dir.path());
  ASSERT_TRUE(reread.Load().ok());
  EXPECT_EQ(reread.Get(3), 42);
  // Delivery progress changes the fingerprint, so slaves fetch it without waiting 10 s.
  md.Set(3, 43);
  EXPECT_NE(MetadataFingerprint(BuildMetadata({&mt, &mg, &mo, &md})), before);
}

}  // namespace
}  // namespace mq::ha
