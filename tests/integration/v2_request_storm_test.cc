// Black-box request storm on the apache.rocketmq.v2 front (the RocketMQ 5 SDK protocol): seeded
// random and mutated requests to every RPC of apache.rocketmq.v2.MessagingService of a real
// mqbroker, sent as raw bytes over loopback gRPC with the x-mq-* metadata an SDK sends (itself
// mutated now and then: no client id, odd namespaces). Unary RPCs, ReceiveMessage and PullMessage
// (server streams) and Telemetry (a bidirectional stream of one to three commands) alike.
// The samples mutated are well-formed requests holding live receipt, transaction and recall
// handles, so mutations reach past the first field check.
// Checks: every call ends before its hard limit; a gRPC error is never UNKNOWN or UNAVAILABLE
// and says why; a response the front writes parses, and a status in it that is not OK says why;
// the broker stays up; afterwards a v2 send and receive still work.
// Reproducible: MQ_STORM_SEED picks the seed, MQ_STORM_REQUESTS the count.
#include <google/protobuf/message.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/time_util.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apache/rocketmq/v2/service.grpc.pb.h"
#include "broker_fixture.h"
#include "common/rpc/grpc_defaults.h"
#include "namesrv_fixture.h"
#include "proto_mutator.h"
#include "storm_call.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"
#include "v2_front_util.h"

namespace mq::testing {
namespace {

using google::protobuf::util::TimeUtil;
using Stub = pb::MessagingService::Stub;
constexpr uint64_t kDefaultSeed = 20261206;
constexpr int64_t kDefaultRequests = 3000;
constexpr auto kCallDeadline = std::chrono::seconds(3);
constexpr auto kHardLimit = std::chrono::seconds(10);
constexpr auto kStormTimeBudget = std::chrono::seconds(90);
constexpr const char* kTopic = "V2StormTopic";
constexpr const char* kGroup = "V2StormGroup";
const std::string kService = "/apache.rocketmq.v2.MessagingService/";

enum class Shape { kUnary, kServerStream, kBidi };

struct Sample {
  std::string method;  // full gRPC name
  Shape shape;
  std::string bytes;  // a well-formed request (for Telemetry: one command)
};

// What the front answers a call with: a pb::Status in each response (Telemetry's commands may
// have none). Empty when fine, else what is wrong.
std::string CheckResponses(const std::string& method, const std::vector<std::string>& responses) {
  const auto* type = storm::ResponseType(method);
  std::unique_ptr<google::protobuf::Message> m(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(type)->New());
  const auto* status_field = type->FindFieldByName("status");
  bool any_status = false;
  for (const auto& bytes : responses) {
    m->Clear();
    if (!m->ParseFromString(bytes))
      return "a response that does not parse as " + type->full_name() + " (" + storm::Hex(bytes) + ")";
    const auto* reflection = m->GetReflection();
    if (status_field == nullptr || !reflection->HasField(*m, status_field)) continue;
    any_status = true;
    pb::Status status;
    status.CopyFrom(reflection->GetMessage(*m, status_field));
    if (status.code() == pb::Code::CODE_UNSPECIFIED)
      return "a status without a code: " + status.DebugString();
    if (status.code() != pb::Code::OK && status.message().empty())
      return "status " + pb::Code_Name(status.code()) + " without a message";
  }
  // A unary answer and a receive stream always carry a status; a Telemetry stream may not.
  if (!any_status && !method.ends_with("/Telemetry"))
    return "no status in " + std::to_string(responses.size()) + " response(s)";
  return "";
}

pb::ReceiveMessageRequest ReceiveRequest(const std::string& group, const std::string& topic, int32_t batch,
                                         int64_t invisible_ms) {
  pb::ReceiveMessageRequest r;
  r.mutable_group()->set_name(group);
  r.mutable_message_queue()->mutable_topic()->set_name(topic);
  r.mutable_filter_expression()->set_type(pb::FilterType::TAG);
  r.mutable_filter_expression()->set_expression("*");
  r.set_batch_size(batch);
  *r.mutable_invisible_duration() = TimeUtil::MillisecondsToDuration(invisible_ms);
  *r.mutable_long_polling_timeout() = TimeUtil::MillisecondsToDuration(500);
  return r;
}

// The first message a receive returns, receiving again until one comes (WaitUntil's deadline).
std::optional<pb::Message> ReceiveFirst(V2Client& c, const pb::ReceiveMessageRequest& request) {
  std::optional<pb::Message> first;
  WaitUntil([&] {
    grpc::ClientContext ctx;
    c.Prepare(&ctx);
    auto reader = c.stub()->ReceiveMessage(&ctx, request);
    pb::ReceiveMessageResponse r;
    while (reader->Read(&r)) {
      if (r.has_message() && !first) first = r.message();
    }
    reader->Finish();
    return first.has_value();
  });
  return first;
}

class V2RequestStormTest : public ::testing::Test {
 protected:
  void SetUp() override {
    previous_log_handler_ = google::protobuf::SetLogHandler(nullptr);
    ASSERT_TRUE(ns_.started());
    broker_ = std::make_unique<BrokerProcess>(
        BrokerOptions{ns_.address(),
                      dir_.path(),
                      "broker-a",
                      {"grpcServerPort=-1", "minInvisibleTimeMillsForRecv=1000",
                       "grpcClientConsumerMinLongPollingTimeoutMillis=0",
                       "grpcClientConsumerMaxLongPollingTimeoutMillis=1000", "recallMessageEnable=true",
                       "timerPrecisionMs=100", "transactionTimeOut=300", "transactionCheckInterval=300"}});
    ASSERT_TRUE(broker_->Start());
    ASSERT_FALSE(broker_->v2_address().empty());
    CreateTopic(*broker_, kTopic, 2);
  }

  void TearDown() override { google::protobuf::SetLogHandler(previous_log_handler_); }

  // Well-formed requests of every RPC, with handles taken from live messages.
  std::vector<Sample> Samples() {
    V2Client c(broker_->v2_address());
    auto send = [&](const pb::Message& m) {
      pb::SendMessageRequest req;
      *req.add_messages() = m;
      pb::SendMessageResponse resp;
      EXPECT_GRPC_OK(c.Unary(&Stub::SendMessage, req, &resp));
      EXPECT_EQ(resp.status().code(), pb::Code::OK) << resp.status().message();
      return resp.entries_size() == 1 ? resp.entries(0) : pb::SendResultEntry();
    };
    const pb::Message normal = V2Message(kTopic, "storm-body", "STORM-1");
    send(normal);
    send(V2Message(kTopic, "storm-body-2", "STORM-2"));
    const pb::SendResultEntry txn =
        send(V2Message(kTopic, "storm-txn", "STORM-TX", pb::MessageType::TRANSACTION));
    pb::Message delayed = V2Message(kTopic, "storm-later", "STORM-DELAY", pb::MessageType::DELAY);
    delayed.mutable_system_properties()->mutable_delivery_timestamp()->set_seconds(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count() +
        3600);
    const pb::SendResultEntry later = send(delayed);

    // Both queues may hold a message; the receive answers from either.
    pb::ReceiveMessageRequest receive = ReceiveRequest(kGroup, kTopic, 1, 600000);
    receive.mutable_message_queue()->set_id(0);
    const std::optional<pb::Message> received = ReceiveFirst(c, receive);
    EXPECT_TRUE(received.has_value());
    const std::string receipt = received ? received->system_properties().receipt_handle() : "";

    pb::Resource topic;
    topic.set_name(kTopic);
    pb::Resource group;
    group.set_name(kGroup);
    pb::Endpoints endpoints;
    endpoints.set_scheme(pb::AddressScheme::IPv4);
    auto* address = endpoints.add_addresses();
    address->set_host("127.0.0.1");
    address->set_port(8081);
    pb::MessageQueue queue;
    *queue.mutable_topic() = topic;
    queue.set_id(0);

    std::vector<Sample> out;
    auto add = [&](const char* name, Shape shape, const google::protobuf::Message& m) {
      out.push_back({kService + name, shape, m.SerializeAsString()});
    };
    pb::QueryRouteRequest route;
    *route.mutable_topic() = topic;
    *route.mutable_endpoints() = endpoints;
    add("QueryRoute", Shape::kUnary, route);
    pb::HeartbeatRequest heartbeat;
    *heartbeat.mutable_group() = group;
    heartbeat.set_client_type(pb::ClientType::SIMPLE_CONSUMER);
    add("Heartbeat", Shape::kUnary, heartbeat);
    pb::SendMessageRequest send_req;
    *send_req.add_messages() = normal;
    *send_req.add_messages() = delayed;
    add("SendMessage", Shape::kUnary, send_req);
    pb::QueryAssignmentRequest assignment;
    *assignment.mutable_topic() = topic;
    *assignment.mutable_group() = group;
    *assignment.mutable_endpoints() = endpoints;
    add("QueryAssignment", Shape::kUnary, assignment);
    add("ReceiveMessage", Shape::kServerStream, receive);
    pb::AckMessageRequest ack;
    *ack.mutable_group() = group;
    *ack.mutable_topic() = topic;
    ack.add_entries()->set_receipt_handle(receipt);
    ack.mutable_entries(0)->set_message_id("STORM-1");
    add("AckMessage", Shape::kUnary, ack);
    pb::ForwardMessageToDeadLetterQueueRequest forward;
    *forward.mutable_group() = group;
    *forward.mutable_topic() = topic;
    forward.set_receipt_handle(receipt);
    forward.set_message_id("STORM-1");
    forward.set_delivery_attempt(1);
    forward.set_max_delivery_attempts(16);
    add("ForwardMessageToDeadLetterQueue", Shape::kUnary, forward);
    pb::PullMessageRequest pull;
    *pull.mutable_group() = group;
    *pull.mutable_message_queue() = queue;
    pull.set_batch_size(8);
    add("PullMessage", Shape::kServerStream, pull);
    pb::UpdateOffsetRequest update_offset;
    *update_offset.mutable_group() = group;
    *update_offset.mutable_message_queue() = queue;
    update_offset.set_offset(1);
    add("UpdateOffset", Shape::kUnary, update_offset);
    pb::GetOffsetRequest get_offset;
    *get_offset.mutable_group() = group;
    *get_offset.mutable_message_queue() = queue;
    add("GetOffset", Shape::kUnary, get_offset);
    pb::QueryOffsetRequest query_offset;
    *query_offset.mutable_message_queue() = queue;
    add("QueryOffset", Shape::kUnary, query_offset);
    pb::EndTransactionRequest end;
    *end.mutable_topic() = topic;
    end.set_message_id(txn.message_id());
    end.set_transaction_id(txn.transaction_id());
    end.set_resolution(pb::TransactionResolution::COMMIT);
    end.set_source(pb::TransactionSource::SOURCE_CLIENT);
    add("EndTransaction", Shape::kUnary, end);
    pb::TelemetryCommand settings;
    *settings.mutable_settings() = ConsumerSettings(kGroup, kTopic);
    add("Telemetry", Shape::kBidi, settings);
    pb::TelemetryCommand producer_settings;
    *producer_settings.mutable_settings() = ProducerSettings(kTopic);
    add("Telemetry", Shape::kBidi, producer_settings);
    pb::NotifyClientTerminationRequest terminate;
    *terminate.mutable_group() = group;
    add("NotifyClientTermination", Shape::kUnary, terminate);
    pb::ChangeInvisibleDurationRequest change;
    *change.mutable_group() = group;
    *change.mutable_topic() = topic;
    change.set_receipt_handle(receipt);
    *change.mutable_invisible_duration() = TimeUtil::MillisecondsToDuration(600000);
    change.set_message_id("STORM-1");
    add("ChangeInvisibleDuration", Shape::kUnary, change);
    pb::RecallMessageRequest recall;
    *recall.mutable_topic() = topic;
    recall.set_recall_handle(later.recall_handle());
    add("RecallMessage", Shape::kUnary, recall);
    pb::SyncLiteSubscriptionRequest lite;
    *lite.mutable_topic() = topic;
    *lite.mutable_group() = group;
    lite.add_lite_topic_set("lite");
    add("SyncLiteSubscription", Shape::kUnary, lite);
    return out;
  }

  google::protobuf::LogHandler* previous_log_handler_ = nullptr;
  NamesrvProcess ns_;
  TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_;
};

// The SDK's metadata, now and then without the client id or with an odd namespace. Values stay
// printable: gRPC refuses other metadata on the client side, before anything is sent.
std::function<void(grpc::ClientContext*)> MetadataOf(ProtoMutator& mutator, const V2Client& sdk) {
  const uint64_t roll = mutator.Next() % 40;
  return [roll, &sdk](grpc::ClientContext* ctx) {
    ctx->AddMetadata("x-mq-protocol", "v2");
    if (roll != 0) ctx->AddMetadata("x-mq-client-id", roll == 1 ? std::string(300, 'c') : sdk.client_id());
    ctx->AddMetadata("x-mq-request-id", "3f2a8c1e-0000-4000-8000-000000000001");
    ctx->AddMetadata("x-mq-language", roll == 2 ? "COBOL" : "HTTP");
    ctx->AddMetadata("x-mq-client-version", "1.0.8");
    if (roll == 3) ctx->AddMetadata("x-mq-namespace", "ns%with spaces/and..dots");
    if (roll == 4) ctx->AddMetadata("x-mq-namespace", std::string(200, 'n'));
    if (roll == 5)
      ctx->AddMetadata("authorization", "MQv2-HMAC-SHA1 Credential=ak, SignedHeaders=x-mq-date-time");
  };
}

TEST_F(V2RequestStormTest, TheV2FrontAnswersEveryMutatedRequestAndStillServes) {
  const auto [seed, requests] = storm::SizeOf("v2 request storm", kDefaultSeed, kDefaultRequests);
  const std::vector<Sample> samples = Samples();
  ASSERT_FALSE(HasFailure());
  for (const auto& s : samples) ASSERT_NE(storm::RequestType(s.method), nullptr) << s.method;
  V2Client sdk(broker_->v2_address());
  grpc::GenericStub stub(rpc::CreateChannel(broker_->v2_address()));

  ProtoMutator mutator(seed);
  static const char* kKindNames[] = {"valid", "structured", "unknown_fields", "bytes", "garbage"};
  std::map<std::string, int64_t> by_kind, by_code;
  const auto budget_end = std::chrono::steady_clock::now() + kStormTimeBudget;
  int64_t sent = 0;
  for (; sent < requests && std::chrono::steady_clock::now() < budget_end; ++sent) {
    const Sample& sample = samples[mutator.Next() % samples.size()];
    ProtoMutator::Kind kind;
    const auto* type = storm::RequestType(sample.method);
    std::vector<std::string> writes{mutator.Mutate(type, sample.bytes, &kind)};
    if (sample.shape == Shape::kBidi) {
      for (uint64_t more = mutator.Next() % 3; more > 0; --more) {
        ProtoMutator::Kind ignored;
        writes.push_back(mutator.Mutate(type, sample.bytes, &ignored));
      }
    }
    std::string target = sample.method;
    if (mutator.Next() % 200 == 0) target += "NoSuchMethod";
    const storm::CallLimits limits{kCallDeadline, kHardLimit, MetadataOf(mutator, sdk)};
    storm::Outcome out = sample.shape == Shape::kUnary ? storm::CallUnary(&stub, target, writes[0], limits)
                                                       : storm::CallStream(&stub, target, writes, limits);
    const std::string what = "request #" + std::to_string(sent) + " seed=" + std::to_string(seed) + " " +
                             target + " kind=" + kKindNames[static_cast<int>(kind)] +
                             " bytes=" + storm::Hex(writes[0]);
    ASSERT_TRUE(out.completed) << "no answer " << (kCallDeadline + kHardLimit).count() << " s after sending "
                               << what;
    const grpc::Status& s = out.status;
    ++by_kind[kKindNames[static_cast<int>(kind)]];
    ++by_code[std::to_string(s.error_code())];
    ASSERT_EQ(storm::CheckStatus(s, sample.method, target, writes[0]), "") << what;
    if (s.ok() && target == sample.method) {
      const std::string wrong = CheckResponses(sample.method, out.responses);
      ASSERT_TRUE(wrong.empty()) << wrong << ": " << what;
    }
    if (sent % 100 == 0) {
      ASSERT_TRUE(broker_->process().running()) << "mqbroker died by " << what;
    }
  }
  ASSERT_TRUE(broker_->process().running());
  const std::string summary =
      "sent=" + std::to_string(sent) + storm::Counts("", by_kind) + storm::Counts(" | grpc codes:", by_code);
  std::printf("v2 request storm: %s\n", summary.c_str());
  RecordProperty("storm", summary);
  EXPECT_GE(sent, std::min<int64_t>(requests, 1000)) << "the storm ran out of time early";

  // Still serving: a send through the v2 front, received through it.
  const std::string topic = "V2AfterStorm";
  CreateTopic(*broker_, topic, 1);
  pb::SendMessageRequest req;
  *req.add_messages() = V2Message(topic, "still alive", "AFTER-1");
  pb::SendMessageResponse resp;
  ASSERT_TRUE(sdk.Unary(&Stub::SendMessage, req, &resp).ok());
  ASSERT_EQ(resp.status().code(), pb::Code::OK) << resp.status().message();
  const auto received = ReceiveFirst(sdk, ReceiveRequest("V2AfterStormGroup", topic, 4, 10000));
  ASSERT_TRUE(received.has_value());
  EXPECT_EQ(received->body(), "still alive");
}

}  // namespace
}  // namespace mq::testing
