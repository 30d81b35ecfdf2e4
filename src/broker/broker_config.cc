#include "broker/broker_config.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "broker/schedule/delay_levels.h"
#include "common/naming.h"
#include "common/rpc/grpc_defaults.h"

namespace mq::broker {

ConfigSchema BindBrokerConfig(BrokerConfig* c) {
  ConfigSchema s;
  s.AddString("brokerClusterName", &c->brokerClusterName, "cluster this broker belongs to");
  s.AddString("brokerName", &c->brokerName, "broker set name shared by master and slaves");
  s.AddInt("brokerId", &c->brokerId, 0, 1024, "0 = master, > 0 = slave");
  s.AddString("brokerConfigPath", &c->brokerConfigPath,
              "file updateBrokerConfig writes changed keys to (empty: the -c file)");
  s.AddString("namesrvAddr", &c->namesrvAddr, "NameServers, host:port;host:port");
  s.AddString("brokerIP1", &c->brokerIP1, "advertised IP (empty: first non-loopback IPv4)");
  s.AddString("bindAddress", &c->bindAddress, "address to bind");
  s.AddInt("listenPort", &c->listenPort, 0, 65535, "client port (0 = any free port)");
  s.AddInt("haListenPort", &c->haListenPort, -1, 65535,
           "replication port (-1 = listenPort + 1, 0 = any free port)");
  s.AddInt("fastListenPort", &c->fastListenPort, -1, 65535,
           "fast send port (-1 = listenPort - 2, 0 = any free port)");
  s.AddBool("fastSendEnable", &c->fastSendEnable, "serve the fast send port");
  s.AddInt(
      "serverSelectorThreads", &c->serverSelectorThreads, 0, 64,
      "IO threads of the fast send port, each serving its connections for their life (0 = half the cores)");
  s.AddString("haMasterAddress", &c->haMasterAddress,
              "slave: master's HA host:port (empty: from the NameServers)");
  s.AddEnum("brokerRole", &c->brokerRole, {"ASYNC_MASTER", "SYNC_MASTER", "SLAVE"}, "role");
  s.AddEnum("flushDiskType", &c->flushDiskType, {"ASYNC_FLUSH", "SYNC_FLUSH"}, "flush policy");
  s.AddString("storePathRootDir", &c->storePathRootDir, "store root (default $HOME/store)");
  s.AddInt("mappedFileSizeCommitLog", &c->mappedFileSizeCommitLog, 4096, INT32_MAX,
           "commit log segment bytes");
  s.AddInt("mappedFileSizeConsumeQueue", &c->mappedFileSizeConsumeQueue, 20 * 16, INT32_MAX,
           "consume queue segment bytes (multiple of 20)");
  s.AddInt("flushIntervalCommitLog", &c->flushIntervalCommitLog, 1, 60000, "ASYNC_FLUSH period (ms)");
  s.AddInt(
      "flushCommitLogEveryBytes", &c->flushCommitLogEveryBytes, 0, INT64_MAX,
      "ASYNC_FLUSH: also flush once this many bytes were appended since the last flush (0 = by time only)");
  s.AddInt("flushIntervalConsumeQueue", &c->flushIntervalConsumeQueue, 1, 60000,
           "ms between consume queue flushes and checkpoints");
  s.AddInt("flushIntervalIndex", &c->flushIntervalIndex, 0, 3'600'000,
           "ms between syncs of the key index (0 = at every checkpoint); recovery re-indexes from the last");
  s.AddInt(
      "commitLogPageCacheBytes", &c->commitLogPageCacheBytes, 0, INT64_MAX,
      "commit log bytes behind the flushed end kept in the page cache, older ones dropped (0 = no limit)");
  s.AddInt("syncFlushTimeout", &c->syncFlushTimeout, 1, 600000, "SYNC_FLUSH wait (ms)");
  s.AddInt("syncFlushStageBytes", &c->syncFlushStageBytes, 0, 1 << 30,
           "SYNC_FLUSH: ring of appends written with one pwrite before each sync (0 = off)");
  s.AddString("deleteWhen", &c->deleteWhen, "hours of the day expired files are deleted, e.g. 04 or 01;02");
  s.AddInt("fileReservedTime", &c->fileReservedTime, 1, 24 * 365, "hours a commit log file is kept");
  s.AddInt("diskMaxUsedSpaceRatio", &c->diskMaxUsedSpaceRatio, 10, 95, "disk percent that triggers cleaning");
  s.AddInt("diskSpaceCleanForciblyRatio", &c->diskSpaceCleanForciblyRatio, 10, 100,
           "disk percent above which the oldest files are deleted even if not expired");
  s.AddInt("diskSpaceWarningLevelRatio", &c->diskSpaceWarningLevelRatio, 10, 100,
           "disk percent above which sends are refused (disk full)");
  s.AddInt("cleanResourceInterval", &c->cleanResourceInterval, 10, 3600000,
           "ms between disk usage checks and retention passes");
  s.AddBool("messageIndexEnable", &c->messageIndexEnable, "build the key index");
  s.AddInt("maxHashSlotNum", &c->maxHashSlotNum, 1, 50000000, "hash slots per index file");
  s.AddInt("maxIndexNum", &c->maxIndexNum, 2, 100000000, "entries per index file");
  // At most gRPC's message cap less 1 MiB: the record (body + up to 64 KiB of headers) must fit
  // whole in one replication chunk and one pull reply, both gRPC messages.
  s.AddInt("maxMessageSize", &c->maxMessageSize, 1024, rpc::kMaxGrpcMessageBytes - 1024 * 1024,
           "largest message body (bytes)");
  s.AddInt("defaultTopicQueueNums", &c->defaultTopicQueueNums, 1, 1024, "queues of TBW102 (auto-create cap)");
  s.AddBool("autoCreateTopicEnable", &c->autoCreateTopicEnable, "create unknown topics on first send");
  s.AddBool("autoCreateSubscriptionGroup", &c->autoCreateSubscriptionGroup,
            "create unknown groups on first use");
  s.AddInt("brokerPermission", &c->brokerPermission, 0, 15, "broker perm bits (READ 4 | WRITE 2)");
  // At most what a NameServer takes in one registration (2,000,000): a broker past it would
  // stay out of every route.
  s.AddInt("maxTopicCount", &c->maxTopicCount, 16, 2000000, "most topics this broker holds");
  s.AddInt("maxSubscriptionGroupCount", &c->maxSubscriptionGroupCount, 1, 10000000,
           "most subscription groups this broker holds");
  s.AddInt("autoCreatePersistDelayMills", &c->autoCreatePersistDelayMills, 0, 60000,
           "longest time (ms) an auto-created topic or group is in memory only");
  s.AddInt("maxSuspendedPullRequests", &c->maxSuspendedPullRequests, 1, 10000000,
           "most long-polling requests parked at once");
  s.AddInt("maxClientCount", &c->maxClientCount, 1, 10000000, "most heartbeating clients tracked at once");
  s.AddInt("grpcMemoryQuota", &c->grpcMemoryQuota, 16LL * 1024 * 1024, INT64_MAX,
           "bytes gRPC may use for connections and in-flight requests");
  s.AddInt("pullResponseMemoryQuota", &c->pullResponseMemoryQuota, 4LL * 1024 * 1024, INT64_MAX,
           "bytes of pull responses built but not yet sent");
  s.AddInt("sendRequestMemoryQuota", &c->sendRequestMemoryQuota, 4LL * 1024 * 1024, INT64_MAX,
           "bytes of send requests decoded and not yet answered");
  s.AddBool("longPollingEnable", &c->longPollingEnable, "hold pulls until messages arrive");
  s.AddInt("shortPollingTimeMills", &c->shortPollingTimeMills, 0, 60000,
           "hold time when long polling is off");
  s.AddBool("slaveReadEnable", &c->slaveReadEnable, "send lagging consumers to a slave");
  s.AddBool("enablePropertyFilter", &c->enablePropertyFilter, "accept SQL92 property-filter subscriptions");
  s.AddInt("accessMessageInMemoryMaxRatio", &c->accessMessageInMemoryMaxRatio, 1, 100,
           "lag, in percent of RAM, above which consumers are sent to a slave");
  s.AddInt("flushConsumerOffsetInterval", &c->flushConsumerOffsetInterval, 100, 600000,
           "consumer offset persist period (ms)");
  s.AddInt("channelExpiredTimeout", &c->channelExpiredTimeout, 1000, 3600000, "client expiry (ms)");
  s.AddInt("queueLockMaxLiveTime", &c->queueLockMaxLiveTime, 1000, 3600000, "orderly queue lock TTL (ms)");
  s.AddInt("registerNameServerPeriod", &c->registerNameServerPeriod, 1000, 60000,
           "registration period (ms; RocketMQ clamps to 10-60 s)");
  s.AddInt("registerBrokerTimeoutMills", &c->registerBrokerTimeoutMills, 100, 60000,
           "registration RPC timeout (ms)");
  s.AddInt("transactionTimeOut", &c->transactionTimeOut, 100, 7LL * 24 * 3600 * 1000,
           "ms after which a half message is first checked");
  s.AddInt("transactionCheckInterval", &c->transactionCheckInterval, 100, 7LL * 24 * 3600 * 1000,
           "ms between two checks of one half message");
  s.AddInt("transactionCheckMax", &c->transactionCheckMax, 1, 1000,
           "checks before a half message goes to TRANS_CHECK_MAX_TIME_TOPIC");
  s.AddBool("timerWheelEnable", &c->timerWheelEnable, "accept scheduled messages (delivery time)");
  s.AddInt("timerPrecisionMs", &c->timerPrecisionMs, 10, 60000, "timer wheel slot (ms)");
  s.AddInt("timerMaxDelaySec", &c->timerMaxDelaySec, 1, 10LL * 366 * 86400,
           "farthest accepted delivery time (seconds ahead)");
  s.AddInt("timerRollWindowSlot", &c->timerRollWindowSlot, 2, 100000000,
           "timer wheel window in slots; farther messages are re-parked when it ends");
  s.AddBool("recallMessageEnable", &c->recallMessageEnable, "accept RecallMessage for scheduled messages");
  s.AddInt("grpcServerPort", &c->grpcServerPort, -1, 65535,
           "port of the apache.rocketmq.v2 service for RocketMQ 5 SDKs (0 = off, -1 = any free port)");
  s.AddInt("maxDelayTimeMills", &c->maxDelayTimeMills, 1, 10LL * 366 * 86400 * 1000,
           "farthest delivery time (ms ahead) a v2 DELAY message may ask for");
  s.AddString("logDir", &c->logDir, "directory of broker.log (empty: stderr only)");
  s.AddEnum("logLevel", &c->logLevel, {"trace", "debug", "info", "warn", "error", "critical", "off"},
            "log level");
  s.AddString("messageDelayLevel", &c->messageDelayLevel,
              "delay of each delay level, e.g. '1s 5s 10s 30s 1m' (units s m h d)");
  s.AddInt("flushDelayOffsetInterval", &c->flushDelayOffsetInterval, 10, 3'600'000,
           "ms between writes of delayOffset.json");
  s.AddInt("minInvisibleTimeMillsForRecv", &c->minInvisibleTimeMillsForRecv, 0, 43200000,
           "shortest invisible_duration a ReceiveMessage may ask (ms)");
  s.AddInt("maxInvisibleTimeMills", &c->maxInvisibleTimeMills, 1, 7LL * 24 * 3600 * 1000,
           "longest invisible_duration a ReceiveMessage may ask (ms)");
  s.AddInt("defaultInvisibleTimeMills", &c->defaultInvisibleTimeMills, 100, 43200000,
           "invisible time of auto-renewed (push consumer) deliveries (ms)");
  s.AddInt("renewAheadTimeMillis", &c->renewAheadTimeMillis, 10, 43200000,
           "auto-renewed deliveries are extended this long before they expire (ms)");
  s.AddInt("renewMaxTimeMillis", &c->renewMaxTimeMillis, 1000, 7LL * 24 * 3600 * 1000,
           "no auto-renewal after this long since the first delivery (ms)");
  s.AddInt("reviveInterval", &c->reviveInterval, 10, 60000,
           "ms between pop maintenance ticks (expiry wake-ups, auto-renewal)");
  s.AddInt("popPollingSize", &c->popPollingSize, 1, 10000000, "most parked pops per topic");
  s.AddInt("maxPopPollingSize", &c->maxPopPollingSize, 1, 10000000, "most parked pops in total");
  s.AddInt("grpcClientConsumerMinLongPollingTimeoutMillis", &c->grpcClientConsumerMinLongPollingTimeoutMillis,
           0, 600000, "shortest long polling of a ReceiveMessage (ms)");
  s.AddInt("grpcClientConsumerMaxLongPollingTimeoutMillis", &c->grpcClientConsumerMaxLongPollingTimeoutMillis,
           0, 600000, "longest long polling of a ReceiveMessage (ms)");
  s.AddInt("grpcClientIdleTimeMills", &c->grpcClientIdleTimeMills, 1000, 24LL * 3600 * 1000,
           "a v2 client silent this long (ms) gets no more auto-renewals of its messages");
  return s;
}

Result<std::vector<std::string>> ParseNamesrvAddr(const std::string& value) {
  std::vector<std::string> out;
  for (const auto& part : SplitList(value)) {
    auto hp = ParseHostPort("namesrvAddr", part);
    if (!hp.ok()) return hp.status();
    out.push_back(hp->ToString());
  }
  return out;
}

namespace {

int64_t RetentionMillis(const BrokerConfig& c) {
  return static_cast<int64_t>(c.fileReservedTime) * 3600 * 1000;
}

}  // namespace

int64_t EffectiveTimerRollWindowSlots(const BrokerConfig& c) {
  const int64_t retention = RetentionMillis(c);
  const int64_t safe_ms = retention - std::min<int64_t>(retention / 4, 3600 * 1000);
  const int64_t most = std::max<int64_t>(2, safe_ms / c.timerPrecisionMs);
  return std::min<int64_t>(c.timerRollWindowSlot, most);
}

Status FinalizeBrokerConfig(BrokerConfig* c) {
  MQ_RETURN_IF_ERROR(ValidateName("brokerClusterName", c->brokerClusterName));
  MQ_RETURN_IF_ERROR(ValidateName("brokerName", c->brokerName));
  if (c->brokerRole == "SLAVE" && c->brokerId == 0) {
    return Status::InvalidArgument("brokerId: a SLAVE needs brokerId > 0 (0 is the master)");
  }
  if (c->brokerRole != "SLAVE" && c->brokerId != 0) {
    return Status::InvalidArgument(
        fmt::format("brokerId: {} is a slave id but brokerRole is {}", c->brokerId, c->brokerRole));
  }
  MQ_RETURN_IF_ERROR(ParseNamesrvAddr(c->namesrvAddr).status());
  MQ_ASSIGN_OR_RETURN(schedule::DelayLevels levels, schedule::DelayLevels::Parse(c->messageDelayLevel));
  // A delayed message waits in the commit log for its whole delay: retention must outlast it.
  int64_t longest_delay_ms = 0;
  for (int32_t level = 1; level <= levels.max_level(); ++level) {
    longest_delay_ms = std::max(longest_delay_ms, levels.DelayMillis(level));
  }
  if (longest_delay_ms >= RetentionMillis(*c)) {
    return Status::InvalidArgument(
        fmt::format("messageDelayLevel: its longest level ({} s) is not shorter than fileReservedTime={} h: "
                    "a delayed message could be deleted before it is due; raise fileReservedTime or shorten "
                    "the level",
                    longest_delay_ms / 1000, c->fileReservedTime));
  }
  if (static_cast<int64_t>(c->maxMessageSize) + 64 * 1024 + 8 > c->mappedFileSizeCommitLog) {
    return Status::InvalidArgument(
        fmt::format("maxMessageSize: {} bytes (+64 KiB of headers) do not fit in a commit log segment of "
                    "mappedFileSizeCommitLog={} bytes",
                    c->maxMessageSize, c->mappedFileSizeCommitLog));
  }
  if (c->mappedFileSizeConsumeQueue % 20 != 0) {
    return Status::InvalidArgument("mappedFileSizeConsumeQueue: must be a multiple of 20");
  }
  if (c->haListenPort == -1) {
    // RocketMQ's rule; an ephemeral client port (tests) gets an ephemeral HA port too.
    c->haListenPort = c->listenPort == 0 ? 0 : c->listenPort + 1;
    if (c->haListenPort > 65535) return Status::InvalidArgument("haListenPort: listenPort + 1 exceeds 65535");
  }
  if (c->fastListenPort == -1) {
    // RocketMQ's fast channel rule; an ephemeral client port (tests) gets an ephemeral one too.
    c->fastListenPort = c->listenPort == 0 ? 0 : c->listenPort - 2;
    if (c->fastSendEnable && c->fastListenPort < 1 && c->listenPort != 0) {
      return Status::InvalidArgument(
          fmt::format("fastListenPort: listenPort - 2 = {} is not a port; set fastListenPort or "
                      "fastSendEnable=false",
                      c->fastListenPort));
    }
  }
  if (!c->haMasterAddress.empty())
    MQ_RETURN_IF_ERROR(ParseHostPort("haMasterAddress", c->haMasterAddress).status());
  if (c->storePathRootDir.empty()) {
    const char* home = std::getenv("HOME");
    c->storePathRootDir = std::string(home && *home ? home : ".") + "/store";
  }
  if (c->brokerIP1.empty()) c->brokerIP1 = Ipv4ToString(FirstNonLoopbackIpv4());
  MQ_RETURN_IF_ERROR(ParseHostPort("brokerIP1", c->brokerIP1 + ":1").status());
  return store::ValidateStoreOptions(ToStoreOptions(*c));
}

store::StoreOptions ToStoreOptions(const BrokerConfig& c) {
  store::StoreOptions o;
  o.store_path_root_dir = c.storePathRootDir;
  o.replica = IsSlave(c);
  o.mapped_file_size_commit_log = c.mappedFileSizeCommitLog;
  o.commit_log_page_cache_bytes = c.commitLogPageCacheBytes;
  o.mapped_file_size_consume_queue = c.mappedFileSizeConsumeQueue;
  o.flush_disk_type =
      c.flushDiskType == "SYNC_FLUSH" ? store::FlushDiskType::kSyncFlush : store::FlushDiskType::kAsyncFlush;
  o.flush_interval_commit_log_ms = c.flushIntervalCommitLog;
  o.flush_commit_log_every_bytes = c.flushCommitLogEveryBytes;
  o.flush_interval_consume_queue_ms = c.flushIntervalConsumeQueue;
  o.flush_interval_index_ms = c.flushIntervalIndex;
  o.sync_flush_timeout_ms = c.syncFlushTimeout;
  o.sync_flush_stage_bytes = c.syncFlushStageBytes;
  o.delete_when = c.deleteWhen;
  o.file_reserved_time_hours = c.fileReservedTime;
  o.disk_max_used_space_ratio = c.diskMaxUsedSpaceRatio;
  o.disk_space_clean_forcibly_ratio = c.diskSpaceCleanForciblyRatio / 100.0;
  o.disk_space_warning_level_ratio = c.diskSpaceWarningLevelRatio / 100.0;
  o.clean_resource_interval_ms = c.cleanResourceInterval;
  o.message_index_enable = c.messageIndexEnable;
  o.max_hash_slot_num = c.maxHashSlotNum;
  o.max_index_num = c.maxIndexNum;
  // The store bounds the whole encoded record; leave room for the header and properties.
  o.max_message_size = c.maxMessageSize + 64 * 1024;
  in_addr addr{};
  if (inet_pton(AF_INET, c.brokerIP1.c_str(), &addr) == 1) o.store_host_ip = ntohl(addr.s_addr);
  o.store_host_port = static_cast<uint32_t>(c.listenPort);
  return o;
}

rpc::ServerLimits ServerLimitsOf(const BrokerConfig& c) {
  rpc::ServerLimits limits;
  // The envelope (topic, properties, keys, up to 1024 batch entries) is bounded by a body's
  // size again plus 1 MiB; a request between maxMessageSize and this limit still gets the
  // precise "messages[i].body" error instead of gRPC's generic one.
  limits.max_receive_bytes = 2 * c.maxMessageSize + 1024 * 1024;
  limits.memory_quota_bytes = c.grpcMemoryQuota;
  return limits;
}

bool IsSlave(const BrokerConfig& c) { return c.brokerRole == "SLAVE"; }

int FastIoThreads(const BrokerConfig& c) {
  if (c.serverSelectorThreads > 0) return c.serverSelectorThreads;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency() / 2));
}

}  // namespace mq::broker
