// mqadmin: RocketMQ-style administration CLI. This is the only file that sees CLI11: it declares
// every verb with RocketMQ's flag letters, fills a CommandArgs and calls the verb's Run function
// (commands.h). Exit 0 on success; any failure is one line on stderr and a non-zero exit
// (1 for a failed verb, 2 for a bad command line).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "commands.h"

namespace {

using mq::admin::CommandArgs;
using Setup = std::function<void(CLI::App*, CommandArgs*)>;
using RunFn = mq::Status (*)(const CommandArgs&);

struct Verb {
  const char* name;
  const char* description;
  bool read;  // takes --json
  RunFn run;
  Setup setup;
};

// Option helpers (RocketMQ short letter + long name).
void Topic(CLI::App* c, CommandArgs* a, bool required = true) {
  auto* o = c->add_option("-t,--topic", a->topic, "topic name");
  if (required) o->required();
}
void Group(CLI::App* c, CommandArgs* a, bool required = true) {
  auto* o = c->add_option("-g,--consumerGroup", a->group, "consumer group name");
  if (required) o->required();
}
void BrokerOrCluster(CLI::App* c, CommandArgs* a) {
  c->add_option("-b,--brokerAddr", a->broker_addr, "broker address host:port");
  c->add_option("-c,--clusterName", a->cluster, "cluster name (every master of the cluster)");
}

std::vector<Verb> Verbs() {
  using namespace mq::admin;  // NOLINT: the Run functions
  return {
      {"updateTopic", "Update or create topic.", false, RunUpdateTopic,
       [](CLI::App* c, CommandArgs* a) {
         BrokerOrCluster(c, a);
         Topic(c, a);
         c->add_option("-r,--readQueueNums", a->read_queues, "read queue number (default 8)");
         c->add_option("-w,--writeQueueNums", a->write_queues, "write queue number (default 8)");
         c->add_option("-p,--perm", a->perm, "topic permission: 2 W, 4 R, 6 RW (default 6)");
         c->add_option("-o,--order", a->order, "order topic: true|false (default false)");
         c->add_option("-a,--attributes", a->attributes,
                       "RocketMQ 5 attributes: +key=value adds, -key removes, comma separated "
                       "(e.g. +message.type=FIFO)");
       }},
      {"deleteTopic", "Delete topic from broker and NameServer.", false, RunDeleteTopic,
       [](CLI::App* c, CommandArgs* a) {
         Topic(c, a);
         c->add_option("-c,--clusterName", a->cluster, "delete topic from which cluster")->required();
       }},
      {"topicList", "Fetch all topic list from name server.", true, RunTopicList,
       [](CLI::App* c, CommandArgs* a) {
         c->add_option("-c,--clusterName", a->cluster, "only this cluster");
       }},
      {"topicRoute", "Examine topic route info.", true, RunTopicRoute,
       [](CLI::App* c, CommandArgs* a) { Topic(c, a); }},
      {"topicStatus", "Examine topic Status info.", true, RunTopicStatus,
       [](CLI::App* c, CommandArgs* a) { Topic(c, a); }},
      {"topicClusterList", "Get cluster info for topic.", true, RunTopicClusterList,
       [](CLI::App* c, CommandArgs* a) { Topic(c, a); }},
      {"updateTopicPerm", "Update topic perm.", false, RunUpdateTopicPerm,
       [](CLI::App* c, CommandArgs* a) {
         BrokerOrCluster(c, a);
         Topic(c, a);
         c->add_option("-p,--perm", a->perm, "topic permission: 2 W, 4 R, 6 RW")->required();
       }},
      {"clusterList", "List cluster infos.", true, RunClusterList,
       [](CLI::App* c, CommandArgs* a) {
         c->add_option("-c,--clusterName", a->cluster, "only this cluster");
       }},
      {"brokerStatus", "Fetch broker runtime status data.", true, RunBrokerStatus, BrokerOrCluster},
      {"getBrokerConfig", "Get broker config by cluster or special broker.", true, RunGetBrokerConfig,
       BrokerOrCluster},
      {"updateBrokerConfig", "Update broker's config (runtime keys only).", false, RunUpdateBrokerConfig,
       [](CLI::App* c, CommandArgs* a) {
         BrokerOrCluster(c, a);
         c->add_option("-k,--key", a->key, "config key")->required();
         c->add_option("-v,--value", a->value, "config value")->required();
       }},
      {"haStatus", "Fetch HA runtime status: per master, each slave's acknowledged offset and lag.", true,
       RunHaStatus, BrokerOrCluster},
      {"wipeWritePerm", "Wipe write perm of broker in all name server you defined in the -n param.", false,
       RunWipeWritePerm,
       [](CLI::App* c, CommandArgs* a) {
         c->add_option("-b,--brokerName", a->broker_name, "broker name")->required();
       }},
      {"addWritePerm", "Add write perm of broker in all name server you defined in the -n param.", false,
       RunAddWritePerm,
       [](CLI::App* c, CommandArgs* a) {
         c->add_option("-b,--brokerName", a->broker_name, "broker name")->required();
       }},
      {"updateSubGroup", "Update or create subscription group.", false, RunUpdateSubGroup,
       [](CLI::App* c, CommandArgs* a) {
         BrokerOrCluster(c, a);
         c->add_option("-g,--groupName", a->group, "consumer group name")->required();
         c->add_option("-s,--consumeEnable", a->consume_enable, "consume enable: true|false (default true)");
         c->add_option("-m,--consumeFromMinEnable", a->consume_from_min,
                       "from min offset: true|false (default true)");
         c->add_option("-d,--consumeBroadcastEnable", a->broadcast, "broadcast: true|false (default false)");
         c->add_option("-o,--consumeMessageOrderly", a->orderly, "orderly: true|false (default false)");
         c->add_option("-q,--retryQueueNums", a->retry_queue_nums, "retry queue number (default 1)");
         c->add_option("-r,--retryMaxTimes", a->retry_max_times, "retry max times (default 16)");
         c->add_option("-i,--brokerId", a->broker_id, "consumer from which broker id (default 0)");
         c->add_option("-w,--whichBrokerWhenConsumeSlowly", a->which_broker_when_slow,
                       "which broker id when consume slowly (default 1)");
         c->add_option("-a,--notifyConsumerIdsChanged", a->notify_ids_changed,
                       "notify consumer ids changed: true|false (default true)");
       }},
      {"deleteSubGroup", "Delete subscription group from broker.", false, RunDeleteSubGroup,
       [](CLI::App* c, CommandArgs* a) {
         BrokerOrCluster(c, a);
         c->add_option("-g,--groupName", a->group, "consumer group name")->required();
         c->add_option("-r,--removeOffset", a->remove_offsets,
                       "remove the group's offsets: true|false (default false)");
       }},
      {"consumerProgress", "Query consumer's progress (per-queue offsets and lag with -g).", true,
       RunConsumerProgress,
       [](CLI::App* c, CommandArgs* a) {
         Group(c, a, false);
         Topic(c, a, false);
       }},
      {"consumerConnection", "Query consumer's socket connection, client version and subscription.", true,
       RunConsumerConnection, [](CLI::App* c, CommandArgs* a) { Group(c, a); }},
      {"producerConnection", "Query producer's socket connection and client version.", true,
       RunProducerConnection,
       [](CLI::App* c, CommandArgs* a) {
         c->add_option("-g,--producerGroup", a->group, "producer group name")->required();
         Topic(c, a);
       }},
      {"resetOffsetByTime", "Reset consumer offset by timestamp (without client restart).", true,
       RunResetOffsetByTime,
       [](CLI::App* c, CommandArgs* a) {
         c->add_option("-g,--group", a->group, "consumer group name")->required();
         Topic(c, a);
         c->add_option("-s,--timestamp", a->timestamp, "ms since epoch | now | yyyy-MM-dd#HH:mm:ss:SSS")
             ->required();
       }},
      {"queryMsgById", "Query Message by Id (offsetMsgId, or a unique key with -t).", true, RunQueryMsgById,
       [](CLI::App* c, CommandArgs* a) {
         c->add_option("-i,--msgId", a->msg_id, "offsetMsgId or unique key")->required();
         Topic(c, a, false);
       }},
      {"queryMsgByKey", "Query Message by Key.", true, RunQueryMsgByKey,
       [](CLI::App* c, CommandArgs* a) {
         Topic(c, a);
         c->add_option("-k,--msgKey", a->key, "message key")->required();
         c->add_option("-b,--beginTimestamp", a->begin_ms, "begin timestamp (ms)");
         c->add_option("-e,--endTimestamp", a->end_ms, "end timestamp (ms)");
         c->add_option("-m,--maxNum", a->max_num, "max number of messages per broker (default 64)");
       }},
      {"queryMsgByUniqueKey", "Query Message by Unique key.", true, RunQueryMsgByUniqueKey,
       [](CLI::App* c, CommandArgs* a) {
         Topic(c, a);
         c->add_option("-i,--msgId", a->msg_id, "unique key (msgId)")->required();
       }},
      {"queryMsgByOffset", "Query Message by offset.", true, RunQueryMsgByOffset,
       [](CLI::App* c, CommandArgs* a) {
         Topic(c, a);
         c->add_option("-b,--brokerName", a->broker_name, "broker name")->required();
         c->add_option("-i,--queueId", a->queue_id, "queue id")->required();
         c->add_option("-o,--offset", a->offset, "queue offset")->required();
       }},
      {"sendMessage", "Send a message.", true, RunSendMessage,
       [](CLI::App* c, CommandArgs* a) {
         Topic(c, a);
         c->add_option("-p,--body", a->body, "message body")->required();
         c->add_option("-k,--key", a->keys, "message keys (space separated)");
         c->add_option("-c,--tags", a->tags, "message tag");
         c->add_option("-b,--broker", a->broker_name, "send to this broker (name)");
         c->add_option("-i,--qid", a->queue_id, "send to this queue id (with -b)");
         c->add_option("-d,--delayLevel", a->delay_level, "delay level 1..18 (default 0: none)");
         c->add_option("--deliverTimeMs", a->deliver_time_ms,
                       "deliver at this time (epoch ms; scheduled message, prints a recall handle)");
       }},
      {"resendDLQ", "Resend dead-letter messages of a group to their original topic.", true, RunResendDlq,
       [](CLI::App* c, CommandArgs* a) {
         c->add_option("-g,--consumerGroup", a->group, "consumer group whose %DLQ% topic is read")
             ->required();
         c->add_option("-i,--msgId", a->msg_id, "resend this message (msgId or offsetMsgId in the DLQ)");
         c->add_flag("--all", a->all, "resend every message of the DLQ");
       }},
      {"recallMessage", "Recall (cancel) a scheduled message before its delivery time.", true,
       RunRecallMessage,
       [](CLI::App* c, CommandArgs* a) {
         c->set_help_flag("--help", "Print this help message and exit");  // -h is the handle (RocketMQ)
         Topic(c, a);
         c->add_option("-h,--recallHandle", a->recall_handle, "recall handle printed by sendMessage")
             ->required();
       }},
      {"consumeMessage", "Consume message.", true, RunConsumeMessage,
       [](CLI::App* c, CommandArgs* a) {
         Topic(c, a);
         c->add_option("-g,--consumerGroup", a->group, "consumer group: start at its offsets and commit");
         c->add_option("-b,--brokerName", a->broker_name, "only this broker");
         c->add_option("-i,--queueId", a->queue_id, "only this queue id");
         c->add_option("-o,--offset", a->offset, "start offset (with -b and -i)");
         c->add_option("-c,--MessageNumber", a->count, "number of messages to consume (default 128)");
         c->add_option("-s,--beginTimestamp", a->begin_ms, "begin timestamp (ms)");
         c->add_option("-e,--endTimestamp", a->end_ms, "end timestamp (ms)");
         c->add_option("--sql", a->sql,
                       "only messages matching this SQL92 selector (broker needs enablePropertyFilter=true)");
       }},
      {"queryTransactionHalf",
       "Query pending (not committed or rolled back) transactional half messages of a topic.", true,
       RunQueryTransactionHalf,
       [](CLI::App* c, CommandArgs* a) {
         Topic(c, a);
         c->add_option("-m,--maxNum", a->max_num, "max number of half messages per broker (default 64)");
       }},
      {"updateKvConfig", "Create or update KV config.", false, RunUpdateKvConfig,
       [](CLI::App* c, CommandArgs* a) {
         c->add_option("-s,--namespace", a->kv_namespace, "config namespace")->required();
         c->add_option("-k,--key", a->key, "config key")->required();
         c->add_option("-v,--value", a->value, "config value")->required();
       }},
      {"deleteKvConfig", "Delete KV config.", false, RunDeleteKvConfig,
       [](CLI::App* c, CommandArgs* a) {
         c->add_option("-s,--namespace", a->kv_namespace, "config namespace")->required();
         c->add_option("-k,--key", a->key, "config key")->required();
       }},
      {"getNamesrvConfig", "Get configs of name server.", true, RunGetNamesrvConfig,
       [](CLI::App*, CommandArgs*) {}},
  };
}

std::string OneLine(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "mqadmin: administration tool of the mq broker suite (RocketMQ-compatible verbs).\n"
      "NameServers come from -n \"host:port;host:port\" or the NAMESRV_ADDR environment variable."};
  app.name("mqadmin");
  app.require_subcommand(1);
  app.footer("Run 'mqadmin VERB --help' for the flags of one verb. Read verbs take --json.");
  CommandArgs args;
  std::vector<Verb> verbs = Verbs();
  std::vector<std::pair<CLI::App*, const Verb*>> subs;
  for (const auto& v : verbs) {
    CLI::App* sub = app.add_subcommand(v.name, v.description);
    sub->add_option("-n,--namesrvAddr", args.namesrv,
                    "NameServer list \"host:port;host:port\" (or NAMESRV_ADDR)");
    if (v.read) sub->add_flag("--json", args.json, "print one JSON document instead of a table");
    v.setup(sub, &args);
    subs.emplace_back(sub, &v);
  }
  if (argc <= 1) {
    std::cout << app.help();
    return 0;
  }
  std::string first = argv[1];
  if (!first.empty() && first[0] != '-' &&
      std::none_of(verbs.begin(), verbs.end(), [&](const Verb& v) { return first == v.name; })) {
    std::cerr << "mqadmin: unknown verb '" << first << "' (see mqadmin --help)\n";
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "mqadmin: " << OneLine(e.what()) << " (see mqadmin --help)\n";
    return 2;
  }
  for (const auto& [sub, verb] : subs) {
    if (!sub->parsed()) continue;
    mq::Status status;
    try {
      status = verb->run(args);
    } catch (const std::exception& e) {
      status = mq::Status::Internal(e.what());
    }
    if (!status.ok()) {
      std::cerr << "mqadmin " << verb->name << ": " << OneLine(status.ToString()) << '\n';
      return 1;
    }
    return 0;
  }
  return 2;
}
