#include "broker/meta/topic_config_manager.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>

#include "common/perm.h"
#include "test_files.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::broker {
namespace {

using testing::Overwrite;
using testing::ReadOrDie;

mq::v1::TopicConfig Topic(const std::string& name, int32_t queues = 8, int32_t perm = kPermReadWrite) {
  mq::v1::TopicConfig config;
  config.set_topic_name(name);
  config.set_read_queue_nums(queues);
  config.set_write_queue_nums(queues);
  config.set_perm(perm);
  return config;
}

class TopicConfigManagerTest : public ::testing::Test {
 protected:
  std::unique_ptr<TopicConfigManager> Open(
      bool auto_create = true, size_t max_topics = 0,
      std::chrono::milliseconds persist_delay = std::chrono::seconds(1)) {
    TopicConfigManager::Options options;
    options.cluster_name = "DefaultCluster";
    options.broker_name = "broker-a";
    options.auto_create_topic_enable = auto_create;
    options.max_topic_count = max_topics;
    options.persist_delay = persist_delay;
    auto manager = std::make_unique<TopicConfigManager>(config_dir_, options, &clock_);
    Status s = manager->Load();
    EXPECT_TRUE(s.ok()) << s.ToString();
    return manager;
  }

  mq::testing::TempDir dir_;
  std::string config_dir_ = dir_.Sub("config");
  ManualClock clock_;
};

TEST_F(TopicConfigManagerTest, LoadCreatesSystemTopicsAndPersists) {
  auto m = Open();
  EXPECT_EQ(m->Count(), 4u);
  auto self_test = m->Get(kSelfTestTopic);
  ASSERT_TRUE(self_test);
  EXPECT_EQ(self_test->read_queue_nums(), 1);
  EXPECT_EQ(self_test->perm(), 6);
  auto tbw = m->Get(kAutoCreateTopicKeyTopic);
  ASSERT_TRUE(tbw);
  EXPECT_EQ(tbw->write_queue_nums(), 8);
  EXPECT_EQ(tbw->perm(), 7);
  ASSERT_TRUE(m->Get("DefaultCluster"));
  EXPECT_EQ(m->Get("broker-a")->write_queue_nums(), 1);
  EXPECT_NE(ReadOrDie(config_dir_ + "/topics.json").find("TBW102"), std::string::npos);
  EXPECT_EQ(m->data_version().counter(), 1);
}

TEST_F(TopicConfigManagerTest, NoTemplateTopicWhenAutoCreateDisabled) {
  auto m = Open(/*auto_create=*/false);
  EXPECT_FALSE(m->Get(kAutoCreateTopicKeyTopic));
  EXPECT_EQ(m->Count(), 3u);
}

TEST_F(TopicConfigManagerTest, SurvivesRestart) {
  {
    auto m = Open();
    auto t = Topic("OrderTopic", 16);
    t.set_order(true);
    t.set_write_queue_nums(4);
    ASSERT_TRUE(m->CreateOrUpdate(t).ok());
  }
  auto m = Open();
  auto t = m->Get("OrderTopic");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->read_queue_nums(), 16);
  EXPECT_EQ(t->write_queue_nums(), 4);
  EXPECT_TRUE(t->order());
  EXPECT_EQ(m->Count(), 5u);
  EXPECT_EQ(m->data_version().counter(), 0) << "nothing changed on this Load";
}

TEST_F(TopicConfigManagerTest, AllIsSortedByName) {
  auto m = Open();
  ASSERT_TRUE(m->CreateOrUpdate(Topic("b")).ok());
  ASSERT_TRUE(m->CreateOrUpdate(Topic("a")).ok());
  auto all = m->All();
  ASSERT_EQ(all.size(), 6u);
  for (size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].topic_name(), all[i].topic_name());
}

TEST_F(TopicConfigManagerTest, ValidationNamesTheField) {
  auto m = Open();
  auto expect_invalid = [&](const mq::v1::TopicConfig& config, const std::string& field) {
    Status s = m->CreateOrUpdate(config);
    EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
    EXPECT_EQ(s.message().rfind(field, 0), 0u) << s.message();
  };
  expect_invalid(Topic("bad topic"), "topic");
  expect_invalid(Topic(std::string(128, 'x')), "topic");
  expect_invalid(Topic(""), "topic");
  auto t = Topic("T");
  t.set_read_queue_nums(0);
  expect_invalid(t, "read_queue_nums");
  t = Topic("T");
  t.set_write_queue_nums(1025);
  expect_invalid(t, "write_queue_nums");
  expect_invalid(Topic("T", 8, 16), "perm");
  expect_invalid(Topic("T", 8, -1), "perm");
  EXPECT_FALSE(m->Get("T"));
  EXPECT_EQ(m->data_version().counter(), 1);
}

TEST_F(TopicConfigManagerTest, AnEntryCreationWouldRefuseFailsTheLoadNamingIt) {
  // A NameServer refuses the broker's whole registration for one such entry: it is found at
  // start, named, instead of leaving every topic of the broker unroutable.
  for (const std::string& bad :
       {std::string(R"("bad.name":{"read_queue_nums":4,"write_queue_nums":4,"perm":6})"),
        std::string(R"("Wide":{"read_queue_nums":4,"write_queue_nums":2048,"perm":6})"),
        std::string(R"("Perm":{"read_queue_nums":4,"write_queue_nums":4,"perm":16})")}) {
    mq::testing::TempDir dir;
    std::filesystem::create_directories(dir.Sub("config"));
    Overwrite(
        dir.Sub("config") + "/topics.json",
        R"({"topic_config_table":{"ok":{"read_queue_nums":4,"write_queue_nums":4,"perm":6},)" + bad + "}}");
    TopicConfigManager manager(dir.Sub("config"), TopicConfigManager::Options{}, &clock_);
    Status s = manager.Load();
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.message().find("topic_config_table['"), std::string::npos) << s.ToString();
  }
}

TEST_F(TopicConfigManagerTest, DataVersionChangesOnEveryChangeOnly) {
  auto m = Open();
  auto v0 = m->data_version();
  EXPECT_FALSE(v0.state_version().empty());
  clock_.Advance(10);
  ASSERT_TRUE(m->CreateOrUpdate(Topic("T")).ok());
  auto v1 = m->data_version();
  EXPECT_EQ(v1.counter(), v0.counter() + 1);
  EXPECT_EQ(v1.timestamp(), clock_.NowMillis());
  EXPECT_EQ(v1.state_version(), v0.state_version());

  clock_.Advance(10);
  ASSERT_TRUE(m->CreateOrUpdate(Topic("T")).ok());  // identical: no change
  EXPECT_EQ(m->data_version().counter(), v1.counter());
  EXPECT_EQ(m->data_version().timestamp(), v1.timestamp());
  ASSERT_TRUE(m->CreateOnSend("T", 4).ok());  // exists: no change
  EXPECT_EQ(m->data_version().counter(), v1.counter());
  (void)m->Get("T");
  (void)m->All();
  EXPECT_EQ(m->data_version().counter(), v1.counter());

  ASSERT_TRUE(m->CreateOrUpdate(Topic("T", 8, kPermRead)).ok());
  EXPECT_EQ(m->data_version().counter(), v1.counter() + 1);
  ASSERT_TRUE(m->CreateOnSend("New", 4).ok());
  EXPECT_EQ(m->data_version().counter(), v1.counter() + 2);
  ASSERT_TRUE(m->Delete("New").ok());
  EXPECT_EQ(m->data_version().counter(), v1.counter() + 3);
  EXPECT_TRUE(m->Delete("New").IsNotFound());
  EXPECT_EQ(m->data_version().counter(), v1.counter() + 3);
}

TEST_F(TopicConfigManagerTest, StateVersionDiffersPerInstance) {
  auto a = Open();
  auto b = Open();
  EXPECT_NE(a->data_version().state_version(), b->data_version().state_version());
}

TEST_F(TopicConfigManagerTest, ChangeListenerFiresOnChangesOnly) {
  auto m = Open();
  int calls = 0;
  m->SetChangeListener([&] {
    ++calls;
    // Called outside the lock: reading back must not deadlock.
    EXPECT_GE(m->Count(), 4u);
  });
  ASSERT_TRUE(m->CreateOrUpdate(Topic("T")).ok());
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(m->CreateOrUpdate(Topic("T")).ok());
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(m->CreateOnSend("Auto", 2).ok());
  EXPECT_EQ(calls, 2);
  ASSERT_TRUE(m->Delete("T").ok());
  EXPECT_EQ(calls, 3);
  EXPECT_FALSE(m->CreateOrUpdate(Topic("bad name")).ok());
  EXPECT_TRUE(m->Delete("T").IsNotFound());
  EXPECT_EQ(calls, 3);
}

TEST_F(TopicConfigManagerTest, CreateOnSendCapsQueuesByTemplate) {
  auto m = Open();
  auto t = m->CreateOnSend("Small", 2);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->read_queue_nums(), 2);
  EXPECT_EQ(t->write_queue_nums(), 2);
  EXPECT_EQ(t->perm(), kPermReadWrite);
  EXPECT_EQ(m->CreateOnSend("Default", 0)->write_queue_nums(), kDefaultProducerTopicQueueNums);
  EXPECT_EQ(m->CreateOnSend("Big", 64)->write_queue_nums(), 8) << "capped by TBW102";
  auto again = m->CreateOnSend("Small", 64);
  EXPECT_EQ(again->write_queue_nums(), 2) << "an existing topic is returned unchanged";

  m.reset();  // a graceful stop writes the auto-created topics
  auto restarted = Open();
  EXPECT_TRUE(restarted->Get("Big"));
}

TEST_F(TopicConfigManagerTest, CreateOnSendRespectsAutoCreateFlag) {
  auto m = Open(/*auto_create=*/false);
  auto t = m->CreateOnSend("Unknown", 4);
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(t.status().IsNotFound());
  EXPECT_EQ(t.status().message(), "topic: topic 'Unknown' does not exist and autoCreateTopicEnable is false");
  EXPECT_FALSE(m->Get("Unknown"));
  ASSERT_TRUE(m->CreateOrUpdate(Topic("Known")).ok());
  EXPECT_TRUE(m->CreateOnSend("Known", 4).ok());
}

TEST_F(TopicConfigManagerTest, CreateOnSendValidatesName) {
  auto m = Open();
  auto t = m->CreateOnSend("bad/topic", 4);
  EXPECT_TRUE(t.status().IsInvalidArgument());
  EXPECT_EQ(t.status().message().rfind("topic", 0), 0u);
}

TEST_F(TopicConfigManagerTest, CreateOnSendNeedsInheritPermOnTemplate) {
  auto m = Open();
  ASSERT_TRUE(m->CreateOrUpdate(Topic(kAutoCreateTopicKeyTopic, 8, kPermReadWrite)).ok());
  auto t = m->CreateOnSend("Auto", 4);
  EXPECT_TRUE(t.status().IsNotFound()) << t.status().ToString();
}

TEST_F(TopicConfigManagerTest, CreateIfAbsentIgnoresAutoCreateFlag) {
  auto m = Open(/*auto_create=*/false);
  int calls = 0;
  m->SetChangeListener([&] { ++calls; });
  auto retry = m->CreateIfAbsent("%RETRY%cg", 1, kPermReadWrite);
  ASSERT_TRUE(retry.ok()) << retry.status().ToString();
  EXPECT_EQ(retry->write_queue_nums(), 1);
  EXPECT_EQ(calls, 1);
  auto again = m->CreateIfAbsent("%RETRY%cg", 4, kPermRead);
  EXPECT_EQ(again->write_queue_nums(), 1) << "existing topic returned unchanged";
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(m->CreateIfAbsent("%DLQ%cg", 0, kPermReadWrite).status().IsInvalidArgument());
  ASSERT_TRUE(m->Flush().ok());  // written later, like a topic auto-created by a send
  EXPECT_TRUE(Open(false)->Get("%RETRY%cg"));
}

TEST_F(TopicConfigManagerTest, CorruptFileFailsLoadWithCorruption) {
  { Open(); }
  Overwrite(config_dir_ + "/topics.json", "{\"topic_config_table\": {");
  Overwrite(config_dir_ + "/topics.json.bak", "{\"topic_config_table\": {");
  TopicConfigManager m(config_dir_, {}, &clock_);
  Status s = m.Load();
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find("topics.json"), std::string::npos);
}

TEST_F(TopicConfigManagerTest, CorruptFileFallsBackToBackup) {
  {
    auto m = Open();
    ASSERT_TRUE(m->CreateOrUpdate(Topic("Kept")).ok());
    ASSERT_TRUE(m->CreateOrUpdate(Topic("Second")).ok());
  }
  Overwrite(config_dir_ + "/topics.json", "not json");
  auto m = Open();
  EXPECT_TRUE(m->Get("Kept"));
  EXPECT_TRUE(m->Get("Second")) << "the backup mirrors the latest version";
  // The main file was rewritten from the backup.
  EXPECT_NE(ReadOrDie(config_dir_ + "/topics.json").find("Kept"), std::string::npos);
}

TEST_F(TopicConfigManagerTest, MismatchedKeyIsCorruption) {
  Overwrite(
      config_dir_ + "/topics.json",
      R"({"topic_config_table": {"A": {"topic_name": "B", "read_queue_nums": 1, "write_queue_nums": 1}}})");
  TopicConfigManager m(config_dir_, {}, &clock_);
  EXPECT_EQ(m.Load().code(), StatusCode::kCorruption);
}

TEST(PermTest, Bits) {
  EXPECT_TRUE(IsReadable(6));
  EXPECT_TRUE(IsWritable(6));
  EXPECT_FALSE(IsWritable(kPermRead | kPermInherit));
  EXPECT_FALSE(IsReadable(kPermWrite));
  EXPECT_TRUE(IsInherited(7));
  EXPECT_EQ(PermToString(6), "RW-");
  EXPECT_EQ(PermToString(7), "RWX");
  EXPECT_EQ(kPermPriority, 8);
}

bool FileHasTopic(const std::string& path, const std::string& topic) {
  auto content = ReadFileToString(path);
  return content.ok() && content->find("\"" + topic + "\"") != std::string::npos;
}

TEST_F(TopicConfigManagerTest, AutoCreatedTopicsAreNotWrittenOnTheRequestThread) {
  auto m = Open(true, 0, std::chrono::seconds(60));
  const std::string file = config_dir_ + "/topics.json";
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(m->CreateOnSend("Auto" + std::to_string(i), 4).ok());
  ASSERT_TRUE(m->CreateIfAbsent("%RETRY%cg", 1, kPermReadWrite).ok());
  EXPECT_TRUE(m->Get("Auto199"));
  EXPECT_FALSE(FileHasTopic(file, "Auto0")) << "the send path rewrote topics.json";
  EXPECT_FALSE(FileHasTopic(file, "%RETRY%cg"));
  EXPECT_TRUE(m->dirty());
  ASSERT_TRUE(m->Flush().ok());
  EXPECT_FALSE(m->dirty());
  EXPECT_TRUE(FileHasTopic(file, "Auto0"));
  EXPECT_TRUE(FileHasTopic(file, "Auto199"));
  EXPECT_TRUE(FileHasTopic(file, "%RETRY%cg"));
}

TEST_F(TopicConfigManagerTest, AutoCreatedTopicIsWrittenWithinTheDelay) {
  auto m = Open(true, 0, std::chrono::milliseconds(50));
  const std::string file = config_dir_ + "/topics.json";
  ASSERT_TRUE(m->CreateOnSend("Soon", 4).ok());
  EXPECT_TRUE(mq::testing::WaitUntil([&] { return FileHasTopic(file, "Soon"); }, std::chrono::seconds(10)));
  EXPECT_TRUE(mq::testing::WaitUntil([&] { return !m->dirty(); }, std::chrono::seconds(10)));
  // The .bak mirrors it, as for synchronous writes.
  EXPECT_TRUE(FileHasTopic(file + ".bak", "Soon"));
}

TEST_F(TopicConfigManagerTest, ExplicitChangesAreWrittenBeforeReturning) {
  auto m = Open(true, 0, std::chrono::seconds(60));
  const std::string file = config_dir_ + "/topics.json";
  ASSERT_TRUE(m->CreateOnSend("Pending", 4).ok());
  ASSERT_TRUE(m->CreateOrUpdate(Topic("Admin")).ok());
  EXPECT_TRUE(FileHasTopic(file, "Admin"));
  EXPECT_TRUE(FileHasTopic(file, "Pending")) << "a whole-table write carries pending auto-created topics";
  EXPECT_FALSE(m->dirty());
}

TEST_F(TopicConfigManagerTest, DestructionWritesPendingTopics) {
  {
    auto m = Open(true, 0, std::chrono::seconds(60));
    ASSERT_TRUE(m->CreateOnSend("Late", 2).ok());
  }
  auto m = Open();
  ASSERT_TRUE(m->Get("Late"));
  EXPECT_EQ(m->Get("Late")->write_queue_nums(), 2);
}

TEST_F(TopicConfigManagerTest, WhenDurableWaitsForTheWriteWithoutTheDelay) {
  auto m = Open(true, 0, std::chrono::seconds(60));
  const std::string file = config_dir_ + "/topics.json";
  bool at_once = false;
  m->WhenDurable([&](const Status& s) { at_once = s.ok(); });
  EXPECT_TRUE(at_once) << "nothing pending: answered on the caller";

  ASSERT_TRUE(m->CreateOnSend("SyncFlushed", 4).ok());
  std::atomic<int> answered{0};
  std::atomic<bool> on_disk_when_answered{false};
  for (int i = 0; i < 3; ++i) {
    m->WhenDurable([&](const Status& s) {
      on_disk_when_answered = s.ok() && FileHasTopic(file, "SyncFlushed");
      ++answered;
    });
  }
  // The 60 s delay is not waited out: a waiter makes the write start at once.
  ASSERT_TRUE(mq::testing::WaitUntil([&] { return answered == 3; }, std::chrono::seconds(10)));
  EXPECT_TRUE(on_disk_when_answered);
  EXPECT_FALSE(m->dirty());
}

TEST_F(TopicConfigManagerTest, MaxTopicCountRefusesNewTopicsWithResourceExhausted) {
  auto m = Open(true, /*max_topics=*/6);  // 4 system topics + 2
  ASSERT_EQ(m->Count(), 4u);
  ASSERT_TRUE(m->CreateOnSend("A", 4).ok());
  ASSERT_TRUE(m->CreateOrUpdate(Topic("B")).ok());
  auto full = m->CreateOnSend("C", 4);
  ASSERT_EQ(full.status().code(), StatusCode::kResourceExhausted) << full.status().ToString();
  EXPECT_EQ(full.status().message().rfind("topic: cannot create 'C'", 0), 0u) << full.status().message();
  EXPECT_NE(full.status().message().find("maxTopicCount=6"), std::string::npos);
  EXPECT_EQ(m->CreateOrUpdate(Topic("C")).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(m->CreateIfAbsent("%DLQ%cg", 1, kPermReadWrite).status().code(), StatusCode::kResourceExhausted);
  EXPECT_FALSE(m->Get("C"));
  EXPECT_EQ(m->Count(), 6u);
  // Existing topics still resolve and update; deleting one makes room.
  EXPECT_TRUE(m->CreateOnSend("A", 4).ok());
  EXPECT_TRUE(m->CreateOrUpdate(Topic("B", 16)).ok());
  ASSERT_TRUE(m->Delete("B").ok());
  EXPECT_TRUE(m->CreateOnSend("C", 4).ok());
}

}  // namespace
}  // namespace mq::broker
