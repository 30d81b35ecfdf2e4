#include "namesrv/kv_config_store.h"

#include <gtest/gtest.h>

namespace mq::namesrv {
namespace {

TEST(KvConfigStoreTest, PutGetListDelete) {
  KvConfigStore kv;
  ASSERT_TRUE(kv.Put("ORDER_TOPIC_CONFIG", "T1", "broker-a:4").ok());
  ASSERT_TRUE(kv.Put("ORDER_TOPIC_CONFIG", "T2", "broker-b:8").ok());
  EXPECT_EQ(*kv.Get("ORDER_TOPIC_CONFIG", "T1"), "broker-a:4");
  EXPECT_EQ(kv.List("ORDER_TOPIC_CONFIG")->size(), 2u);
  ASSERT_TRUE(kv.Delete("ORDER_TOPIC_CONFIG", "T1").ok());
  EXPECT_TRUE(kv.Get("ORDER_TOPIC_CONFIG", "T1").status().IsNotFound());
  EXPECT_TRUE(kv.Delete("ORDER_TOPIC_CONFIG", "T1").ok());  // idempotent
  EXPECT_TRUE(kv.List("nothing")->empty());
}

TEST(KvConfigStoreTest, RejectsEmptyNamespaceOrKey) {
  KvConfigStore kv;
  EXPECT_EQ(kv.Put("", "k", "v").message(), "namespace: must not be empty");
  EXPECT_EQ(kv.Put("ns", "", "v").message(), "key: must not be empty");
  EXPECT_TRUE(kv.Put("ns", "k", std::string(100'000, 'x')).IsInvalidArgument());
}

}  // namespace
}  // namespace mq::namesrv
