#include "broker/ha/metadata_sync.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "broker/meta/transaction_progress_file.h"
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

// A master's and a slave's metadata managers, each over a directory of its own.
struct MasterAndSlave {
  static broker::TopicConfigManager::Options TopicOptions() {
    broker::TopicConfigManager::Options o;
    o.broker_name = "broker-a";
    return o;
  }
  TempDir master_dir;
  TempDir slave_dir;
  struct Managers {
    broker::TopicConfigManager& mt;
    broker::SubscriptionGroupManager& mg;
    broker::ConsumerOffsetManager& mo;
    broker::TopicConfigManager& st;
    broker::SubscriptionGroupManager& sg;
    broker::ConsumerOffsetManager& so;
  };
  broker::TopicConfigManager mt{master_dir.path(), TopicOptions(), SystemClock::Default()};
  broker::SubscriptionGroupManager mg{master_dir.path()};
  broker::ConsumerOffsetManager mo{master_dir.path()};
  broker::TopicConfigManager st{slave_dir.path(), TopicOptions(), SystemClock::Default()};
  broker::SubscriptionGroupManager sg{slave_dir.path()};
  broker::ConsumerOffsetManager so{slave_dir.path()};
  Managers managers{mt, mg, mo, st, sg, so};
  MetadataManagers master{&mt, &mg, &mo};
  MetadataManagers slave{&st, &sg, &so};
  MasterAndSlave() {
    EXPECT_TRUE(mt.Load().ok());
    EXPECT_TRUE(st.Load().ok());
  }
};

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

TEST(MetadataSyncTest, AdoptionSkipsAQueueWithAPendingReset) {
  TempDir dir;
  broker::ConsumerOffsetManager offsets(dir.path());
  offsets.ResetOffsets("g", "T", {{0, 5}});
  // The slave's value predates the reset: like a consumer's commit, it must not undo it.
  EXPECT_EQ(AdoptAhead(Table({{"T@g", 0, 50}, {"T@g", 1, 7}}), &offsets), 1);
  EXPECT_EQ(offsets.Query("g", "T", 0), 5);
  EXPECT_EQ(offsets.Query("g", "T", 1), 7);
}

// A commit landing on the master while it adopts a slave's offsets is never rewound: the
// comparison and the write are one step.
TEST(MetadataSyncTest, AdoptionNeverRewindsACommitMadeMeanwhile) {
  TempDir dir;
  broker::ConsumerOffsetManager offsets(dir.path());
  offsets.Commit("g", "T", 0, 0);
  std::atomic<int64_t> committed{0};
  std::atomic<bool> done{false};
  std::thread consumer([&] {
    for (int64_t v = 2; !done && v < (int64_t{1} << 40); v += 2) {
      offsets.Commit("g", "T", 0, v);
      committed.store(v);
    }
  });
  int64_t rewinds = 0;
  for (int i = 0; i < 100'000; ++i) {
    const int64_t before = committed.load();
    // A slave one ahead of what the master had a moment ago.
    AdoptAhead(Table({{"T@g", 0, offsets.Query("g", "T", 0).value_or(0) + 1}}), &offsets);
    if (offsets.Query("g", "T", 0).value_or(0) < before) ++rewinds;
  }
  done = true;
  consumer.join();
  EXPECT_EQ(rewinds, 0);
}

// Topics, groups and offsets deleted on the master stay deleted: the slave drops them at the
// next sync, and does not offer the offsets back as its own commits.
TEST(MetadataSyncTest, OffsetsDeletedOnTheMasterStayDeleted) {
  MasterAndSlave pair;
  auto& [mt, mg, mo, st, sg, so] = pair.managers;
  const MetadataManagers& master = pair.master;
  const MetadataManagers& slave = pair.slave;
  mo.Commit("gone", "T", 0, 50);
  mo.Commit("kept", "T", 0, 10);
  mq::v1::TopicConfig topic;
  topic.set_topic_name("Dropped");
  topic.set_read_queue_nums(1);
  topic.set_write_queue_nums(1);
  topic.set_perm(6);
  ASSERT_TRUE(mt.CreateOrUpdate(topic).ok());
  ASSERT_TRUE(mg.CreateOrUpdate(broker::SubscriptionGroupManager::DefaultConfig("gone")).ok());
  // Created by the slave itself (a consumer reading from it): not the master's to delete.
  ASSERT_TRUE(sg.CreateOrUpdate(broker::SubscriptionGroupManager::DefaultConfig("slave_only")).ok());

  // One sync round as HaClient::SyncMetadata and HaService::GetMetadata run it.
  MasterTables last;
  auto sync = [&] {
    AdoptAhead(LocalCommits(so.Snapshot(), last.offsets), &mo);
    auto resp = BuildMetadata(master);
    ASSERT_TRUE(ApplyMetadata(resp, last, slave).ok());
    last = TablesOf(resp);
  };
  sync();
  ASSERT_EQ(so.Query("gone", "T", 0), 50);
  ASSERT_TRUE(st.Get("Dropped").has_value());
  ASSERT_TRUE(sg.Get("gone").has_value());
  // What mqadmin deleteTopic and deleteSubGroup --removeOffsets do on the master.
  ASSERT_TRUE(mt.Delete("Dropped").ok());
  ASSERT_TRUE(mg.Delete("gone").ok());
  mo.RemoveGroup("gone");
  so.Commit("kept", "T", 0, 12);  // a consumer reading from the slave
  for (int round = 0; round < 3; ++round) {
    sync();
    EXPECT_FALSE(mo.Query("gone", "T", 0).has_value()) << "round " << round;
    EXPECT_FALSE(so.Query("gone", "T", 0).has_value()) << "round " << round;
    EXPECT_FALSE(st.Get("Dropped").has_value()) << "round " << round;
    EXPECT_FALSE(sg.Get("gone").has_value()) << "round " << round;
    EXPECT_TRUE(sg.Get("slave_only").has_value()) << "round " << round;
  }
  EXPECT_EQ(mo.Query("kept", "T", 0), 12);
  EXPECT_EQ(so.Query("kept", "T", 0), 12);

  // Deleted on the master but committed on the slave since the last sync: a consumer still
  // runs there, so the slave keeps it and the master takes it back, as from that consumer.
  sync();
  mo.RemoveGroup("kept");
  so.Commit("kept", "T", 0, 13);
  sync();
  sync();
  EXPECT_EQ(mo.Query("kept", "T", 0), 13);
}

TEST(MetadataSyncTest, SlaveAppliesTopicsGroupsAndOffsets) {
  MasterAndSlave pair;
  auto& [mt, mg, mo, st, sg, so] = pair.managers;
  const MetadataManagers& master = pair.master;
  const MetadataManagers& slave = pair.slave;

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
  ASSERT_TRUE(ApplyMetadata(md, {}, slave).ok());
  ASSERT_TRUE(st.Get("Orders").has_value());
  EXPECT_EQ(st.Get("Orders")->read_queue_nums(), 3);
  ASSERT_TRUE(sg.Get("billing").has_value());
  EXPECT_EQ(sg.Get("billing")->retry_max_times(), 3);
  EXPECT_EQ(so.Query("billing", "Orders", 2), 17);

  // Applying the same metadata again changes nothing (no topic version bump).
  auto version = st.data_version().counter();
  ASSERT_TRUE(ApplyMetadata(md, {}, slave).ok());
  EXPECT_EQ(st.data_version().counter(), version);

  mo.Commit("billing", "Orders", 2, 18);
  EXPECT_NE(MetadataFingerprint(BuildMetadata(master)), fp);
}

// Before: a slave wrote topics.json once per new or changed topic (and subscriptionGroup.json
// per group), each write the whole table: a fresh slave of a master with 50,000 topics wrote
// O(N^2) bytes while its metadata thread, the stream's watchdog, did nothing else. One sync is
// now one write and one version change.
TEST(MetadataSyncTest, ASyncOfManyTopicsAndGroupsIsOneWriteOfEach) {
  MasterAndSlave pair;
  auto& [mt, mg, mo, st, sg, so] = pair.managers;
  std::vector<mq::v1::TopicConfig> topics;
  std::vector<mq::v1::SubscriptionGroupConfig> groups;
  for (int i = 0; i < 2000; ++i) {
    mq::v1::TopicConfig topic;
    topic.set_topic_name("T" + std::to_string(i));
    topic.set_read_queue_nums(4);
    topic.set_write_queue_nums(4);
    topic.set_perm(6);
    topics.push_back(topic);
    groups.push_back(broker::SubscriptionGroupManager::DefaultConfig("g" + std::to_string(i)));
  }
  ASSERT_TRUE(mt.ApplyChanges(topics, {}).ok());
  ASSERT_TRUE(mg.ApplyChanges(groups, {}).ok());
  const auto before = st.data_version().counter();
  ASSERT_TRUE(ApplyMetadata(BuildMetadata(pair.master), {}, pair.slave).ok());
  EXPECT_EQ(st.data_version().counter(), before + 1);
  EXPECT_EQ(st.Count(), mt.Count());
  EXPECT_EQ(sg.Count(), mg.Count());
  // What the master deleted goes in one write too.
  const MasterTables previous = TablesOf(BuildMetadata(pair.master));
  ASSERT_TRUE(mt.ApplyChanges({}, {"T1", "T2", "T3"}).ok());
  ASSERT_TRUE(ApplyMetadata(BuildMetadata(pair.master), previous, pair.slave).ok());
  EXPECT_EQ(st.data_version().counter(), before + 2);
  EXPECT_FALSE(st.Get("T2").has_value());
  // Both files hold the whole tables.
  broker::TopicConfigManager reread_topics{pair.slave_dir.path(), MasterAndSlave::TopicOptions(),
                                           SystemClock::Default()};
  ASSERT_TRUE(reread_topics.Load().ok());
  EXPECT_EQ(reread_topics.Count(), st.Count());
  broker::SubscriptionGroupManager reread_groups{pair.slave_dir.path()};
  ASSERT_TRUE(reread_groups.Load().ok());
  EXPECT_EQ(reread_groups.Count(), sg.Count());
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
  std::optional<mq::v1::GetMetadataResponse> pending;
  ASSERT_TRUE(ApplyProgress(metadata, &pending, {&st, &sg, &so, &sd}).ok());
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

namespace mq::ha {
namespace {

// Before: transactionProgress was not synced: a promoted slave's check-back scan started from
// the first retained half, loading every retained op into memory, and checked again every
// pending transaction it had copies of.
TEST(MetadataSyncTest, SlaveTakesTheMastersTransactionPositions) {
  MasterAndSlave ms;
  const std::string master_file = ms.master_dir.path() + "/transactionProgress";
  const std::string slave_file = ms.slave_dir.path() + "/transactionProgress";
  MetadataManagers master = ms.master;
  MetadataManagers slave = ms.slave;
  master.transaction_progress_path = master_file;
  slave.transaction_progress_path = slave_file;

  // Before the master's scan wrote its file there is nothing to take.
  std::optional<mq::v1::GetMetadataResponse> pending;
  EXPECT_FALSE(BuildMetadata(master).has_transaction_progress());
  ASSERT_TRUE(ApplyProgress(BuildMetadata(master), &pending, slave).ok());
  EXPECT_FALSE(std::filesystem::exists(slave_file));

  ASSERT_TRUE(broker::WriteTransactionProgress(master_file, {120, 45}).ok());
  const auto metadata = BuildMetadata(master);
  const uint64_t before = MetadataFingerprint(metadata);
  ASSERT_TRUE(ApplyProgress(metadata, &pending, slave).ok());
  auto taken = broker::ReadTransactionProgress(slave_file);
  ASSERT_TRUE(taken.ok()) << taken.status().ToString();
  EXPECT_EQ(*taken, (broker::TransactionPositions{120, 45}));
  // The scan moving on changes the fingerprint, so slaves fetch it without waiting 10 s.
  ASSERT_TRUE(broker::WriteTransactionProgress(master_file, {121, 45}).ok());
  EXPECT_NE(MetadataFingerprint(BuildMetadata(master)), before);
}

// Before: the slave took the master's delay offsets and transaction positions as they came,
// also while its own log lagged the master's (right after a reconnect, while it catches up):
// promoted then, it skipped the scheduled messages and transactions it held but whose re-puts
// or ends it had not received yet.
TEST(MetadataSyncTest, SlaveTakesProgressOnlyOnceItsLogHoldsWhatItCovers) {
  MasterAndSlave ms;
  schedule::DelayOffsetTable master_delays(ms.master_dir.path());
  schedule::DelayOffsetTable slave_delays(ms.slave_dir.path());
  int64_t master_end = 1000;
  int64_t slave_end = 500;
  MetadataManagers master = ms.master;
  MetadataManagers slave = ms.slave;
  master.delay_offsets = &master_delays;
  slave.delay_offsets = &slave_delays;
  master.transaction_progress_path = ms.master_dir.path() + "/transactionProgress";
  slave.transaction_progress_path = ms.slave_dir.path() + "/transactionProgress";
  master.log_end = [&] { return master_end; };
  slave.log_end = [&] { return slave_end; };
  std::optional<mq::v1::GetMetadataResponse> pending;

  master_delays.Set(1, 7);
  ASSERT_TRUE(broker::WriteTransactionProgress(master.transaction_progress_path, {3, 2}).ok());
  const auto first = BuildMetadata(master);
  EXPECT_EQ(first.progress_log_end(), 1000);
  ASSERT_TRUE(ApplyProgress(first, &pending, slave).ok());
  EXPECT_EQ(slave_delays.Get(1), 0) << "the slave's log does not hold the re-puts yet";
  EXPECT_FALSE(std::filesystem::exists(slave.transaction_progress_path));

  // The next answer is ahead of the slave again, which has passed the first one's end meanwhile.
  master_delays.Set(1, 9);
  master_end = 2000;
  slave_end = 1500;
  ASSERT_TRUE(ApplyProgress(BuildMetadata(master), &pending, slave).ok());
  EXPECT_EQ(slave_delays.Get(1), 7);
  auto taken = broker::ReadTransactionProgress(slave.transaction_progress_path);
  ASSERT_TRUE(taken.ok()) << taken.status().ToString();
  EXPECT_EQ(*taken, (broker::TransactionPositions{3, 2}));

  slave_end = 2000;
  ASSERT_TRUE(ApplyProgress(BuildMetadata(master), &pending, slave).ok());
  EXPECT_EQ(slave_delays.Get(1), 9);
  EXPECT_FALSE(pending.has_value());
}

}  // namespace
}  // namespace mq::ha
