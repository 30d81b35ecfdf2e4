#include "broker/broker_config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

namespace mq::broker {
namespace {

Status Finalize(ConfigMap values, BrokerConfig* c) {
  auto schema = BindBrokerConfig(c);
  MQ_RETURN_IF_ERROR(schema.Apply(values, nullptr));
  return FinalizeBrokerConfig(c);
}

TEST(BrokerConfigTest, RocketMqDefaults) {
  BrokerConfig c;
  ASSERT_TRUE(Finalize({}, &c).ok());
  EXPECT_EQ(c.listenPort, 10911);
  EXPECT_EQ(c.haListenPort, 10912);
  EXPECT_EQ(c.fastListenPort, 10909);  // RocketMQ's fast channel: listenPort - 2
  EXPECT_TRUE(c.fastSendEnable);
  EXPECT_EQ(c.brokerRole, "ASYNC_MASTER");
  EXPECT_EQ(c.flushDiskType, "ASYNC_FLUSH");
  EXPECT_EQ(c.defaultTopicQueueNums, 8);
  EXPECT_EQ(c.fileReservedTime, 72);
  EXPECT_EQ(c.deleteWhen, "04");
  EXPECT_EQ(c.maxMessageSize, 4 * 1024 * 1024);
  EXPECT_FALSE(c.storePathRootDir.empty());
  EXPECT_FALSE(c.brokerIP1.empty());
}

TEST(BrokerConfigTest, TheFastPortHasHalfTheCoresAsIoThreadsUnlessSet) {
  BrokerConfig automatic;
  ASSERT_TRUE(Finalize({}, &automatic).ok());
  EXPECT_EQ(automatic.serverSelectorThreads, 0);
  EXPECT_EQ(FastIoThreads(automatic), std::max(1, static_cast<int>(std::thread::hardware_concurrency() / 2)));
  BrokerConfig three;
  ASSERT_TRUE(Finalize({{"serverSelectorThreads", "3"}}, &three).ok());
  EXPECT_EQ(FastIoThreads(three), 3);
}

TEST(BrokerConfigTest, TheFastSendPortFollowsListenPortUnlessSet) {
  BrokerConfig ephemeral;
  ASSERT_TRUE(Finalize({{"listenPort", "0"}}, &ephemeral).ok());
  EXPECT_EQ(ephemeral.fastListenPort, 0);  // any free port, as listenPort
  BrokerConfig explicit_port;
  ASSERT_TRUE(Finalize({{"fastListenPort", "20000"}}, &explicit_port).ok());
  EXPECT_EQ(explicit_port.fastListenPort, 20000);
  BrokerConfig low;
  Status s = Finalize({{"listenPort", "2"}}, &low);
  ASSERT_TRUE(s.IsInvalidArgument());
  EXPECT_EQ(s.message().rfind("fastListenPort", 0), 0u) << s.message();
  BrokerConfig low_off;
  EXPECT_TRUE(Finalize({{"listenPort", "2"}, {"fastSendEnable", "false"}}, &low_off).ok());
  BrokerConfig out_of_range;
  s = Finalize({{"fastListenPort", "70000"}}, &out_of_range);
  ASSERT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("fastListenPort"), std::string::npos) << s.message();
}

// Before: nothing related retention to what waits in the commit log. With fileReservedTime=24
// and the 2-day timer window a message due in 30 h was parked once, and its record could be
// deleted before it was due; a delay level longer than retention lost its messages the same way.
TEST(BrokerConfigTest, WhatWaitsInTheCommitLogEndsInsideItsRetention) {
  BrokerConfig defaults;
  ASSERT_TRUE(Finalize({}, &defaults).ok());
  EXPECT_EQ(EffectiveTimerRollWindowSlots(defaults), 172800);  // 48 h inside 72 h: as configured
  BrokerConfig day;
  ASSERT_TRUE(Finalize({{"fileReservedTime", "24"}}, &day).ok());
  EXPECT_EQ(EffectiveTimerRollWindowSlots(day), 23 * 3600);  // 1 s slots, an hour short of 24 h
  BrokerConfig fine;
  ASSERT_TRUE(
      Finalize({{"fileReservedTime", "24"}, {"timerPrecisionMs", "100"}, {"timerRollWindowSlot", "1000000"}},
               &fine)
          .ok());
  EXPECT_EQ(EffectiveTimerRollWindowSlots(fine), 23 * 36000);
  BrokerConfig hour;
  ASSERT_TRUE(Finalize({{"fileReservedTime", "1"}, {"messageDelayLevel", "1s 30m"}}, &hour).ok());
  EXPECT_EQ(EffectiveTimerRollWindowSlots(hour), 45 * 60);  // a quarter short
  BrokerConfig short_retention;
  Status s = Finalize({{"fileReservedTime", "1"}}, &short_retention);  // the default levels reach 2 h
  ASSERT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_EQ(s.message().rfind("messageDelayLevel", 0), 0u) << s.message();
  EXPECT_NE(s.message().find("fileReservedTime=1"), std::string::npos) << s.message();
}

TEST(BrokerConfigTest, RoleAndIdMustAgree) {
  BrokerConfig slave_without_id;
  Status s = Finalize({{"brokerRole", "SLAVE"}}, &slave_without_id);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_EQ(s.message().rfind("brokerId", 0), 0u);
  BrokerConfig master_with_slave_id;
  EXPECT_TRUE(Finalize({{"brokerId", "2"}}, &master_with_slave_id).IsInvalidArgument());
  BrokerConfig slave;
  EXPECT_TRUE(Finalize({{"brokerRole", "SLAVE"}, {"brokerId", "1"}}, &slave).ok());
  EXPECT_TRUE(IsSlave(slave));
}

TEST(BrokerConfigTest, InvalidValuesNameTheKey) {
  auto key_of = [](ConfigMap m) {
    BrokerConfig c;
    Status s = Finalize(m, &c);
    return s.ok() ? std::string("OK") : s.message().substr(0, s.message().find(':'));
  };
  EXPECT_EQ(key_of({{"brokerRole", "MASTER"}}), "brokerRole");
  EXPECT_EQ(key_of({{"flushDiskType", "SOMETIMES"}}), "flushDiskType");
  EXPECT_EQ(key_of({{"listenPort", "-1"}}), "listenPort");
  EXPECT_EQ(key_of({{"brokerName", "bad name"}}), "brokerName");
  EXPECT_EQ(key_of({{"namesrvAddr", "127.0.0.1"}}), "namesrvAddr");
  EXPECT_EQ(key_of({{"mappedFileSizeCommitLog", "1048576"}}), "maxMessageSize");
  // A record must fit one replication chunk and one pull reply under gRPC's 64 MiB cap.
  EXPECT_EQ(key_of({{"maxMessageSize", "67108864"}}), "maxMessageSize");
  EXPECT_EQ(key_of({{"maxMessageSize", "66060288"}}), "OK");
  EXPECT_EQ(key_of({{"mappedFileSizeConsumeQueue", "1001"}}), "mappedFileSizeConsumeQueue");
  EXPECT_EQ(key_of({{"commitLogPageCacheBytes", "-1"}}), "commitLogPageCacheBytes");
  EXPECT_EQ(key_of({{"commitLogPageCacheBytes", "lots"}}), "commitLogPageCacheBytes");
  EXPECT_EQ(key_of({{"syncFlushStageBytes", "-1"}}), "syncFlushStageBytes");
  EXPECT_EQ(key_of({{"flushCommitLogEveryBytes", "-1"}}), "flushCommitLogEveryBytes");
  EXPECT_EQ(key_of({{"serverSelectorThreads", "-1"}}), "serverSelectorThreads");
  EXPECT_EQ(key_of({{"serverSelectorThreads", "65"}}), "serverSelectorThreads");
  EXPECT_EQ(key_of({{"syncFlushStageBytes", "2147483647"}}), "syncFlushStageBytes");
}

TEST(BrokerConfigTest, NamesrvAddrListAndStoreOptions) {
  auto list = ParseNamesrvAddr("127.0.0.1:9876;127.0.0.2:9876;");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 2u);
  BrokerConfig c;
  ASSERT_TRUE(
      Finalize({{"flushDiskType", "SYNC_FLUSH"}, {"brokerIP1", "10.1.2.3"}, {"storePathRootDir", "/tmp/x"}},
               &c)
          .ok());
  auto o = ToStoreOptions(c);
  EXPECT_EQ(o.flush_disk_type, store::FlushDiskType::kSyncFlush);
  EXPECT_EQ(o.store_host_ip, 0x0A010203u);
  EXPECT_EQ(o.store_path_root_dir, "/tmp/x");
  EXPECT_EQ(o.commit_log_page_cache_bytes, 0);  // the default: the kernel alone decides
  ASSERT_TRUE(Finalize({{"commitLogPageCacheBytes", "268435456"}, {"storePathRootDir", "/tmp/x"}}, &c).ok());
  EXPECT_EQ(ToStoreOptions(c).commit_log_page_cache_bytes, int64_t{256} << 20);
  EXPECT_EQ(ToStoreOptions(c).sync_flush_stage_bytes, 1 << 20);  // the default
  ASSERT_TRUE(Finalize({{"syncFlushStageBytes", "0"}, {"storePathRootDir", "/tmp/x"}}, &c).ok());
  EXPECT_EQ(ToStoreOptions(c).sync_flush_stage_bytes, 0);
  EXPECT_EQ(ToStoreOptions(c).flush_commit_log_every_bytes, 4 << 20);  // the default
  ASSERT_TRUE(Finalize({{"flushCommitLogEveryBytes", "0"}, {"storePathRootDir", "/tmp/x"}}, &c).ok());
  EXPECT_EQ(ToStoreOptions(c).flush_commit_log_every_bytes, 0);
}

}  // namespace
}  // namespace mq::broker
