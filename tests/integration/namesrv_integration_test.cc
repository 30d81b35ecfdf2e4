// Drives the real mqnamesrv binary through its gRPC API.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <csignal>

#include "namesrv_fixture.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

using namespace std::chrono_literals;

template <typename Req, typename Resp, typename Fn>
grpc::Status Call(Fn fn, const Req& req, Resp* resp) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  return fn(&ctx, req, resp);
}

#define ASSERT_GRPC_OK(expr)                                              \
  do {                                                                    \
    grpc::Status s_ = (expr);                                             \
    ASSERT_TRUE(s_.ok()) << s_.error_code() << " " << s_.error_message(); \
  } while (0)

class NamesrvIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(ns_.started()) << ns_.process().ReadLog(); }
  mq::v1::NameServer::Stub* stub() { return ns_.stub(); }
  NamesrvProcess ns_;
};

TEST_F(NamesrvIntegrationTest, TwoBrokerSetsWithSlaves) {
  mq::v1::RegisterBrokerResponse resp;
  ASSERT_GRPC_OK(Register(stub(), Identity("c1", "broker-a", 0, "127.0.0.1:10911", "127.0.0.1:10912"),
                          Topics({"TopicA", "Shared"}), 1, &resp));
  EXPECT_EQ(resp.topics_registered(), 2);
  EXPECT_EQ(resp.master_addr(), "");
  ASSERT_GRPC_OK(Register(stub(), Identity("c1", "broker-a", 1, "127.0.0.2:10911"),
                          Topics({"TopicA", "Shared"}), 1, &resp));
  EXPECT_EQ(resp.master_addr(), "127.0.0.1:10911");
  EXPECT_EQ(resp.ha_server_addr(), "127.0.0.1:10912");
  ASSERT_GRPC_OK(Register(stub(), Identity("c1", "broker-b", 0, "127.0.0.3:10911", "127.0.0.3:10912"),
                          Topics({"Shared"}, 8)));
  ASSERT_GRPC_OK(Register(stub(), Identity("c1", "broker-b", 2, "127.0.0.4:10911"), Topics({"Shared"}, 8)));

  mq::v1::TopicRouteData route;
  ASSERT_GRPC_OK(QueryRoute(stub(), "Shared", &route));
  ASSERT_EQ(route.queue_datas_size(), 2);
  EXPECT_EQ(route.queue_datas(0).broker_name(), "broker-a");
  EXPECT_EQ(route.queue_datas(1).write_queue_nums(), 8);
  ASSERT_EQ(route.broker_datas_size(), 2);
  EXPECT_EQ(route.broker_datas(1).broker_addrs().at(0), "127.0.0.3:10911");
  EXPECT_EQ(route.broker_datas(1).broker_addrs().at(2), "127.0.0.4:10911");
  ASSERT_GRPC_OK(QueryRoute(stub(), "TopicA", &route));
  EXPECT_EQ(route.queue_datas_size(), 1);

  mq::v1::GetClusterInfoResponse cluster;
  ASSERT_GRPC_OK(Call([&](auto* c, auto& r, auto* o) { return stub()->GetClusterInfo(c, r, o); },
                      mq::v1::GetClusterInfoRequest(), &cluster));
  EXPECT_EQ(cluster.live_brokers_size(), 4);
  EXPECT_EQ(cluster.cluster_addr_table().at("c1").broker_names_size(), 2);

  mq::v1::GetAllTopicsRequest all;
  mq::v1::GetAllTopicsResponse topics;
  ASSERT_GRPC_OK(
      Call([&](auto* c, auto& r, auto* o) { return stub()->GetAllTopics(c, r, o); }, all, &topics));
  EXPECT_EQ(topics.topics_size(), 2);
}

TEST_F(NamesrvIntegrationTest, UnknownTopicIsNotFound) {
  auto s = QueryRoute(stub(), "NoSuchTopic");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(s.error_message().find("NoSuchTopic"), std::string::npos);
}

TEST_F(NamesrvIntegrationTest, LightHeartbeatAfterRegistration) {
  auto broker = Identity("c1", "broker-a", 0, "127.0.0.1:10911");
  mq::v1::BrokerHeartbeatRequest hb;
  *hb.mutable_broker() = broker;
  *hb.mutable_data_version() = Version(7);
  mq::v1::BrokerHeartbeatResponse resp;
  auto heartbeat = [&](auto* c, auto& r, auto* o) { return stub()->Heartbeat(c, r, o); };
  ASSERT_GRPC_OK(Call(heartbeat, hb, &resp));
  EXPECT_TRUE(resp.need_full_registration());
  ASSERT_GRPC_OK(Register(stub(), broker, Topics({"T"}), 7));
  ASSERT_GRPC_OK(Call(heartbeat, hb, &resp));
  EXPECT_FALSE(resp.need_full_registration());
  *hb.mutable_data_version() = Version(8);
  ASSERT_GRPC_OK(Call(heartbeat, hb, &resp));
  EXPECT_TRUE(resp.need_full_registration());
}

TEST_F(NamesrvIntegrationTest, HundredThousandTopicsRegisterInChunks) {
  auto topics = ManyTopics(100'000);
  auto start = std::chrono::steady_clock::now();
  mq::v1::RegisterBrokerResponse resp;
  ASSERT_GRPC_OK(Register(stub(), Identity("c1", "broker-big", 0, "127.0.0.9:10911"), topics, 1, &resp));
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(resp.topics_registered(), 100'000);
  ASSERT_GRPC_OK(QueryRoute(stub(), "BenchTopic_99999"));
  RecordProperty("register_100k_ms", static_cast<int>(ms));
}

TEST_F(NamesrvIntegrationTest, BadInputGetsInvalidArgumentNamingTheField) {
  struct Case {
    mq::v1::BrokerIdentity broker;
    std::vector<mq::v1::TopicConfig> topics;
    std::string field;
  };
  std::vector<Case> cases = {
      {Identity("", "broker-a", 0, "127.0.0.1:1"), Topics({"T"}), "broker.cluster_name"},
      {Identity("c1", "", 0, "127.0.0.1:1"), Topics({"T"}), "broker.broker_name"},
      {Identity("c1", "bad/name", 0, "127.0.0.1:1"), Topics({"T"}), "broker.broker_name"},
      {Identity("c1", "broker-a", -1, "127.0.0.1:1"), Topics({"T"}), "broker.broker_id"},
      {Identity("c1", "broker-a", 0, "not-an-address"), Topics({"T"}), "broker.broker_addr"},
      {Identity("c1", "broker-a", 0, "127.0.0.1:1"), Topics({std::string(128, 'x')}),
       "topic_configs[0].topic_name"},
      {Identity("c1", "broker-a", 0, "127.0.0.1:1"), Topics({"ok", "bad topic"}),
       "topic_configs[1].topic_name"},
      {Identity("c1", "broker-a", 0, "127.0.0.1:1"), Topics({"T"}, -1), "topic_configs[0].read_queue_nums"},
  };
  for (const auto& c : cases) {
    auto s = Register(stub(), c.broker, c.topics);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_EQ(s.error_message().rfind(c.field, 0), 0u) << s.error_message();
  }
  EXPECT_EQ(QueryRoute(stub(), std::string(200, 't')).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(QueryRoute(stub(), "").error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  mq::v1::BrokerHeartbeatRequest no_broker;
  mq::v1::BrokerHeartbeatResponse hb_resp;
  auto s = Call([&](auto* c, auto& r, auto* o) { return stub()->Heartbeat(c, r, o); }, no_broker, &hb_resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message().rfind("broker", 0), 0u);

  // Still serving after all of that.
  ASSERT_GRPC_OK(Register(stub(), Identity("c1", "broker-a", 0, "127.0.0.1:10911"), Topics({"T"})));
  ASSERT_GRPC_OK(QueryRoute(stub(), "T"));
}

TEST_F(NamesrvIntegrationTest, MalformedRegistrationStreams) {
  // First chunk without identity.
  grpc::ClientContext ctx;
  mq::v1::RegisterBrokerResponse resp;
  auto writer = stub()->RegisterBroker(&ctx, &resp);
  mq::v1::RegisterBrokerChunk chunk;
  *chunk.add_topic_configs() = Topics({"T"})[0];
  writer->Write(chunk);
  writer->WritesDone();
  auto s = writer->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message().rfind("broker", 0), 0u);

  // Announced count does not match.
  grpc::ClientContext ctx2;
  auto writer2 = stub()->RegisterBroker(&ctx2, &resp);
  mq::v1::RegisterBrokerChunk header;
  *header.mutable_broker() = Identity("c1", "broker-a", 0, "127.0.0.1:10911");
  header.set_total_topics(5);
  *header.add_topic_configs() = Topics({"T"})[0];
  writer2->Write(header);
  writer2->WritesDone();
  s = writer2->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message().rfind("topic_configs", 0), 0u);
  EXPECT_EQ(QueryRoute(stub(), "T").error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(NamesrvIntegrationTest, DeleteTopicWritePermAndKvConfig) {
  ASSERT_GRPC_OK(Register(stub(), Identity("c1", "broker-a", 0, "127.0.0.1:10911"), Topics({"T1", "T2"})));
  mq::v1::WritePermRequest perm;
  perm.set_broker_name("broker-a");
  mq::v1::WritePermResponse perm_resp;
  ASSERT_GRPC_OK(
      Call([&](auto* c, auto& r, auto* o) { return stub()->WipeWritePerm(c, r, o); }, perm, &perm_resp));
  EXPECT_EQ(perm_resp.topics_changed(), 2);
  mq::v1::TopicRouteData route;
  ASSERT_GRPC_OK(QueryRoute(stub(), "T1", &route));
  EXPECT_EQ(route.queue_datas(0).perm(), 4);
  ASSERT_GRPC_OK(
      Call([&](auto* c, auto& r, auto* o) { return stub()->AddWritePerm(c, r, o); }, perm, &perm_resp));
  ASSERT_GRPC_OK(QueryRoute(stub(), "T1", &route));
  EXPECT_EQ(route.queue_datas(0).perm(), 6);

  mq::v1::DeleteTopicRequest del;
  del.set_topic("T1");
  mq::v1::DeleteTopicResponse del_resp;
  auto delete_topic = [&](auto* c, auto& r, auto* o) { return stub()->DeleteTopic(c, r, o); };
  ASSERT_GRPC_OK(Call(delete_topic, del, &del_resp));
  EXPECT_EQ(QueryRoute(stub(), "T1").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Call(delete_topic, del, &del_resp).error_code(), grpc::StatusCode::NOT_FOUND);

  mq::v1::KvConfigRequest kv;
  kv.set_namespace_("ORDER_TOPIC_CONFIG");
  kv.set_key("T2");
  kv.set_value("broker-a:4");
  mq::v1::KvConfigResponse kv_resp;
  auto get = [&](auto* c, auto& r, auto* o) { return stub()->GetKvConfig(c, r, o); };
  ASSERT_GRPC_OK(Call([&](auto* c, auto& r, auto* o) { return stub()->PutKvConfig(c, r, o); }, kv, &kv_resp));
  ASSERT_GRPC_OK(Call(get, kv, &kv_resp));
  EXPECT_EQ(kv_resp.value(), "broker-a:4");
  mq::v1::GetKvListRequest list;
  list.set_namespace_("ORDER_TOPIC_CONFIG");
  mq::v1::GetKvListResponse list_resp;
  ASSERT_GRPC_OK(
      Call([&](auto* c, auto& r, auto* o) { return stub()->GetKvList(c, r, o); }, list, &list_resp));
  EXPECT_EQ(list_resp.entries().at("T2"), "broker-a:4");
  ASSERT_GRPC_OK(
      Call([&](auto* c, auto& r, auto* o) { return stub()->DeleteKvConfig(c, r, o); }, kv, &kv_resp));
  EXPECT_EQ(Call(get, kv, &kv_resp).error_code(), grpc::StatusCode::NOT_FOUND);
  kv.set_namespace_("");
  auto s = Call(get, kv, &kv_resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message().rfind("namespace", 0), 0u);

  mq::v1::GetNamesrvConfigResponse config;
  ASSERT_GRPC_OK(Call([&](auto* c, auto& r, auto* o) { return stub()->GetNamesrvConfig(c, r, o); },
                      mq::v1::GetNamesrvConfigRequest(), &config));
  EXPECT_EQ(config.config().at("brokerExpiredMillis"), "120000");
}

TEST_F(NamesrvIntegrationTest, GracefulShutdownOnSigterm) {
  ns_.process().Signal(SIGTERM);
  auto status = ns_.process().Wait(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  EXPECT_NE(ns_.process().ReadLog().find("name server stopped"), std::string::npos);
}

TEST(NamesrvExpiryTest, SilentBrokerExpiresButHeartbeatingSlaveStaysRoutable) {
  NamesrvProcess ns({"--set", "brokerExpiredMillis=1500", "--set", "scanNotActiveBrokerInterval=100"});
  ASSERT_TRUE(ns.started()) << ns.process().ReadLog();
  auto master = Identity("c1", "broker-a", 0, "127.0.0.1:10911");
  auto slave = Identity("c1", "broker-a", 1, "127.0.0.2:10911");
  ASSERT_GRPC_OK(Register(ns.stub(), master, Topics({"T"})));
  ASSERT_GRPC_OK(Register(ns.stub(), slave, Topics({"T"})));
  mq::v1::BrokerHeartbeatRequest hb;
  *hb.mutable_broker() = slave;
  *hb.mutable_data_version() = Version(1);

  // Keep the slave alive with light heartbeats until the master is gone.
  bool master_gone = WaitUntil(
      [&] {
        grpc::ClientContext ctx;
        mq::v1::BrokerHeartbeatResponse resp;
        if (!ns.stub()->Heartbeat(&ctx, hb, &resp).ok() || resp.need_full_registration()) return false;
        mq::v1::TopicRouteData route;
        if (!QueryRoute(ns.stub(), "T", &route).ok()) return false;
        return route.broker_datas_size() == 1 && route.broker_datas(0).broker_addrs().count(0) == 0;
      },
      10s, 100ms);
  ASSERT_TRUE(master_gone);
  mq::v1::TopicRouteData route;
  ASSERT_GRPC_OK(QueryRoute(ns.stub(), "T", &route));
  EXPECT_EQ(route.broker_datas(0).broker_addrs().at(1), "127.0.0.2:10911");

  // Once the slave goes silent too, the topic vanishes.
  EXPECT_TRUE(
      WaitUntil([&] { return QueryRoute(ns.stub(), "T").error_code() == grpc::StatusCode::NOT_FOUND; }, 10s));
}

TEST(NamesrvIndependenceTest, TwoNameServersNeverShareState) {
  NamesrvProcess a;
  NamesrvProcess b;
  ASSERT_TRUE(a.started() && b.started());
  ASSERT_NE(a.address(), b.address());
  ASSERT_GRPC_OK(Register(a.stub(), Identity("c1", "broker-a", 0, "127.0.0.1:10911"), Topics({"OnlyOnA"})));
  ASSERT_GRPC_OK(QueryRoute(a.stub(), "OnlyOnA"));
  EXPECT_EQ(QueryRoute(b.stub(), "OnlyOnA").error_code(), grpc::StatusCode::NOT_FOUND);
  // Registering with both (as brokers do) makes both answer.
  ASSERT_GRPC_OK(Register(b.stub(), Identity("c1", "broker-a", 0, "127.0.0.1:10911"), Topics({"OnlyOnA"})));
  ASSERT_GRPC_OK(QueryRoute(b.stub(), "OnlyOnA"));
  // One going down does not affect the other.
  a.process().Kill();
  ASSERT_GRPC_OK(QueryRoute(b.stub(), "OnlyOnA"));
}

TEST(NamesrvStartupTest, PortInUseFailsWithClearError) {
  NamesrvProcess first;
  ASSERT_TRUE(first.started());
  TempDir dir;
  ChildProcess second;
  ASSERT_TRUE(second.Start(BinaryPath("mqnamesrv"), {"--listen", first.address()}, dir.Sub("out")));
  auto status = second.Wait(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_NE(WEXITSTATUS(*status), 0);
  EXPECT_NE(second.ReadLog().find("cannot listen"), std::string::npos) << second.ReadLog();
}

TEST(NamesrvStartupTest, InvalidConfigValueNamesTheKey) {
  TempDir dir;
  ChildProcess p;
  ASSERT_TRUE(p.Start(BinaryPath("mqnamesrv"), {"--set", "brokerExpiredMillis=soon"}, dir.Sub("out")));
  auto status = p.Wait(10s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(WEXITSTATUS(*status), 1);
  EXPECT_NE(p.ReadLog().find("brokerExpiredMillis"), std::string::npos) << p.ReadLog();
}

}  // namespace
}  // namespace mq::testing
