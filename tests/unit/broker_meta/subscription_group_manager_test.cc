#include "broker/meta/subscription_group_manager.h"

#include <gtest/gtest.h>

#include <memory>

#include "common/file_util.h"
#include "test_files.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::broker {
namespace {

using testing::Overwrite;

class SubscriptionGroupManagerTest : public ::testing::Test {
 protected:
  std::unique_ptr<SubscriptionGroupManager> Open(bool auto_create = true) {
    auto manager = std::make_unique<SubscriptionGroupManager>(config_dir_, auto_create);
    Status s = manager->Load();
    EXPECT_TRUE(s.ok()) << s.ToString();
    return manager;
  }

  mq::testing::TempDir dir_;
  std::string config_dir_ = dir_.Sub("config");
};

TEST_F(SubscriptionGroupManagerTest, StartsEmpty) {
  auto m = Open();
  EXPECT_EQ(m->Count(), 0u);
  EXPECT_FALSE(m->Get("G"));
}

TEST_F(SubscriptionGroupManagerTest, AutoCreatesWithRocketMqDefaultsAndPersists) {
  {
    auto m = Open();
    auto g = m->FindOrAutoCreate("cg_orders");
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    EXPECT_EQ(g->group_name(), "cg_orders");
    EXPECT_TRUE(g->consume_enable());
    EXPECT_TRUE(g->consume_from_min_enable());
    EXPECT_TRUE(g->consume_broadcast_enable());
    EXPECT_EQ(g->retry_queue_nums(), 1);
    EXPECT_EQ(g->retry_max_times(), 16);
    EXPECT_EQ(g->broker_id(), 0);
    EXPECT_EQ(g->which_broker_when_consume_slowly(), 1);
    EXPECT_TRUE(g->notify_consumer_ids_changed_enable());
  }
  auto m = Open();
  auto g = m->Get("cg_orders");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->retry_max_times(), 16);
  EXPECT_EQ(g->which_broker_when_consume_slowly(), 1);
}

TEST_F(SubscriptionGroupManagerTest, FindOrAutoCreateReturnsExistingUnchanged) {
  auto m = Open();
  auto config = SubscriptionGroupManager::DefaultConfig("G");
  config.set_retry_max_times(3);
  ASSERT_TRUE(m->CreateOrUpdate(config).ok());
  EXPECT_EQ(m->FindOrAutoCreate("G")->retry_max_times(), 3);
}

TEST_F(SubscriptionGroupManagerTest, AutoCreateDisabled) {
  auto m = Open(/*auto_create=*/false);
  auto g = m->FindOrAutoCreate("G");
  ASSERT_FALSE(g.ok());
  EXPECT_TRUE(g.status().IsNotFound());
  EXPECT_EQ(g.status().message(),
            "consumer_group: subscription group 'G' does not exist and autoCreateSubscriptionGroup is false");
  EXPECT_EQ(m->Count(), 0u);
}

TEST_F(SubscriptionGroupManagerTest, FindOrAutoCreateValidatesName) {
  auto m = Open();
  auto g = m->FindOrAutoCreate("bad group");
  EXPECT_TRUE(g.status().IsInvalidArgument());
  EXPECT_EQ(g.status().message().rfind("consumer_group", 0), 0u) << g.status().message();
}

TEST_F(SubscriptionGroupManagerTest, ValidationNamesTheField) {
  auto m = Open();
  auto expect_invalid = [&](const mq::v1::SubscriptionGroupConfig& config, const std::string& field) {
    Status s = m->CreateOrUpdate(config);
    EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
    EXPECT_EQ(s.message().rfind(field, 0), 0u) << s.message();
  };
  expect_invalid(SubscriptionGroupManager::DefaultConfig("a b"), "group_name");
  expect_invalid(SubscriptionGroupManager::DefaultConfig(""), "group_name");
  auto c = SubscriptionGroupManager::DefaultConfig("G");
  c.set_retry_queue_nums(-1);
  expect_invalid(c, "retry_queue_nums");
  c = SubscriptionGroupManager::DefaultConfig("G");
  c.set_retry_max_times(-1);
  expect_invalid(c, "retry_max_times");
  c.set_retry_max_times(kMaxRetryMaxTimes + 1);
  expect_invalid(c, "retry_max_times");
  c = SubscriptionGroupManager::DefaultConfig("G");
  c.set_broker_id(-1);
  expect_invalid(c, "broker_id");
  EXPECT_EQ(m->Count(), 0u);
}

TEST_F(SubscriptionGroupManagerTest, UpdateDeleteAndRestart) {
  {
    auto m = Open();
    auto c = SubscriptionGroupManager::DefaultConfig("A");
    ASSERT_TRUE(m->CreateOrUpdate(c).ok());
    c.set_consume_enable(false);
    ASSERT_TRUE(m->CreateOrUpdate(c).ok());
    ASSERT_TRUE(m->CreateOrUpdate(SubscriptionGroupManager::DefaultConfig("B")).ok());
    ASSERT_TRUE(m->Delete("B").ok());
    Status missing = m->Delete("B");
    EXPECT_TRUE(missing.IsNotFound());
    EXPECT_NE(missing.message().find("'B'"), std::string::npos);
  }
  auto m = Open();
  ASSERT_EQ(m->All().size(), 1u);
  EXPECT_EQ(m->All()[0].group_name(), "A");
  EXPECT_FALSE(m->Get("A")->consume_enable());
}

TEST_F(SubscriptionGroupManagerTest, CorruptFileIsCorruptionThenBackupIsUsed) {
  {
    auto m = Open();
    ASSERT_TRUE(m->CreateOrUpdate(SubscriptionGroupManager::DefaultConfig("A")).ok());
  }
  const std::string path = config_dir_ + "/subscriptionGroup.json";
  Overwrite(path, "{{{");
  Overwrite(path + ".bak", "{{{");
  {
    SubscriptionGroupManager m(config_dir_);
    Status s = m.Load();
    EXPECT_EQ(s.code(), StatusCode::kCorruption);
    EXPECT_NE(s.message().find("subscriptionGroup.json"), std::string::npos);
  }
  Overwrite(path, "{}");  // an operator repairs the file by hand
  {
    auto m = Open();
    ASSERT_TRUE(m->CreateOrUpdate(SubscriptionGroupManager::DefaultConfig("A")).ok());
    ASSERT_TRUE(m->CreateOrUpdate(SubscriptionGroupManager::DefaultConfig("B")).ok());
  }
  Overwrite(path, "{{{");
  auto m = Open();
  EXPECT_TRUE(m->Get("A"));
  EXPECT_TRUE(m->Get("B")) << "the backup mirrors the latest version";
}

bool FileHasGroup(const std::string& path, const std::string& group) {
  auto content = ReadFileToString(path);
  return content.ok() && content->find("\"" + group + "\"") != std::string::npos;
}

TEST_F(SubscriptionGroupManagerTest, AutoCreatedGroupsAreWrittenOffTheRequestThread) {
  SubscriptionGroupManager::Options options;
  options.persist_delay = std::chrono::seconds(60);
  const std::string file = config_dir_ + "/subscriptionGroup.json";
  {
    SubscriptionGroupManager m(config_dir_, options);
    ASSERT_TRUE(m.Load().ok());
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(m.FindOrAutoCreate("cg" + std::to_string(i)).ok());
    EXPECT_FALSE(FileHasGroup(file, "cg0")) << "the pull path rewrote subscriptionGroup.json";
    EXPECT_TRUE(m.dirty());
    ASSERT_TRUE(m.CreateOrUpdate(SubscriptionGroupManager::DefaultConfig("admin_group")).ok());
    EXPECT_TRUE(FileHasGroup(file, "admin_group")) << "explicit changes are written before returning";
    EXPECT_TRUE(FileHasGroup(file, "cg99"));
    EXPECT_FALSE(m.dirty());
    ASSERT_TRUE(m.FindOrAutoCreate("late").ok());
    EXPECT_FALSE(FileHasGroup(file, "late"));
  }
  EXPECT_TRUE(FileHasGroup(file, "late")) << "destruction (graceful stop) writes pending groups";

  options.persist_delay = std::chrono::milliseconds(50);
  SubscriptionGroupManager m(config_dir_, options);
  ASSERT_TRUE(m.Load().ok());
  ASSERT_TRUE(m.FindOrAutoCreate("soon").ok());
  EXPECT_TRUE(mq::testing::WaitUntil([&] { return FileHasGroup(file, "soon"); }, std::chrono::seconds(10)));
}

TEST_F(SubscriptionGroupManagerTest, MaxGroupCountRefusesNewGroupsWithResourceExhausted) {
  SubscriptionGroupManager::Options options;
  options.max_group_count = 2;
  SubscriptionGroupManager m(config_dir_, options);
  ASSERT_TRUE(m.Load().ok());
  ASSERT_TRUE(m.FindOrAutoCreate("g1").ok());
  ASSERT_TRUE(m.CreateOrUpdate(SubscriptionGroupManager::DefaultConfig("g2")).ok());
  auto full = m.FindOrAutoCreate("g3");
  ASSERT_EQ(full.status().code(), StatusCode::kResourceExhausted) << full.status().ToString();
  EXPECT_EQ(full.status().message().rfind("consumer_group: cannot create subscription group 'g3'", 0), 0u)
      << full.status().message();
  EXPECT_NE(full.status().message().find("maxSubscriptionGroupCount=2"), std::string::npos);
  EXPECT_EQ(m.CreateOrUpdate(SubscriptionGroupManager::DefaultConfig("g3")).code(),
            StatusCode::kResourceExhausted);
  EXPECT_TRUE(m.FindOrAutoCreate("g1").ok());
  auto updated = SubscriptionGroupManager::DefaultConfig("g2");
  updated.set_retry_max_times(3);
  EXPECT_TRUE(m.CreateOrUpdate(updated).ok());
  ASSERT_TRUE(m.Delete("g1").ok());
  EXPECT_TRUE(m.FindOrAutoCreate("g3").ok());
}

}  // namespace
}  // namespace mq::broker
