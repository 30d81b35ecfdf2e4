// The mqadmin verbs, one Run function each, and the parsed arguments they share.
//
// main.cc owns the command line (CLI11) and fills a CommandArgs; the verb files
// (topic_commands.cc, cluster_commands.cc, consumer_commands.cc, message_commands.cc,
// namesrv_commands.cc) never see CLI11. Every Run function writes its result to stdout (an
// aligned table, or one JSON document with --json) and returns a non-OK Status on any failure,
// which main.cc prints as one line on stderr. Single-threaded; one verb per process.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace mq::admin {

// Flags keep RocketMQ's letters; a field is only meaningful for the verbs that declare it.
// Integer sentinels (-1) mean "not given".
struct CommandArgs {
  std::string namesrv;  // -n "host:port;host:port" (falls back to $NAMESRV_ADDR)
  bool json = false;    // --json

  std::string topic;         // -t
  std::string cluster;       // -c (cluster name)
  std::string broker_addr;   // -b for broker-addressed verbs (host:port)
  std::string broker_name;   // -b for verbs that take a broker name
  std::string group;         // -g
  int32_t read_queues = 8;   // -r
  int32_t write_queues = 8;  // -w
  int32_t perm = 6;          // -p
  std::string order;         // -o "true"/"false" (updateTopic)
  std::string attributes;    // -a "+message.type=FIFO,-key" (updateTopic)

  std::string key;           // -k
  std::string value;         // -v
  std::string kv_namespace;  // -s (KV verbs)

  // updateSubGroup / deleteSubGroup.
  std::string consume_enable = "true";      // -s
  std::string consume_from_min = "true";    // -m
  std::string broadcast = "false";          // -d
  std::string orderly = "false";            // -o
  int32_t retry_queue_nums = 1;             // -q
  int32_t retry_max_times = 16;             // -r
  int64_t broker_id = 0;                    // -i
  int64_t which_broker_when_slow = 1;       // -w
  std::string notify_ids_changed = "true";  // -a
  std::string remove_offsets = "false";     // -r (deleteSubGroup)

  std::string timestamp;  // -s for resetOffsetByTime (ms | now | yyyy-MM-dd#HH:mm:ss:SSS)

  // Messages.
  std::string msg_id;     // -i (queryMsgById, queryMsgByUniqueKey)
  int32_t queue_id = -1;  // -i (queryMsgByOffset, sendMessage, consumeMessage)
  int64_t offset = -1;    // -o
  std::string body;       // -p
  std::string keys;       // -k (space separated)
  std::string tags;       // -c (sendMessage)
  int64_t count = 128;    // -c (consumeMessage)
  int64_t begin_ms = -1;  // -b / -s
  int64_t end_ms = -1;    // -e
  int32_t max_num = 64;   // -m (queryMsgByKey)

  // Delay levels and dead-letter queues.
  int32_t delay_level = 0;      // -d (sendMessage)
  bool all = false;             // --all (resendDLQ)
  std::string sql;              // --sql (consumeMessage): SQL92 selector the broker evaluates
  int64_t deliver_time_ms = 0;  // --deliverTimeMs (sendMessage)
  std::string recall_handle;    // -h (recallMessage)
};

// Topics.
Status RunUpdateTopic(const CommandArgs& a);
Status RunDeleteTopic(const CommandArgs& a);
Status RunTopicList(const CommandArgs& a);
Status RunTopicRoute(const CommandArgs& a);
Status RunTopicStatus(const CommandArgs& a);
Status RunTopicClusterList(const CommandArgs& a);
Status RunUpdateTopicPerm(const CommandArgs& a);

// Cluster and brokers.
Status RunClusterList(const CommandArgs& a);
Status RunBrokerStatus(const CommandArgs& a);
Status RunGetBrokerConfig(const CommandArgs& a);
Status RunUpdateBrokerConfig(const CommandArgs& a);
Status RunHaStatus(const CommandArgs& a);
Status RunWipeWritePerm(const CommandArgs& a);
Status RunAddWritePerm(const CommandArgs& a);

// Groups and consumers.
Status RunUpdateSubGroup(const CommandArgs& a);
Status RunDeleteSubGroup(const CommandArgs& a);
Status RunConsumerProgress(const CommandArgs& a);
Status RunConsumerConnection(const CommandArgs& a);
Status RunProducerConnection(const CommandArgs& a);
Status RunResetOffsetByTime(const CommandArgs& a);

// Messages.
Status RunQueryMsgById(const CommandArgs& a);
Status RunQueryMsgByKey(const CommandArgs& a);
Status RunQueryMsgByUniqueKey(const CommandArgs& a);
Status RunQueryMsgByOffset(const CommandArgs& a);
Status RunSendMessage(const CommandArgs& a);
Status RunConsumeMessage(const CommandArgs& a);
Status RunQueryTransactionHalf(const CommandArgs& a);
Status RunResendDlq(const CommandArgs& a);
Status RunRecallMessage(const CommandArgs& a);

// NameServer.
Status RunUpdateKvConfig(const CommandArgs& a);
Status RunDeleteKvConfig(const CommandArgs& a);
Status RunGetNamesrvConfig(const CommandArgs& a);

}  // namespace mq::admin
