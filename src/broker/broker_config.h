// BrokerConfig: every setting of mqbroker, named exactly as RocketMQ's BrokerConfig /
// MessageStoreConfig keys so existing broker.conf files carry over. Plain struct;
// BindBrokerConfig() is its field table, ToStoreOptions() derives the store's options.
// Immutable after startup except the keys UpdateBrokerConfig may change (see
// kRuntimeUpdatableKeys), which the controller guards itself.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "broker/store/store_options.h"
#include "common/config_file.h"
#include "common/result.h"

namespace mq::rpc {
struct ServerLimits;
}

namespace mq::broker {

struct BrokerConfig {
  // --- identity and network
  std::string brokerClusterName = "DefaultCluster";
  std::string brokerName = "broker-a";
  // Where updateBrokerConfig writes the keys it changes, so they outlive a restart (RocketMQ
  // brokerConfigPath). Empty: the -c file; none either: the change lasts until the next start.
  std::string brokerConfigPath;
  int64_t brokerId = 0;  // 0 = master, > 0 = slave
  // NameServers, "host:port;host:port". Empty: run without registration.
  std::string namesrvAddr;
  // Advertised address (what routes show); empty = first non-loopback IPv4 of this host.
  std::string brokerIP1;
  std::string bindAddress = "0.0.0.0";
  int32_t listenPort = 10911;
  // Replication port; -1 = listenPort + 1 (RocketMQ's rule, 10912), 0 = any free port.
  int32_t haListenPort = -1;
  // Ours: the fast send port, where producers send over plain TCP frames instead of gRPC calls
  // (docs/protocol.md). -1 = listenPort - 2 (RocketMQ's fast/VIP channel rule, 10909), 0 = any
  // free port. Advertised in the routes; clients fall back to listenPort without it.
  int32_t fastListenPort = -1;
  bool fastSendEnable = true;
  // RocketMQ's Netty IO ("selector") thread count, default 3 there: here the fast send port's IO
  // threads, each serving its connections for their life (FastIoThreads). 0 = half the cores, at
  // least 1: on a 2-core host one thread matched two in throughput and cost the broker 8-24 % less
  // CPU per message end to end (docs/benchmarks.md, twenty-first session).
  int32_t serverSelectorThreads = 0;
  // Slave only: the master's HA address host:port. Empty: learned from the NameServers.
  std::string haMasterAddress;
  // --- roles and storage
  std::string brokerRole = "ASYNC_MASTER";    // ASYNC_MASTER | SYNC_MASTER | SLAVE
  std::string flushDiskType = "ASYNC_FLUSH";  // ASYNC_FLUSH | SYNC_FLUSH
  std::string storePathRootDir;               // default $HOME/store
  int32_t mappedFileSizeCommitLog = 1024 * 1024 * 1024;
  int32_t mappedFileSizeConsumeQueue = 300000 * 20;
  int32_t flushIntervalCommitLog = 500;
  int64_t flushCommitLogEveryBytes = 4 << 20;  // ours: see StoreOptions::flush_commit_log_every_bytes
  int32_t flushIntervalConsumeQueue = 1000;
  int32_t flushIntervalIndex = 10000;  // ours: see StoreOptions::flush_interval_index_ms
  // Ours: bytes of the commit log behind its flushed end kept in the page cache (0 = no limit).
  int64_t commitLogPageCacheBytes = 0;
  int32_t syncFlushTimeout = 5000;
  // Ours: SYNC_FLUSH appends are staged in a ring of this many bytes that the flush thread
  // writes with one pwrite before each sync (0 = each put writes its own bytes).
  int32_t syncFlushStageBytes = 1 << 20;
  std::string deleteWhen = "04";
  int32_t fileReservedTime = 72;
  int32_t diskMaxUsedSpaceRatio = 75;
  // Percent of the store disk above which the oldest files go even if unexpired / puts are
  // refused (RocketMQ 5 MessageStoreConfig keys; 4.x reads them as -Drocketmq.broker.*).
  int32_t diskSpaceCleanForciblyRatio = 85;
  int32_t diskSpaceWarningLevelRatio = 90;
  int32_t cleanResourceInterval = 10000;  // ms between disk checks / retention passes
  bool messageIndexEnable = true;
  int32_t maxHashSlotNum = 5000000;
  int32_t maxIndexNum = 5000000 * 4;
  int32_t maxMessageSize = 4 * 1024 * 1024;
  // --- topics, groups, permissions
  int32_t defaultTopicQueueNums = 8;
  bool autoCreateTopicEnable = true;
  bool autoCreateSubscriptionGroup = true;
  int32_t brokerPermission = 6;  // PermName bits: READ 4 | WRITE 2
  // --- bounds on what clients can make the broker hold (ours; RocketMQ has no such keys)
  // Most topics / subscription groups this broker holds (system topics included); creating
  // one past the limit, by a send, a pull or mqadmin, fails with RESOURCE_EXHAUSTED.
  int32_t maxTopicCount = 50000;
  int32_t maxSubscriptionGroupCount = 50000;
  // Longest time (ms) a topic or group auto-created by client traffic is in memory only
  // before topics.json / subscriptionGroup.json is rewritten (one write per burst).
  int64_t autoCreatePersistDelayMills = 1000;
  // Most pulls (and GetConsumerIds waits) parked by long polling at once.
  int32_t maxSuspendedPullRequests = 10000;
  // Most clients (distinct heartbeating client ids) tracked at once; a new one past it is
  // refused until others leave (channelExpiredTimeout).
  int32_t maxClientCount = 100000;
  // Memory (bytes) gRPC may use for connections and in-flight request data on listenPort.
  int64_t grpcMemoryQuota = 512LL * 1024 * 1024;
  // Bytes of messages in pull responses built but not yet sent; a pull past it is answered
  // RESOURCE_EXHAUSTED and retried by the consumer.
  int64_t pullResponseMemoryQuota = 256LL * 1024 * 1024;
  // Bytes of send requests being processed (decoded and not yet answered); a send past it is
  // answered RESOURCE_EXHAUSTED and retried by the producer. gRPC's quota stops counting a
  // request once it is deserialized, so this bounds what it no longer sees.
  int64_t sendRequestMemoryQuota = 256LL * 1024 * 1024;
  // --- consumption
  bool longPollingEnable = true;
  int64_t shortPollingTimeMills = 1000;
  bool slaveReadEnable = false;
  int32_t accessMessageInMemoryMaxRatio = 40;
  int64_t flushConsumerOffsetInterval = 5000;
  int64_t channelExpiredTimeout = 120000;
  int64_t queueLockMaxLiveTime = 60000;
  // --- delay levels and retry (RocketMQ MessageStoreConfig / BrokerConfig)
  // Delay of each level, units s m h d; levels above the table are clamped to its last one.
  std::string messageDelayLevel = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h";
  int64_t flushDelayOffsetInterval = 10000;  // ms between delayOffset.json writes
  // Accept SQL92 (property) subscriptions; off by default, as in RocketMQ.
  bool enablePropertyFilter = false;
  // --- registration
  int64_t registerNameServerPeriod = 30000;
  int64_t registerBrokerTimeoutMills = 6000;
  // --- transactional messages (RocketMQ 5 BrokerConfig names and defaults)
  // A half message is first checked this long (ms) after it was stored, unless its
  // CHECK_IMMUNITY_TIME_IN_SECONDS property says otherwise.
  int64_t transactionTimeOut = 6000;
  // Time (ms) between two checks of one half message (4.x: 60 s; 5.x: 30 s).
  int64_t transactionCheckInterval = 30000;
  // Checks of one half message before it is moved to TRANS_CHECK_MAX_TIME_TOPIC.
  int32_t transactionCheckMax = 15;
  // --- scheduled delivery (RocketMQ 5 timer, RIP-43) and recall
  bool timerWheelEnable = true;
  int32_t timerPrecisionMs = 1000;       // wheel slot; delivery is at most this late
  int64_t timerMaxDelaySec = 259200;     // 3 days; farther delivery times are refused
  int32_t timerRollWindowSlot = 172800;  // slots in the wheel window (2 days at 1 s); farther: rolled
  // RocketMQ's default; a recall needs the handle only the producer received.
  bool recallMessageEnable = false;
  // --- pop consumption (RocketMQ 5 proxy / broker names and defaults; src/broker/pop/)
  int64_t minInvisibleTimeMillsForRecv = 10000;  // ReceiveMessage invisible_duration lower bound
  int64_t maxInvisibleTimeMills = 43200000;      // upper bound (12 h)
  int64_t defaultInvisibleTimeMills = 60000;     // auto-renewed deliveries (push consumers)
  int64_t renewAheadTimeMillis = 10000;          // renew this long before the deadline
  int64_t renewMaxTimeMillis = 10800000;         // stop renewing 3 h after the first delivery
  int64_t reviveInterval = 1000;                 // ms between pop maintenance ticks
  int32_t popPollingSize = 1024;                 // parked pops per topic
  int32_t maxPopPollingSize = 100000;            // parked pops in total
  // ReceiveMessage long_polling_timeout is clamped into [min, max] (proxy keys).
  int64_t grpcClientConsumerMinLongPollingTimeoutMillis = 5000;
  int64_t grpcClientConsumerMaxLongPollingTimeoutMillis = 20000;
  // A v2 client silent (no Heartbeat/Settings/receive) this long gets no more auto-renewals.
  int64_t grpcClientIdleTimeMills = 120000;
  // --- apache.rocketmq.v2 gRPC front (RocketMQ proxy keys)
  // Port of the v2 service the official RocketMQ 5 SDKs speak. 0 = off; -1 = any free port
  // (tests: the ready file's second line says which).
  int32_t grpcServerPort = 0;
  // Farthest delivery_timestamp a v2 DELAY message may ask for (proxy maxDelayTimeMills, 24 h).
  int64_t maxDelayTimeMills = 24LL * 3600 * 1000;
  // --- logging
  std::string logDir;
  std::string logLevel = "info";
};

ConfigSchema BindBrokerConfig(BrokerConfig* config);
// Fills derived defaults (storePathRootDir, brokerIP1) and checks cross-key rules; errors
// name the key.
Status FinalizeBrokerConfig(BrokerConfig* config);
// timerRollWindowSlot, shortened when needed so the window ends inside commit log retention
// (fileReservedTime less a quarter, at most an hour): a parked timer message is copied again
// at the window's end, and its record must still be there then.
int64_t EffectiveTimerRollWindowSlots(const BrokerConfig& config);
Result<std::vector<std::string>> ParseNamesrvAddr(const std::string& value);
store::StoreOptions ToStoreOptions(const BrokerConfig& config);
// Limits of the client port: requests up to 2 x maxMessageSize + 1 MiB reach the send
// validation (which names the oversized field); bigger ones are refused by gRPC unread.
rpc::ServerLimits ServerLimitsOf(const BrokerConfig& config);
bool IsSlave(const BrokerConfig& config);
// The fast send port's IO thread count: serverSelectorThreads, or half the cores (at least 1).
int FastIoThreads(const BrokerConfig& config);

// Keys mqadmin updateBrokerConfig may change on a running broker.
inline const std::vector<std::string> kRuntimeUpdatableKeys = {"brokerPermission", "slaveReadEnable",
                                                               "longPollingEnable", "shortPollingTimeMills"};

}  // namespace mq::broker
