// The real mqadmin binary against a real mqnamesrv and mqbroker: every verb, its table output,
// its --json document, and the error cases (one line on stderr, non-zero exit).
#include <arpa/inet.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "broker_fixture.h"
#include "grpc_test_util.h"
#include "namesrv_fixture.h"
#include "testutil/process.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

struct AdminRun {
  int code = -1;
  std::string out;  // stdout and stderr together
  std::vector<std::string> Lines() const {
    std::vector<std::string> lines;
    std::istringstream in(out);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return lines;
  }
};

Struct ParseJson(const std::string& text) {
  Struct s;
  auto status = google::protobuf::util::JsonStringToMessage(text, &s);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in: " << text;
  return s;
}

const Value& Field(const Struct& s, const std::string& key) {
  static const Value kNull;
  auto it = s.fields().find(key);
  return it == s.fields().end() ? kNull : it->second;
}

class MqadminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv("NAMESRV_ADDR");
    ASSERT_TRUE(namesrv_.started()) << namesrv_.process().ReadLog();
    broker_ = std::make_unique<BrokerProcess>(
        BrokerOptions{namesrv_.address(), dir_.Sub("broker-a"), "broker-a", {}});
    ASSERT_TRUE(broker_->Start()) << broker_->process().ReadLog();
    ASSERT_TRUE(WaitUntil([&] {
      mq::v1::GetClusterInfoResponse info;
      return Call(namesrv_.stub(), &mq::v1::NameServer::Stub::GetClusterInfo, mq::v1::GetClusterInfoRequest(),
                  &info)
                 .ok() &&
             info.live_brokers_size() == 1;
    }));
  }

  // Runs mqadmin with args (plus -n NAMESRV unless with_ns is false).
  AdminRun Run(std::vector<std::string> args, bool with_ns = true) {
    if (with_ns) {
      args.push_back("-n");
      args.push_back(namesrv_.address());
    }
    std::string log = dir_.Sub("mqadmin." + std::to_string(++runs_) + ".out");
    ChildProcess p;
    AdminRun r;
    if (!p.Start(BinaryPath("mqadmin"), args, log)) return r;
    auto status = p.Wait(std::chrono::seconds(30));
    if (status && WIFEXITED(*status)) r.code = WEXITSTATUS(*status);
    r.out = p.ReadLog();
    return r;
  }
  Struct RunJson(std::vector<std::string> args) {
    args.push_back("--json");
    AdminRun r = Run(std::move(args));
    EXPECT_EQ(r.code, 0) << r.out;
    return ParseJson(r.out);
  }
  void ExpectOneLineError(const AdminRun& r, const std::string& fragment) {
    EXPECT_NE(r.code, 0) << r.out;
    EXPECT_EQ(r.Lines().size(), 1u) << r.out;
    EXPECT_NE(r.out.find(fragment), std::string::npos) << r.out;
  }
  bool WaitForRoute(const std::string& topic, int32_t perm) {
    return WaitUntil([&] {
      mq::v1::TopicRouteData route;
      return QueryRoute(namesrv_.stub(), topic, &route).ok() && route.queue_datas_size() == 1 &&
             route.queue_datas(0).perm() == perm;
    });
  }
  // The NameServer's ORDER_TOPIC_CONFIG / OrderTopic kv entry, read directly.
  grpc::Status GetOrderTopicKv(mq::v1::KvConfigResponse* value) {
    mq::v1::KvConfigRequest get;
    get.set_namespace_("ORDER_TOPIC_CONFIG");
    get.set_key("OrderTopic");
    return Call(namesrv_.stub(), &mq::v1::NameServer::Stub::GetKvConfig, get, value);
  }
  // Sends one message through mqadmin and returns its --json result.
  Struct Send(const std::string& topic, const std::string& body, const std::string& keys) {
    return RunJson({"sendMessage", "-t", topic, "-p", body, "-k", keys, "-c", "TagA"});
  }

  TempDir dir_;
  NamesrvProcess namesrv_;
  std::unique_ptr<BrokerProcess> broker_;
  int runs_ = 0;
};

TEST_F(MqadminTest, HelpDocumentsEveryVerb) {
  AdminRun r = Run({"--help"}, false);
  EXPECT_EQ(r.code, 0);
  for (const char* verb :
       {"updateTopic",      "deleteTopic",        "topicList",           "topicRoute",
        "topicStatus",      "topicClusterList",   "updateTopicPerm",     "clusterList",
        "brokerStatus",     "getBrokerConfig",    "updateBrokerConfig",  "haStatus",
        "wipeWritePerm",    "addWritePerm",       "updateSubGroup",      "deleteSubGroup",
        "consumerProgress", "consumerConnection", "producerConnection",  "resetOffsetByTime",
        "queryMsgById",     "queryMsgByKey",      "queryMsgByUniqueKey", "queryMsgByOffset",
        "sendMessage",      "consumeMessage",     "updateKvConfig",      "deleteKvConfig",
        "getNamesrvConfig"}) {
    EXPECT_NE(r.out.find(verb), std::string::npos) << verb;
  }
  r = Run({"updateTopic", "--help"}, false);
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("--readQueueNums"), std::string::npos) << r.out;
}

TEST_F(MqadminTest, TopicLifecycle) {
  AdminRun r = Run({"updateTopic", "-c", "DefaultCluster", "-t", "AdminTopic", "-r", "4", "-w", "4"});
  ASSERT_EQ(r.code, 0) << r.out;
  ASSERT_TRUE(WaitForRoute("AdminTopic", 6));
  r = Run({"topicList"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("AdminTopic"), std::string::npos) << r.out;
  Struct list = RunJson({"topicList", "-c", "DefaultCluster"});
  bool listed = false;
  for (const auto& t : Field(list, "topics").list_value().values())
    listed |= t.string_value() == "AdminTopic";
  EXPECT_TRUE(listed);

  r = Run({"topicRoute", "-t", "AdminTopic"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("broker-a"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("#Read Queues"), std::string::npos) << r.out;
  Struct route = RunJson({"topicRoute", "-t", "AdminTopic"});
  const auto& qd = Field(route, "queueDatas").list_value().values(0).struct_value();
  EXPECT_EQ(Field(qd, "brokerName").string_value(), "broker-a");
  EXPECT_EQ(Field(qd, "readQueueNums").number_value(), 4);
  const auto& bd = Field(route, "brokerDatas").list_value().values(0).struct_value();
  EXPECT_EQ(Field(Field(bd, "brokerAddrs").struct_value(), "0").string_value(), broker_->address());

  Struct status = RunJson({"topicStatus", "-t", "AdminTopic"});
  EXPECT_EQ(Field(status, "queues").list_value().values_size(), 4);
  r = Run({"topicStatus", "-t", "AdminTopic"});
  EXPECT_NE(r.out.find("#Max Offset"), std::string::npos) << r.out;
  r = Run({"topicClusterList", "-t", "AdminTopic"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("DefaultCluster"), std::string::npos);

  r = Run({"updateTopicPerm", "-c", "DefaultCluster", "-t", "AdminTopic", "-p", "4"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(WaitForRoute("AdminTopic", 4));
  ExpectOneLineError(Run({"updateTopicPerm", "-b", broker_->address(), "-t", "AdminTopic", "-p", "3"}),
                     "perm");

  r = Run({"deleteTopic", "-c", "DefaultCluster", "-t", "AdminTopic"});
  EXPECT_EQ(r.code, 0) << r.out;
  ExpectOneLineError(Run({"topicRoute", "-t", "AdminTopic"}), "AdminTopic");
}

TEST_F(MqadminTest, ClusterAndBrokerVerbs) {
  AdminRun r = Run({"clusterList"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("broker-a"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(broker_->address()), std::string::npos) << r.out;
  Struct cl = RunJson({"clusterList"});
  const auto& b = Field(cl, "brokers").list_value().values(0).struct_value();
  EXPECT_EQ(Field(b, "cluster").string_value(), "DefaultCluster");
  EXPECT_EQ(Field(b, "brokerName").string_value(), "broker-a");
  EXPECT_EQ(Field(b, "brokerId").number_value(), 0);
  EXPECT_EQ(Field(b, "addr").string_value(), broker_->address());

  Struct st = RunJson({"brokerStatus", "-b", broker_->address()});
  const auto& st0 = Field(st, "brokers").list_value().values(0).struct_value();
  EXPECT_EQ(Field(Field(st0, "status").struct_value(), "brokerName").string_value(), "broker-a");
  r = Run({"brokerStatus", "-c", "DefaultCluster"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("brokerVersionDesc"), std::string::npos) << r.out;

  r = Run({"updateBrokerConfig", "-b", broker_->address(), "-k", "shortPollingTimeMills", "-v", "700"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("without a config file (-c): in effect until it restarts"), std::string::npos)
      << r.out;
  Struct cfg = RunJson({"getBrokerConfig", "-c", "DefaultCluster"});
  const auto& c0 = Field(cfg, "brokers").list_value().values(0).struct_value();
  EXPECT_EQ(Field(Field(c0, "config").struct_value(), "shortPollingTimeMills").string_value(), "700");
  ExpectOneLineError(Run({"updateBrokerConfig", "-b", broker_->address(), "-k", "listenPort", "-v", "1"}),
                     "listenPort");

  Struct ha = RunJson({"haStatus", "-c", "DefaultCluster"});
  const auto& h0 = Field(ha, "brokers").list_value().values(0).struct_value();
  EXPECT_EQ(Field(h0, "role").string_value(), "ASYNC_MASTER");
  EXPECT_EQ(Field(h0, "slaveCount").string_value(), "0");
  r = Run({"haStatus", "-b", broker_->address()});
  EXPECT_NE(r.out.find("no slave connected"), std::string::npos) << r.out;

  // A slave joins: haStatus shows it with its acknowledged offset and lag.
  BrokerProcess slave(
      {namesrv_.address(), dir_.Sub("broker-a-s"), "broker-a", {"brokerRole=SLAVE", "brokerId=1"}});
  ASSERT_TRUE(slave.Start()) << slave.process().ReadLog();
  ASSERT_TRUE(WaitUntil(
      [&] {
        Struct s = RunJson({"haStatus", "-c", "DefaultCluster"});
        const auto& master = Field(s, "brokers").list_value().values(0).struct_value();
        return Field(master, "slaveCount").string_value() == "1";
      },
      std::chrono::seconds(20), std::chrono::milliseconds(200)));
  Struct ha1 = RunJson({"haStatus", "-c", "DefaultCluster"});
  const auto& slaves =
      Field(Field(ha1, "brokers").list_value().values(0).struct_value(), "slaves").list_value();
  ASSERT_EQ(slaves.values_size(), 1);
  EXPECT_EQ(Field(slaves.values(0).struct_value(), "brokerId").string_value(), "1");
  EXPECT_FALSE(Field(slaves.values(0).struct_value(), "lagBytes").string_value().empty());

  ASSERT_EQ(Run({"updateTopic", "-b", broker_->address(), "-t", "PermTopic"}).code, 0);
  ASSERT_TRUE(WaitForRoute("PermTopic", 6));
  r = Run({"wipeWritePerm", "-b", "broker-a"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("OK"), std::string::npos) << r.out;
  EXPECT_TRUE(WaitForRoute("PermTopic", 4));
  EXPECT_EQ(Run({"addWritePerm", "-b", "broker-a"}).code, 0);
  EXPECT_TRUE(WaitForRoute("PermTopic", 6));
}

TEST_F(MqadminTest, HaStatusShowsWhyASlaveIsRefused) {
  // Another segment size: the master's replication handshake refuses this slave.
  BrokerProcess slave({namesrv_.address(),
                       dir_.Sub("broker-a-s"),
                       "broker-a",
                       {"brokerRole=SLAVE", "brokerId=1", "mappedFileSizeCommitLog=8388608"}});
  ASSERT_TRUE(slave.Start()) << slave.process().ReadLog();
  Struct ha;
  ASSERT_TRUE(WaitUntil(
      [&] {
        ha = RunJson({"haStatus", "-c", "DefaultCluster"});
        const auto& master = Field(ha, "brokers").list_value().values(0).struct_value();
        return Field(master, "refused").list_value().values_size() == 1;
      },
      std::chrono::seconds(20), std::chrono::milliseconds(200)))
      << slave.process().ReadLog();
  const auto& master = Field(ha, "brokers").list_value().values(0).struct_value();
  EXPECT_EQ(Field(master, "slaveCount").string_value(), "0");
  const auto& refused = Field(master, "refused").list_value().values(0).struct_value();
  EXPECT_EQ(Field(refused, "brokerId").string_value(), "1");
  EXPECT_EQ(Field(refused, "reason").string_value().rfind("SEGMENT_SIZE_MISMATCH: ", 0), 0u);

  AdminRun r = Run({"haStatus", "-b", broker_->address()});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("no slave connected"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("REFUSED broker-a"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("mappedFileSizeCommitLog=8388608"), std::string::npos) << r.out;
}

TEST_F(MqadminTest, ErrorsAreOneLineAndNonZero) {
  auto start = std::chrono::steady_clock::now();
  AdminRun r = Run({"topicList", "-n", "127.0.0.1:1"}, false);
  ExpectOneLineError(r, "unreachable");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  ExpectOneLineError(Run({"clusterList"}, false), "NAMESRV_ADDR");
  ExpectOneLineError(Run({"topicRoute", "-t", "bad topic!"}), "topic");
  ExpectOneLineError(Run({"topicRoute", "-t", "NoSuchTopic"}), "NoSuchTopic");
  ExpectOneLineError(Run({"consumerProgress", "-g", "NoSuchGroup"}), "NoSuchGroup");
  ExpectOneLineError(Run({"brokerStatus", "-b", "127.0.0.1:1"}), "unreachable");
  ExpectOneLineError(Run({"brokerStatus"}), "-b");
  r = Run({"noSuchVerb"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.Lines().size(), 1u) << r.out;
  r = Run({"topicRoute"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.Lines().size(), 1u) << r.out;
}

TEST_F(MqadminTest, SendQueryAndConsumeMessages) {
  ASSERT_EQ(Run({"updateTopic", "-c", "DefaultCluster", "-t", "MsgTopic", "-r", "2", "-w", "2"}).code, 0);
  ASSERT_TRUE(WaitForRoute("MsgTopic", 6));
  std::vector<Struct> sent;
  for (int i = 0; i < 3; ++i)
    sent.push_back(Send("MsgTopic", "body-" + std::to_string(i), "key-" + std::to_string(i)));
  for (const auto& s : sent) {
    EXPECT_EQ(Field(s, "status").string_value(), "SEND_OK");
    EXPECT_EQ(Field(s, "brokerName").string_value(), "broker-a");
    EXPECT_EQ(Field(s, "offsetMsgId").string_value().size(), 32u);
  }
  const auto& first = sent[0];
  auto qid = static_cast<int32_t>(Field(first, "queueId").number_value());
  auto qoff = static_cast<int64_t>(Field(first, "queueOffset").number_value());
  ASSERT_TRUE(WaitForMaxOffset(broker_->messaging(), "MsgTopic", qid, qoff + 1));
  for (const auto& s : sent) {
    ASSERT_TRUE(WaitForMaxOffset(broker_->messaging(), "MsgTopic",
                                 static_cast<int32_t>(Field(s, "queueId").number_value()),
                                 static_cast<int64_t>(Field(s, "queueOffset").number_value()) + 1));
  }

  AdminRun r = Run({"queryMsgById", "-i", Field(first, "offsetMsgId").string_value()});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("body-0"), std::string::npos) << r.out;
  Struct by_unique = RunJson({"queryMsgById", "-i", Field(first, "msgId").string_value(), "-t", "MsgTopic"});
  EXPECT_EQ(Field(Field(by_unique, "messages").list_value().values(0).struct_value(), "body").string_value(),
            "body-0");
  Struct uk = RunJson({"queryMsgByUniqueKey", "-t", "MsgTopic", "-i", Field(first, "msgId").string_value()});
  EXPECT_EQ(Field(Field(uk, "messages").list_value().values(0).struct_value(), "keys").string_value(),
            "key-0");
  r = Run({"queryMsgByKey", "-t", "MsgTopic", "-k", "key-1"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find(Field(sent[1], "msgId").string_value()), std::string::npos) << r.out;
  Struct bo = RunJson({"queryMsgByOffset", "-t", "MsgTopic", "-b", "broker-a", "-i", std::to_string(qid),
                       "-o", std::to_string(qoff)});
  EXPECT_EQ(Field(Field(bo, "messages").list_value().values(0).struct_value(), "body").string_value(),
            "body-0");
  ExpectOneLineError(Run({"queryMsgByKey", "-t", "MsgTopic", "-k", "nope"}), "NotFound");

  r = Run({"consumeMessage", "-t", "MsgTopic", "-c", "10", "--json"});
  ASSERT_EQ(r.code, 0) << r.out;
  auto lines = r.Lines();
  ASSERT_EQ(lines.size(), 3u) << r.out;
  for (const auto& l : lines) {
    Struct m = ParseJson(l);
    for (const char* f : {"msgId", "offsetMsgId", "topic", "tags", "keys", "queueId", "queueOffset",
                          "bornTimestamp", "storeTimestamp", "body"}) {
      EXPECT_TRUE(m.fields().count(f)) << f << " in " << l;
    }
    EXPECT_EQ(Field(m, "tags").string_value(), "TagA");
  }
  r = Run({"consumeMessage", "-t", "MsgTopic", "-b", "broker-a", "-i", std::to_string(qid), "-o",
           std::to_string(qoff), "-c", "1", "--json"});
  ASSERT_EQ(r.code, 0) << r.out;
  ASSERT_EQ(r.Lines().size(), 1u) << r.out;
  EXPECT_EQ(Field(ParseJson(r.Lines()[0]), "body").string_value(), "body-0");
  r = Run({"consumeMessage", "-t", "MsgTopic", "-c", "2"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("consumed 2 message(s)"), std::string::npos) << r.out;
  ExpectOneLineError(Run({"sendMessage", "-t", "MsgTopic", "-p", "x", "-b", "broker-z"}), "broker-z");
}

TEST_F(MqadminTest, GroupsProgressAndConnections) {
  ASSERT_EQ(Run({"updateTopic", "-c", "DefaultCluster", "-t", "GrpTopic", "-r", "1", "-w", "1"}).code, 0);
  ASSERT_TRUE(WaitForRoute("GrpTopic", 6));
  AdminRun r = Run({"updateSubGroup", "-c", "DefaultCluster", "-g", "AdminGroup", "-r", "3"});
  ASSERT_EQ(r.code, 0) << r.out;
  for (int i = 0; i < 4; ++i) Send("GrpTopic", "m" + std::to_string(i), "k");
  ASSERT_TRUE(WaitForMaxOffset(broker_->messaging(), "GrpTopic", 0, 4));

  // consumeMessage with -g commits where it stopped.
  r = Run({"consumeMessage", "-t", "GrpTopic", "-g", "AdminGroup", "-c", "3", "--json"});
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.Lines().size(), 3u);
  Struct progress = RunJson({"consumerProgress", "-g", "AdminGroup"});
  EXPECT_EQ(Field(progress, "diffTotal").number_value(), 1);
  const auto& q0 = Field(progress, "queues").list_value().values(0).struct_value();
  EXPECT_EQ(Field(q0, "brokerOffset").number_value(), 4);
  EXPECT_EQ(Field(q0, "consumerOffset").number_value(), 3);
  r = Run({"consumerProgress", "-g", "AdminGroup"});
  EXPECT_NE(r.out.find("Diff Total: 1"), std::string::npos) << r.out;
  r = Run({"consumerProgress"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("AdminGroup"), std::string::npos) << r.out;

  Struct reset = RunJson({"resetOffsetByTime", "-g", "AdminGroup", "-t", "GrpTopic", "-s", "0"});
  EXPECT_EQ(Field(Field(reset, "queues").list_value().values(0).struct_value(), "offset").number_value(), 0);
  progress = RunJson({"consumerProgress", "-g", "AdminGroup"});
  EXPECT_EQ(Field(progress, "diffTotal").number_value(), 4);
  ExpectOneLineError(Run({"resetOffsetByTime", "-g", "AdminGroup", "-t", "GrpTopic", "-s", "yesterday"}),
                     "timestamp");

  ExpectOneLineError(Run({"consumerConnection", "-g", "AdminGroup"}), "AdminGroup");
  mq::v1::HeartbeatRequest hb;
  hb.set_client_id("10.0.0.1@test");
  hb.add_producers()->set_group("AdminProducer");
  auto* consumer = hb.add_consumers();
  consumer->set_group("AdminGroup");
  auto* sub = consumer->add_subscriptions();
  sub->set_topic("GrpTopic");
  sub->set_expression("*");
  mq::v1::HeartbeatResponse hb_resp;
  ASSERT_GRPC_OK(Call(broker_->messaging(), &mq::v1::Messaging::Stub::Heartbeat, hb, &hb_resp));
  Struct cc = RunJson({"consumerConnection", "-g", "AdminGroup"});
  const auto& c0 = Field(cc, "connections").list_value().values(0).struct_value();
  EXPECT_EQ(Field(c0, "clientId").string_value(), "10.0.0.1@test");
  EXPECT_EQ(Field(c0, "messageModel").string_value(), "CLUSTERING");
  r = Run({"producerConnection", "-g", "AdminProducer", "-t", "GrpTopic"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("10.0.0.1@test"), std::string::npos) << r.out;

  r = Run({"deleteSubGroup", "-c", "DefaultCluster", "-g", "AdminGroup", "-r", "true"});
  EXPECT_EQ(r.code, 0) << r.out;
  ExpectOneLineError(Run({"updateSubGroup", "-c", "DefaultCluster", "-g", "bad group"}), "group");
}

// During an outage the progress of a group is what an operator asks first: consumerProgress
// (and topicStatus) reads a broker set through its slave while the master is down (RocketMQ's
// selectBrokerAddr reads a slave once the master is gone from the route; here also before the NameServer has
// dropped it). It failed outright with the master's "unreachable".
TEST_F(MqadminTest, ConsumerProgressReadsABrokerSetThroughItsSlaveWhileTheMasterIsDown) {
  BrokerProcess slave(
      {namesrv_.address(), dir_.Sub("broker-a-s"), "broker-a", {"brokerRole=SLAVE", "brokerId=1"}});
  ASSERT_TRUE(slave.Start()) << slave.process().ReadLog();
  ASSERT_EQ(Run({"updateTopic", "-c", "DefaultCluster", "-t", "HaTopic", "-r", "1", "-w", "1"}).code, 0);
  ASSERT_TRUE(WaitForRoute("HaTopic", 6));
  ASSERT_EQ(Run({"updateSubGroup", "-c", "DefaultCluster", "-g", "HaGroup"}).code, 0);
  for (int i = 0; i < 4; ++i) Send("HaTopic", "m" + std::to_string(i), "k");
  ASSERT_TRUE(WaitForMaxOffset(broker_->messaging(), "HaTopic", 0, 4));
  AdminRun r = Run({"consumeMessage", "-t", "HaTopic", "-g", "HaGroup", "-c", "3", "--json"});
  ASSERT_EQ(r.code, 0) << r.out;
  // The slave has the messages and, once the master's metadata reached it, the group's offset.
  mq::v1::GetConsumeStatsRequest req;
  req.set_group("HaGroup");
  ASSERT_TRUE(WaitUntil(
      [&] {
        mq::v1::GetConsumeStatsResponse resp;
        if (!Call(slave.admin(), &mq::v1::BrokerAdmin::Stub::GetConsumeStats, req, &resp).ok()) return false;
        for (const auto& q : resp.queues()) {
          if (q.topic() == "HaTopic" && q.broker_offset() == 4 && q.consumer_offset() == 3) return true;
        }
        return false;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(100)))
      << "the slave never had the group's offset";

  broker_->process().Kill();
  Struct progress = RunJson({"consumerProgress", "-g", "HaGroup"});
  EXPECT_EQ(Field(progress, "diffTotal").number_value(), 1);
  bool found = false;
  for (const auto& v : Field(progress, "queues").list_value().values()) {
    const auto& q = v.struct_value();
    if (Field(q, "topic").string_value() != "HaTopic") continue;
    found = true;
    EXPECT_EQ(Field(q, "brokerName").string_value(), "broker-a");
    EXPECT_EQ(Field(q, "brokerOffset").number_value(), 4);
    EXPECT_EQ(Field(q, "consumerOffset").number_value(), 3);
  }
  EXPECT_TRUE(found) << "no row of HaTopic";
  r = Run({"consumerProgress"});
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("HaGroup"), std::string::npos) << r.out;
  Struct status = RunJson({"topicStatus", "-t", "HaTopic"});
  ASSERT_EQ(Field(status, "queues").list_value().values_size(), 1) << r.out;
  EXPECT_EQ(Field(Field(status, "queues").list_value().values(0).struct_value(), "maxOffset").number_value(),
            4);
  Struct by_offset = RunJson({"queryMsgByOffset", "-t", "HaTopic", "-b", "broker-a", "-i", "0", "-o", "3"});
  EXPECT_EQ(Field(Field(by_offset, "messages").list_value().values(0).struct_value(), "body").string_value(),
            "m3");
}

TEST_F(MqadminTest, NamesrvKvAndConfig) {
  AdminRun r = Run({"updateKvConfig", "-s", "ORDER_TOPIC_CONFIG", "-k", "OrderTopic", "-v", "broker-a:4"});
  ASSERT_EQ(r.code, 0) << r.out;
  mq::v1::KvConfigResponse value;
  ASSERT_GRPC_OK(GetOrderTopicKv(&value));
  EXPECT_EQ(value.value(), "broker-a:4");
  EXPECT_EQ(Run({"deleteKvConfig", "-s", "ORDER_TOPIC_CONFIG", "-k", "OrderTopic"}).code, 0);
  EXPECT_FALSE(GetOrderTopicKv(&value).ok());

  Struct cfg = RunJson({"getNamesrvConfig"});
  const auto& n0 = Field(cfg, "namesrvs").list_value().values(0).struct_value();
  EXPECT_EQ(Field(n0, "addr").string_value(), namesrv_.address());
  EXPECT_GT(Field(n0, "config").struct_value().fields_size(), 0);
}

// 127.0.0.1:<a port nobody listens on>: connections to it are refused.
std::string RefusingAddress() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  return "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
}

// Before: a verb over every NameServer stopped at the first that failed, so one NameServer
// down (listed first) kept a change (wipeWritePerm before maintenance, a kv config) from all.
TEST_F(MqadminTest, AVerbOverEveryNameServerGoesOnPastOneThatIsDown) {
  const std::string dead = RefusingAddress();
  const std::string both = dead + ";" + namesrv_.address();
  AdminRun r =
      Run({"updateKvConfig", "-s", "ORDER_TOPIC_CONFIG", "-k", "OrderTopic", "-v", "broker-a:4", "-n", both},
          /*with_ns=*/false);
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("1 of 2 NameServers failed: NameServer " + dead), std::string::npos) << r.out;
  mq::v1::KvConfigResponse value;
  ASSERT_GRPC_OK(GetOrderTopicKv(&value));
  EXPECT_EQ(value.value(), "broker-a:4");

  ASSERT_EQ(Run({"updateTopic", "-c", "DefaultCluster", "-t", "Drained"}).code, 0);
  ASSERT_TRUE(WaitForRoute("Drained", 6));
  r = Run({"wipeWritePerm", "-b", "broker-a", "-n", both}, /*with_ns=*/false);
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("wipe write perm of broker[broker-a] in name server[" + namesrv_.address() + "] OK"),
            std::string::npos)
      << r.out;
  EXPECT_TRUE(WaitForRoute("Drained", 4));
}

}  // namespace
}  // namespace mq::testing
