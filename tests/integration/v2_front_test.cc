// The broker's apache.rocketmq.v2 front against real mqnamesrv + mqbroker processes, called
// through the generated v2 stubs with the Node.js SDK's metadata: routes across brokers,
// auto-creation, Telemetry settings and client registration, namespaces, the authorization
// header and shutdown (sends and transactions: v2_front_send_test.cc).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "broker_fixture.h"
#include "grpc_test_util.h"
#include "namesrv_fixture.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"
#include "v2_front_fixture.h"
#include "v2_front_util.h"

namespace mq::testing {
namespace {

using Stub = pb::MessagingService::Stub;
using std::chrono::milliseconds;

TEST_F(V2FrontTest, QueryRouteViaAnyBrokerNamesTheOwnersOwnV2Endpoint) {
  ASSERT_TRUE(ns_.started());
  auto a = StartBroker("broker-a");
  auto b = StartBroker("broker-b");
  CreateTopic(*b, "OnlyOnB", 3);
  ASSERT_TRUE(WaitUntil([&] { return RouteHasBrokers(ns_, "OnlyOnB", 1); }));

  V2Client via_a(a->v2_address());
  pb::QueryRouteRequest req;
  req.mutable_topic()->set_name("OnlyOnB");
  req.mutable_endpoints()->set_scheme(pb::AddressScheme::IPv4);
  pb::QueryRouteResponse resp;
  ASSERT_GRPC_OK(via_a.Unary(&Stub::QueryRoute, req, &resp));
  ASSERT_EQ(resp.status().code(), pb::Code::OK) << resp.status().message();
  ASSERT_EQ(resp.message_queues_size(), 3);
  const std::string b_port = b->v2_address().substr(b->v2_address().rfind(':') + 1);
  for (int i = 0; i < 3; ++i) {
    const auto& mq = resp.message_queues(i);
    EXPECT_EQ(mq.id(), i);
    EXPECT_EQ(mq.topic().name(), "OnlyOnB");
    EXPECT_EQ(mq.permission(), pb::Permission::READ_WRITE);
    EXPECT_EQ(mq.broker().name(), "broker-b");
    EXPECT_EQ(mq.broker().id(), 0);
    EXPECT_EQ(mq.broker().endpoints().scheme(), pb::AddressScheme::IPv4);
    ASSERT_EQ(mq.broker().endpoints().addresses_size(), 1);
    EXPECT_EQ(mq.broker().endpoints().addresses(0).host(), "127.0.0.1");
    EXPECT_EQ(std::to_string(mq.broker().endpoints().addresses(0).port()), b_port);
    EXPECT_EQ(mq.accept_message_types_size(), 4);  // no message.type attribute: every type
  }
  EXPECT_FALSE(HasTopic(*a, "OnlyOnB"));

  // QueryAssignment: one broker-wide queue (-1) per readable broker.
  pb::QueryAssignmentRequest qa;
  qa.mutable_topic()->set_name("OnlyOnB");
  qa.mutable_group()->set_name("GroupX");
  pb::QueryAssignmentResponse assignments;
  ASSERT_GRPC_OK(via_a.Unary(&Stub::QueryAssignment, qa, &assignments));
  ASSERT_EQ(assignments.status().code(), pb::Code::OK) << assignments.status().message();
  ASSERT_EQ(assignments.assignments_size(), 1);
  EXPECT_EQ(assignments.assignments(0).message_queue().id(), -1);
  EXPECT_EQ(assignments.assignments(0).message_queue().broker().name(), "broker-b");
}

TEST_F(V2FrontTest, QueryRouteSurvivesADeadNameServer) {
  ASSERT_TRUE(ns_.started());
  // The first NameServer listed is a port nobody listens on.
  TempDir scratch;
  auto b = StartBroker("broker-b");
  CreateTopic(*b, "Failover", 2);
  ASSERT_TRUE(WaitUntil([&] { return RouteHasBrokers(ns_, "Failover", 1); }));
  auto a = StartBroker("broker-a", {}, "127.0.0.1:1;" + ns_.address());
  V2Client via_a(a->v2_address());
  pb::QueryRouteRequest req;
  req.mutable_topic()->set_name("Failover");
  for (int round = 0; round < 2; ++round) {
    pb::QueryRouteResponse resp;
    ASSERT_GRPC_OK(via_a.Unary(&Stub::QueryRoute, req, &resp));
    ASSERT_EQ(resp.status().code(), pb::Code::OK) << resp.status().message();
    ASSERT_EQ(resp.message_queues_size(), 2);
    EXPECT_EQ(resp.message_queues(0).broker().name(), "broker-b");
  }
}

TEST_F(V2FrontTest, QueryRouteAutoCreatesAnUnknownTopicAndRegistersIt) {
  ASSERT_TRUE(ns_.started());
  auto a = StartBroker("broker-a");
  V2Client c(a->v2_address());
  pb::QueryRouteRequest req;
  req.mutable_topic()->set_name("BrandNew");
  pb::QueryRouteResponse resp;
  ASSERT_GRPC_OK(c.Unary(&Stub::QueryRoute, req, &resp));
  ASSERT_EQ(resp.status().code(), pb::Code::OK) << resp.status().message();
  ASSERT_GT(resp.message_queues_size(), 0);
  EXPECT_EQ(resp.message_queues(0).broker().name(), "broker-a");
  EXPECT_EQ(resp.message_queues(0).broker().endpoints().addresses(0).port(),
            std::stoi(a->v2_address().substr(a->v2_address().rfind(':') + 1)));
  EXPECT_TRUE(HasTopic(*a, "BrandNew"));
  EXPECT_TRUE(WaitUntil([&] { return RouteHasBrokers(ns_, "BrandNew", 1); }));
}

TEST_F(V2FrontTest, UnknownTopicWithoutAutoCreateIsTopicNotFound) {
  ASSERT_TRUE(ns_.started());
  auto a = StartBroker("broker-a", {"autoCreateTopicEnable=false"});
  V2Client c(a->v2_address());
  pb::QueryRouteRequest req;
  req.mutable_topic()->set_name("Missing");
  pb::QueryRouteResponse resp;
  ASSERT_GRPC_OK(c.Unary(&Stub::QueryRoute, req, &resp));
  EXPECT_EQ(resp.status().code(), pb::Code::TOPIC_NOT_FOUND);
  EXPECT_NE(resp.status().message().find("Missing"), std::string::npos) << resp.status().message();

  auto sent = SendOne(c, V2Message("Missing", "x", "ID-MISSING"));
  EXPECT_EQ(sent.status().code(), pb::Code::TOPIC_NOT_FOUND);
  ASSERT_EQ(sent.entries_size(), 1);
  EXPECT_EQ(sent.entries(0).status().code(), pb::Code::TOPIC_NOT_FOUND);
  EXPECT_FALSE(HasTopic(*a, "Missing"));
}

TEST_F(V2FrontTest, EveryRpcWantsAClientId) {
  auto a = StartBroker("broker-a");
  V2Client c(a->v2_address());
  pb::QueryRouteRequest route;
  route.mutable_topic()->set_name("T");
  pb::QueryRouteResponse route_resp;
  ASSERT_GRPC_OK(c.Unary(&Stub::QueryRoute, route, &route_resp, /*with_client_id=*/false));
  EXPECT_EQ(route_resp.status().code(), pb::Code::CLIENT_ID_REQUIRED);
  pb::SendMessageRequest send;
  *send.add_messages() = V2Message("T", "x", "ID1");
  pb::SendMessageResponse send_resp;
  ASSERT_GRPC_OK(c.Unary(&Stub::SendMessage, send, &send_resp, false));
  EXPECT_EQ(send_resp.status().code(), pb::Code::CLIENT_ID_REQUIRED);
  pb::HeartbeatResponse hb;
  ASSERT_GRPC_OK(c.Unary(&Stub::Heartbeat, pb::HeartbeatRequest(), &hb, false));
  EXPECT_EQ(hb.status().code(), pb::Code::CLIENT_ID_REQUIRED);
  pb::AckMessageResponse ack;
  ASSERT_GRPC_OK(c.Unary(&Stub::AckMessage, pb::AckMessageRequest(), &ack, false));
  EXPECT_EQ(ack.status().code(), pb::Code::CLIENT_ID_REQUIRED);

  grpc::ClientContext ctx;
  c.Prepare(&ctx, false);
  auto stream = c.stub()->Telemetry(&ctx);
  pb::TelemetryCommand cmd;
  ASSERT_TRUE(stream->Read(&cmd));
  EXPECT_EQ(cmd.status().code(), pb::Code::CLIENT_ID_REQUIRED);
  stream->WritesDone();
  EXPECT_GRPC_OK(stream->Finish());
}

// This broker serves consumers through ReceiveMessage; the pull-mode and lite consumer RPCs say
// so (gRPC's own UNIMPLEMENTED carries no message), after the client id check every RPC makes.
TEST_F(V2FrontTest, PullModeAndLiteRpcsAnswerNotImplementedNamingTheRpc) {
  auto a = StartBroker("broker-a");
  V2Client c(a->v2_address());
  auto expect_not_served = [](const pb::Status& status, const std::string& rpc) {
    EXPECT_EQ(status.code(), pb::Code::NOT_IMPLEMENTED) << rpc;
    EXPECT_EQ(status.message().rfind(rpc + ": not served", 0), 0u) << status.message();
  };
  pb::UpdateOffsetResponse update;
  ASSERT_GRPC_OK(c.Unary(&Stub::UpdateOffset, pb::UpdateOffsetRequest(), &update));
  expect_not_served(update.status(), "UpdateOffset");
  pb::GetOffsetResponse get;
  ASSERT_GRPC_OK(c.Unary(&Stub::GetOffset, pb::GetOffsetRequest(), &get));
  expect_not_served(get.status(), "GetOffset");
  pb::QueryOffsetResponse query;
  ASSERT_GRPC_OK(c.Unary(&Stub::QueryOffset, pb::QueryOffsetRequest(), &query));
  expect_not_served(query.status(), "QueryOffset");
  pb::SyncLiteSubscriptionResponse lite;
  ASSERT_GRPC_OK(c.Unary(&Stub::SyncLiteSubscription, pb::SyncLiteSubscriptionRequest(), &lite));
  expect_not_served(lite.status(), "SyncLiteSubscription");
  ASSERT_GRPC_OK(c.Unary(&Stub::GetOffset, pb::GetOffsetRequest(), &get, /*with_client_id=*/false));
  EXPECT_EQ(get.status().code(), pb::Code::CLIENT_ID_REQUIRED);

  grpc::ClientContext ctx;
  c.Prepare(&ctx);
  auto reader = c.stub()->PullMessage(&ctx, pb::PullMessageRequest());
  pb::PullMessageResponse pulled;
  ASSERT_TRUE(reader->Read(&pulled));
  expect_not_served(pulled.status(), "PullMessage");
  EXPECT_FALSE(reader->Read(&pulled));
  EXPECT_GRPC_OK(reader->Finish());
}

TEST_F(V2FrontTest, TelemetryAnswersSettingsResendsThemAndClosesCleanly) {
  ASSERT_TRUE(ns_.started());
  auto a = StartBroker("broker-a");
  V2Client c(a->v2_address());
  grpc::ClientContext ctx;
  c.Prepare(&ctx, true, "", std::chrono::seconds(15));
  auto stream = c.stub()->Telemetry(&ctx);
  pb::TelemetryCommand hello;
  *hello.mutable_settings() = ProducerSettings("TelemetryTopic");
  ASSERT_TRUE(stream->Write(hello));

  pb::TelemetryCommand reply;
  ASSERT_TRUE(stream->Read(&reply));
  const auto first = std::chrono::steady_clock::now();
  ASSERT_TRUE(reply.has_settings());
  EXPECT_EQ(reply.status().code(), pb::Code::OK);
  const auto& s = reply.settings();
  EXPECT_EQ(s.client_type(), pb::ClientType::PRODUCER);
  EXPECT_EQ(s.backoff_policy().max_attempts(), 3);
  ASSERT_TRUE(s.backoff_policy().has_exponential_backoff());
  EXPECT_EQ(s.backoff_policy().exponential_backoff().multiplier(), 2);
  EXPECT_EQ(s.publishing().max_body_size(), 1048576);  // the fixture's maxMessageSize
  EXPECT_TRUE(s.publishing().validate_message_type());
  EXPECT_EQ(s.publishing().topics(0).name(), "TelemetryTopic");
  EXPECT_FALSE(s.metric().on());

  // The same reply again about a second later (the Node SDK's start-up race).
  pb::TelemetryCommand again;
  ASSERT_TRUE(stream->Read(&again));
  EXPECT_TRUE(again.has_settings());
  EXPECT_GE(std::chrono::steady_clock::now() - first, milliseconds(500));

  // Heartbeat now knows the client and re-sends the settings too.
  pb::HeartbeatRequest hb_req;
  hb_req.set_client_type(pb::ClientType::PRODUCER);
  pb::HeartbeatResponse hb;
  ASSERT_GRPC_OK(c.Unary(&Stub::Heartbeat, hb_req, &hb));
  EXPECT_EQ(hb.status().code(), pb::Code::OK) << hb.status().message();
  ASSERT_TRUE(stream->Read(&again));
  EXPECT_TRUE(again.has_settings());

  // The producer is registered under its topic as group, as a v1 producer would be.
  mq::v1::GetConnectionsRequest conn_req;
  conn_req.set_group("TelemetryTopic");
  mq::v1::GetConnectionsResponse conns;
  ASSERT_GRPC_OK(Call(a->admin(), &mq::v1::BrokerAdmin::Stub::GetProducerConnections, conn_req, &conns));
  ASSERT_EQ(conns.connections_size(), 1);

  // Half-close: the broker finishes the call with OK (the Node SDK crashes on anything else).
  stream->WritesDone();
  while (stream->Read(&again)) {
  }
  EXPECT_GRPC_OK(stream->Finish());

  pb::NotifyClientTerminationResponse bye;
  ASSERT_GRPC_OK(c.Unary(&Stub::NotifyClientTermination, pb::NotifyClientTerminationRequest(), &bye));
  EXPECT_EQ(bye.status().code(), pb::Code::OK);
}

TEST_F(V2FrontTest, ConsumerSettingsRegisterTheGroup) {
  auto a = StartBroker("broker-a");
  V2Client c(a->v2_address());
  pb::HeartbeatRequest hb_req;
  hb_req.set_client_type(pb::ClientType::SIMPLE_CONSUMER);
  hb_req.mutable_group()->set_name("V2Group");
  pb::HeartbeatResponse hb;
  ASSERT_GRPC_OK(c.Unary(&Stub::Heartbeat, hb_req, &hb));
  EXPECT_EQ(hb.status().code(), pb::Code::UNRECOGNIZED_CLIENT_TYPE);  // no Settings yet

  grpc::ClientContext ctx;
  c.Prepare(&ctx, true, "", std::chrono::seconds(15));
  auto stream = c.stub()->Telemetry(&ctx);
  pb::TelemetryCommand hello;
  *hello.mutable_settings() = ConsumerSettings("V2Group", "ConsumedTopic");
  ASSERT_TRUE(stream->Write(hello));
  pb::TelemetryCommand reply;
  ASSERT_TRUE(stream->Read(&reply));
  EXPECT_EQ(reply.status().code(), pb::Code::OK);
  const auto& sub = reply.settings().subscription();
  EXPECT_EQ(sub.receive_batch_size(), 32);
  EXPECT_EQ(sub.long_polling_timeout().seconds(), 20);
  EXPECT_FALSE(sub.fifo());
  EXPECT_EQ(reply.settings().backoff_policy().max_attempts(), 17);  // retryMaxTimes 16 + 1

  ASSERT_GRPC_OK(c.Unary(&Stub::Heartbeat, hb_req, &hb));
  EXPECT_EQ(hb.status().code(), pb::Code::OK) << hb.status().message();
  mq::v1::GetConnectionsRequest conn_req;
  conn_req.set_group("V2Group");
  mq::v1::GetConnectionsResponse conns;
  ASSERT_GRPC_OK(Call(a->admin(), &mq::v1::BrokerAdmin::Stub::GetConsumerConnections, conn_req, &conns));
  ASSERT_EQ(conns.connections_size(), 1);

  pb::NotifyClientTerminationRequest bye_req;
  bye_req.mutable_group()->set_name("V2Group");
  pb::NotifyClientTerminationResponse bye;
  ASSERT_GRPC_OK(c.Unary(&Stub::NotifyClientTermination, bye_req, &bye));
  EXPECT_EQ(bye.status().code(), pb::Code::OK);
  conns.Clear();
  // Unregistered: the group has no connection left.
  EXPECT_EQ(
      Call(a->admin(), &mq::v1::BrokerAdmin::Stub::GetConsumerConnections, conn_req, &conns).error_code(),
      grpc::StatusCode::NOT_FOUND);
  stream->WritesDone();
  while (stream->Read(&reply)) {
  }
  EXPECT_GRPC_OK(stream->Finish());
}

TEST_F(V2FrontTest, AuthorizationHeaderIsParsedButNotEnforced) {
  auto a = StartBroker("broker-a");
  V2Client c(a->v2_address());
  for (const char* auth : {"MQv2-HMAC-SHA1 Credential=AK123, SignedHeaders=x-mq-date-time, "
                           "Signature=21882888F0D993B946FB07E9315E89E538AC452D",
                           "MQv2-HMAC-SHA1 garbage", "Bearer x"}) {
    grpc::ClientContext ctx;
    c.Prepare(&ctx);
    ctx.AddMetadata("authorization", auth);
    pb::QueryRouteRequest req;
    req.mutable_topic()->set_name("AuthTopic");
    pb::QueryRouteResponse resp;
    ASSERT_GRPC_OK(c.stub()->QueryRoute(&ctx, req, &resp));
    EXPECT_EQ(resp.status().code(), pb::Code::OK) << auth << ": " << resp.status().message();
  }
}

TEST_F(V2FrontTest, NamespaceIsAppliedAndBareNamesComeBack) {
  auto a = StartBroker("broker-a");
  V2Client c(a->v2_address());
  pb::QueryRouteRequest req;
  req.mutable_topic()->set_name("NsTopic");
  pb::QueryRouteResponse resp;
  ASSERT_GRPC_OK(c.Unary(&Stub::QueryRoute, req, &resp, true, "tenant1"));
  ASSERT_EQ(resp.status().code(), pb::Code::OK) << resp.status().message();
  EXPECT_EQ(resp.message_queues(0).topic().name(), "NsTopic");
  EXPECT_EQ(resp.message_queues(0).topic().resource_namespace(), "tenant1");
  EXPECT_TRUE(HasTopic(*a, "tenant1%NsTopic"));
  EXPECT_FALSE(HasTopic(*a, "NsTopic"));
  pb::SendMessageRequest send;
  *send.add_messages() = V2Message("NsTopic", "in a namespace", "NS-1");
  pb::SendMessageResponse sent;
  ASSERT_GRPC_OK(c.Unary(&Stub::SendMessage, send, &sent, true, "tenant1"));
  ASSERT_EQ(sent.status().code(), pb::Code::OK) << sent.status().message();
}

TEST_F(V2FrontTest, ShutdownFinishesOpenTelemetryStreamsCleanly) {
  auto a = StartBroker("broker-a");
  V2Client c(a->v2_address());
  grpc::ClientContext ctx;
  c.Prepare(&ctx, true, "", std::chrono::seconds(15));
  auto stream = c.stub()->Telemetry(&ctx);
  pb::TelemetryCommand hello;
  *hello.mutable_settings() = ProducerSettings("ShutdownTopic");
  ASSERT_TRUE(stream->Write(hello));
  pb::TelemetryCommand cmd;
  ASSERT_TRUE(stream->Read(&cmd));
  // An SDK keeps reading (its event loop does); the stream must end with OK, not an error.
  std::thread reader([&] {
    pb::TelemetryCommand more;
    while (stream->Read(&more)) {
    }
  });
  const auto stop_started = std::chrono::steady_clock::now();
  EXPECT_EQ(a->Stop(), 0);
  // Within the broker's drain deadline (3 s; an idle test channel that does not act on the
  // server's GOAWAY holds the drain that long), never waiting on the open stream itself.
  EXPECT_LT(std::chrono::steady_clock::now() - stop_started, std::chrono::seconds(5));
  reader.join();
  EXPECT_GRPC_OK(stream->Finish());
}

}  // namespace
}  // namespace mq::testing
