#include <gtest/gtest.h>

#include <limits>

#include "broker/v2/auth_header.h"
#include "broker/v2/call_context.h"
#include "broker/v2/proto_time.h"
#include "broker/v2/route_convert.h"
#include "broker/v2/send_convert.h"
#include "broker/v2/settings_reply.h"
#include "broker/v2/v2_status.h"
#include "common/digest.h"

namespace mq::broker::v2 {
namespace {

namespace pb = apache::rocketmq::v2;

TEST(V2Auth, ParsesTheNodeClientHeaderAndItsSignature) {
  auto h = ParseAuthorization(
      "MQv2-HMAC-SHA1 Credential=AK123, SignedHeaders=x-mq-date-time, "
      "Signature=21882888F0D993B946FB07E9315E89E538AC452D");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->access_key, "AK123");
  EXPECT_EQ(h->signed_headers, "x-mq-date-time");
  EXPECT_EQ(h->signature, "21882888F0D993B946FB07E9315E89E538AC452D");
  EXPECT_EQ(ExpectedSignature("SK456", "20261126T034124Z"), h->signature);
}

TEST(V2Auth, MalformedHeadersAreErrorsNamingThePart) {
  for (const char* bad : {"", "Basic abc", "MQv2-HMAC-SHA1", "MQv2-HMAC-SHA1 Credential=AK, Signature=X",
                          "MQv2-HMAC-SHA1 Credential=AK, SignedHeaders=x, Signature=", "MQv2-HMAC-SHA1 junk",
                          "MQv2-HMAC-SHA1 Credential=AK, SignedHeaders=x, Signature=Y, Extra=1",
                          "MQv2-HMAC-SHA1XCredential=AK"}) {
    auto h = ParseAuthorization(bad);
    ASSERT_FALSE(h.ok()) << bad;
    EXPECT_EQ(h.status().message().rfind("authorization: ", 0), 0u) << h.status().message();
  }
}

TEST(V2Namespace, WrapsAndUnwraps) {
  EXPECT_EQ(WrapNamespace("", "T"), "T");
  EXPECT_EQ(WrapNamespace("ns1", "T"), "ns1%T");
  EXPECT_EQ(BareName("ns1", "ns1%T"), "T");
  EXPECT_EQ(BareName("ns1", "other%T"), "other%T");
  EXPECT_EQ(BareName("", "ns1%T"), "ns1%T");
  CallContext call;
  pb::Resource r;
  r.set_resource_namespace("fromResource");
  r.set_name("T");
  EXPECT_EQ(StoredName(call, r), "fromResource%T");
  call.name_space = "fromHeader";
  EXPECT_EQ(StoredName(call, r), "fromHeader%T");
}

TEST(V2Route, EndpointSchemeFollowsTheHost) {
  auto v4 = ToEndpoints("10.0.0.7:8081");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->scheme(), pb::AddressScheme::IPv4);
  ASSERT_EQ(v4->addresses_size(), 1);
  EXPECT_EQ(v4->addresses(0).host(), "10.0.0.7");
  EXPECT_EQ(v4->addresses(0).port(), 8081);
  auto name = ToEndpoints("broker-a.local:8081");
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(name->scheme(), pb::AddressScheme::DOMAIN_NAME);
  auto v6 = ToEndpoints("[::1]:8081");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->scheme(), pb::AddressScheme::IPv6);
  EXPECT_FALSE(ToEndpoints("no-port").ok());
}

TEST(V2Route, AcceptTypesFromTheMessageTypeAttribute) {
  EXPECT_EQ(AcceptMessageTypes("")->size(), 4u);
  EXPECT_EQ(AcceptMessageTypes("MIXED")->size(), 4u);
  ASSERT_EQ(AcceptMessageTypes("FIFO")->size(), 1u);
  EXPECT_EQ(AcceptMessageTypes("FIFO")->at(0), pb::MessageType::FIFO);
  EXPECT_FALSE(AcceptMessageTypes("fifo").ok());
  EXPECT_TRUE(TopicAccepts("", pb::MessageType::TRANSACTION));
  EXPECT_FALSE(TopicAccepts("NORMAL", pb::MessageType::FIFO));
  EXPECT_TRUE(TopicAccepts("DELAY", pb::MessageType::DELAY));
}

mq::v1::TopicRouteData TwoBrokerRoute() {
  mq::v1::TopicRouteData route;
  auto* qa = route.add_queue_datas();
  qa->set_broker_name("a");
  qa->set_read_queue_nums(2);
  qa->set_write_queue_nums(3);
  qa->set_perm(6);
  qa->set_message_type("FIFO");
  auto* qb = route.add_queue_datas();
  qb->set_broker_name("b");
  qb->set_read_queue_nums(1);
  qb->set_write_queue_nums(1);
  qb->set_perm(6);
  auto* ba = route.add_broker_datas();
  ba->set_broker_name("a");
  (*ba->mutable_broker_addrs())[0] = "127.0.0.1:10911";
  (*ba->mutable_broker_addrs())[1] = "127.0.0.1:10921";
  (*ba->mutable_v2_addrs())[0] = "127.0.0.1:8081";
  (*ba->mutable_v2_addrs())[1] = "127.0.0.1:8091";
  auto* bb = route.add_broker_datas();
  bb->set_broker_name("b");
  (*bb->mutable_broker_addrs())[0] = "127.0.0.1:10931";  // serves no v2
  return route;
}

TEST(V2Route, QueuesOfMastersWithAV2EndpointOnly) {
  pb::Resource topic;
  topic.set_name("T");
  auto queues = ToMessageQueues(TwoBrokerRoute(), topic);
  ASSERT_EQ(queues.size(), 3u);  // max(read 2, write 3) of broker a; b has no v2 endpoint
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(queues[i].id(), i);
    EXPECT_EQ(queues[i].topic().name(), "T");
    EXPECT_EQ(queues[i].broker().name(), "a");
    EXPECT_EQ(queues[i].broker().id(), 0);
    ASSERT_EQ(queues[i].broker().endpoints().addresses_size(), 1);
    EXPECT_EQ(queues[i].broker().endpoints().addresses(0).port(), 8081);
    ASSERT_EQ(queues[i].accept_message_types_size(), 1);
    EXPECT_EQ(queues[i].accept_message_types(0), pb::MessageType::FIFO);
  }
  EXPECT_EQ(queues[0].permission(), pb::Permission::READ_WRITE);
  EXPECT_EQ(queues[2].permission(), pb::Permission::WRITE);
  auto assignments = ToAssignments(TwoBrokerRoute(), topic);
  ASSERT_EQ(assignments.size(), 1u);
  EXPECT_EQ(assignments[0].message_queue().id(), -1);
}

pb::Message ValidMessage() {
  pb::Message m;
  m.mutable_topic()->set_name("T");
  m.set_body("hello");
  m.mutable_system_properties()->set_message_id("0102FC0000000143860B1944C500000000");
  m.mutable_system_properties()->set_message_type(pb::MessageType::NORMAL);
  return m;
}

pb::Code Convert(const pb::Message& m, V1Send* out = nullptr, int64_t now = 1'000'000) {
  V1Send local;
  return ToV1Send(m, "messages[0]", "T", SendLimits(), now, "127.0.0.1:5", out ? out : &local).code();
}

TEST(V2Send, ConvertsANormalMessage) {
  pb::Message m = ValidMessage();
  m.mutable_system_properties()->set_tag("TagA");
  m.mutable_system_properties()->add_keys("k1");
  (*m.mutable_user_properties())["color"] = "red";
  V1Send out;
  ASSERT_EQ(Convert(m, &out), pb::Code::OK);
  ASSERT_EQ(out.request.messages_size(), 1);
  const auto& v1 = out.request.messages(0);
  EXPECT_EQ(out.request.queue_id(), -1);
  EXPECT_EQ(v1.unique_key(), m.system_properties().message_id());
  EXPECT_EQ(v1.tags(), "TagA");
  EXPECT_EQ(v1.keys(0), "k1");
  EXPECT_EQ(v1.user_properties().at("color"), "red");
  EXPECT_FALSE(out.request.transaction_prepared());
}

TEST(V2Send, EveryBadInputHasItsCode) {
  pb::Message m = ValidMessage();
  m.mutable_system_properties()->clear_message_id();
  EXPECT_EQ(Convert(m), pb::Code::ILLEGAL_MESSAGE_ID);
  m = ValidMessage();
  m.mutable_system_properties()->set_tag("a|b");
  EXPECT_EQ(Convert(m), pb::Code::ILLEGAL_MESSAGE_TAG);
  m = ValidMessage();
  m.mutable_system_properties()->add_keys(" ");
  EXPECT_EQ(Convert(m), pb::Code::ILLEGAL_MESSAGE_KEY);
  m = ValidMessage();
  m.set_body(std::string(4 * 1024 * 1024 + 1, 'x'));
  EXPECT_EQ(Convert(m), pb::Code::MESSAGE_BODY_TOO_LARGE);
  m = ValidMessage();
  m.clear_body();
  EXPECT_EQ(Convert(m), pb::Code::MESSAGE_BODY_EMPTY);
  m = ValidMessage();
  (*m.mutable_user_properties())["UNIQ_KEY"] = "x";
  EXPECT_EQ(Convert(m), pb::Code::ILLEGAL_MESSAGE_PROPERTY_KEY);
  m = ValidMessage();
  (*m.mutable_user_properties())["big"] = std::string(17 * 1024, 'x');
  EXPECT_EQ(Convert(m), pb::Code::MESSAGE_PROPERTIES_TOO_LARGE);
  m = ValidMessage();
  m.mutable_system_properties()->set_message_type(pb::MessageType::FIFO);
  EXPECT_EQ(Convert(m), pb::Code::MESSAGE_PROPERTY_CONFLICT_WITH_TYPE);  // no group
  m = ValidMessage();
  m.mutable_system_properties()->set_message_group("g");  // NORMAL with a group
  EXPECT_EQ(Convert(m), pb::Code::MESSAGE_PROPERTY_CONFLICT_WITH_TYPE);
  m = ValidMessage();
  m.mutable_system_properties()->set_message_type(pb::MessageType::FIFO);
  m.mutable_system_properties()->set_message_group(std::string(65, 'g'));
  EXPECT_EQ(Convert(m), pb::Code::ILLEGAL_MESSAGE_GROUP);
  m = ValidMessage();
  m.mutable_system_properties()->set_message_type(pb::MessageType::DELAY);
  m.mutable_system_properties()->mutable_delivery_timestamp()->set_seconds(1000 + 25 * 3600);
  EXPECT_EQ(Convert(m), pb::Code::ILLEGAL_DELIVERY_TIME);
  m = ValidMessage();
  m.mutable_system_properties()->set_message_type(pb::MessageType::LITE);
  EXPECT_EQ(Convert(m), pb::Code::UNSUPPORTED);
}

// Seconds past what int64 milliseconds hold: a delivery time centuries ahead must be refused, not
// wrap into the past and be delivered at once; a born time that far off is kept saturated.
TEST(V2Send, TimestampsPastTheMillisecondRangeSaturate) {
  const int64_t far = std::numeric_limits<int64_t>::max() / 1000 + 1;
  pb::Message m = ValidMessage();
  m.mutable_system_properties()->set_message_type(pb::MessageType::DELAY);
  m.mutable_system_properties()->mutable_delivery_timestamp()->set_seconds(far);
  EXPECT_EQ(Convert(m), pb::Code::ILLEGAL_DELIVERY_TIME);
  m.mutable_system_properties()->mutable_delivery_timestamp()->set_seconds(
      std::numeric_limits<int64_t>::max());
  EXPECT_EQ(Convert(m), pb::Code::ILLEGAL_DELIVERY_TIME);
  m.mutable_system_properties()->mutable_delivery_timestamp()->set_seconds(-far);  // long past: at once
  V1Send out;
  ASSERT_EQ(Convert(m, &out), pb::Code::OK);
  EXPECT_EQ(out.request.messages(0).deliver_time_ms(), 1);

  m = ValidMessage();
  m.mutable_system_properties()->mutable_born_timestamp()->set_seconds(std::numeric_limits<int64_t>::min());
  out = V1Send();
  ASSERT_EQ(Convert(m, &out), pb::Code::OK);
  EXPECT_EQ(out.request.messages(0).born_timestamp(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(SaturatedMillis(far, 0), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(SaturatedMillis(-far, 0), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(SaturatedMillis(std::numeric_limits<int64_t>::max() / 1000, 999'999'999),
            std::numeric_limits<int64_t>::max());
  EXPECT_EQ(SaturatedMillis(12, 345'678'901), 12'345);
}

TEST(V2Send, ErrorMessagesNameTheField) {
  pb::Message m = ValidMessage();
  m.mutable_system_properties()->clear_message_id();
  V1Send out;
  pb::Status s = ToV1Send(m, "messages[0]", "T", SendLimits(), 0, "", &out);
  EXPECT_EQ(s.message().rfind("messages[0].system_properties.message_id", 0), 0u) << s.message();
}

TEST(V2Send, FifoDelayAndTransactionBecomeTheirV1Forms) {
  pb::Message m = ValidMessage();
  m.mutable_system_properties()->set_message_type(pb::MessageType::FIFO);
  m.mutable_system_properties()->set_message_group("order-1");
  V1Send out;
  ASSERT_EQ(Convert(m, &out), pb::Code::OK);
  EXPECT_EQ(out.request.messages(0).user_properties().at("__SHARDINGKEY"), "order-1");
  EXPECT_EQ(FifoQueue("order-1", 8), FifoQueue("order-1", 8));
  EXPECT_LT(FifoQueue("order-1", 8), 8);

  m = ValidMessage();
  m.mutable_system_properties()->set_message_type(pb::MessageType::DELAY);
  m.mutable_system_properties()->mutable_delivery_timestamp()->set_seconds(1005);
  out = V1Send();
  ASSERT_EQ(Convert(m, &out), pb::Code::OK);
  EXPECT_EQ(out.request.messages(0).deliver_time_ms(), 1'005'000);

  m = ValidMessage();
  m.mutable_system_properties()->set_message_type(pb::MessageType::TRANSACTION);
  out = V1Send();
  ASSERT_EQ(Convert(m, &out), pb::Code::OK);
  EXPECT_TRUE(out.request.transaction_prepared());
  EXPECT_EQ(out.request.producer_group(), "T");
}

TEST(V2Send, ProcessorOutcomesMapToV2Codes) {
  EXPECT_EQ(SendFailure(Status::NotFound("topic: x")).code(), pb::Code::TOPIC_NOT_FOUND);
  EXPECT_EQ(SendFailure(Status::PermissionDenied("broker")).code(), pb::Code::FORBIDDEN);
  EXPECT_EQ(SendOutcome(mq::v1::FLUSH_DISK_TIMEOUT), pb::Code::MASTER_PERSISTENCE_TIMEOUT);
  EXPECT_EQ(SendOutcome(mq::v1::FLUSH_SLAVE_TIMEOUT), pb::Code::SLAVE_PERSISTENCE_TIMEOUT);
  EXPECT_EQ(SendOutcome(mq::v1::SLAVE_NOT_AVAILABLE), pb::Code::HA_NOT_AVAILABLE);
  EXPECT_EQ(SendOutcome(mq::v1::SEND_OK), pb::Code::OK);
}

TEST(V2Send, StoredMessageCarriesDigestAndBareTopic) {
  mq::v1::MessageExt ext;
  ext.mutable_message()->set_topic("ns%T");
  ext.mutable_message()->set_body("payload");
  ext.mutable_message()->set_tags("TagA");
  ext.mutable_message()->set_reconsume_times(2);
  ext.set_msg_id("ID1");
  (*ext.mutable_system_properties())["TRAN_MSG"] = "true";
  pb::Message out;
  ToV2Message(ext, "ns", &out);
  EXPECT_EQ(out.topic().name(), "T");
  EXPECT_EQ(out.system_properties().message_id(), "ID1");
  EXPECT_EQ(out.system_properties().body_digest().type(), pb::DigestType::MD5);
  EXPECT_EQ(out.system_properties().body_digest().checksum(), Md5UpperHex("payload"));
  EXPECT_EQ(out.system_properties().message_type(), pb::MessageType::TRANSACTION);
  EXPECT_EQ(out.system_properties().delivery_attempt(), 3);
}

TEST(V2Settings, ProducerReplyHasWhatTheNodeSdkNeeds) {
  pb::Settings client;
  client.set_client_type(pb::ClientType::PRODUCER);
  client.mutable_publishing()->add_topics()->set_name("T");
  client.mutable_user_agent()->set_version("1.0.8");
  ServerSettings server;
  server.max_body_size = 1234;
  pb::Settings reply = SettingsReply(client, server);
  EXPECT_TRUE(reply.backoff_policy().has_exponential_backoff());
  EXPECT_EQ(reply.backoff_policy().max_attempts(), 3);
  EXPECT_EQ(reply.backoff_policy().exponential_backoff().initial().nanos(), 10'000'000);
  EXPECT_EQ(reply.publishing().max_body_size(), 1234);
  EXPECT_TRUE(reply.publishing().validate_message_type());
  EXPECT_EQ(reply.publishing().topics(0).name(), "T");
  EXPECT_EQ(reply.user_agent().version(), "1.0.8");
  EXPECT_FALSE(reply.metric().on());
}

TEST(V2Settings, ConsumerReplyAndRegistration) {
  pb::Settings client;
  client.set_client_type(pb::ClientType::PUSH_CONSUMER);
  client.mutable_subscription()->mutable_group()->set_name("G");
  auto* entry = client.mutable_subscription()->add_subscriptions();
  entry->mutable_topic()->set_name("T");
  entry->mutable_expression()->set_type(pb::FilterType::TAG);
  entry->mutable_expression()->set_expression("TagA");
  ServerSettings server;
  server.fifo = true;
  server.max_attempts = 5;
  server.retry_delays_ms = {10000, 30000};
  pb::Settings reply = SettingsReply(client, server);
  EXPECT_TRUE(reply.subscription().fifo());
  EXPECT_EQ(reply.subscription().receive_batch_size(), 32);
  EXPECT_EQ(reply.subscription().long_polling_timeout().seconds(), 20);
  EXPECT_EQ(reply.backoff_policy().max_attempts(), 5);
  ASSERT_EQ(reply.backoff_policy().customized_backoff().next_size(), 2);

  CallContext call;
  call.client_id = "c1";
  call.name_space = "ns";
  auto hb = RegistrationOf(client, call);
  ASSERT_TRUE(hb.ok());
  ASSERT_EQ(hb->consumers_size(), 1);
  EXPECT_EQ(hb->consumers(0).group(), "ns%G");
  EXPECT_EQ(hb->consumers(0).subscriptions(0).topic(), "ns%T");
  EXPECT_EQ(hb->consumers(0).subscriptions(0).expression(), "TagA");
  client.mutable_subscription()->clear_group();
  EXPECT_FALSE(RegistrationOf(client, call).ok());
}

}  // namespace
}  // namespace mq::broker::v2
