// Black-box request storm: thousands of seeded random and mutated requests (structured field
// mutations, unknown fields, corrupted encodings, raw garbage) sent over loopback gRPC, through
// a generic stub that carries raw bytes, to every RPC of a real mqbroker and a real mqnamesrv.
// Checks: every call answers before its deadline with OK or a status that says what is wrong
// (never UNKNOWN, never "unavailable" from a dead server); both processes stay up; afterwards
// well-formed requests still work (send + pull round trip, route query).
// Reproducible: MQ_STORM_SEED picks the seed (default below), MQ_STORM_REQUESTS the count.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/stubs/logging.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "broker_fixture.h"
#include "common/rpc/grpc_defaults.h"
#include "grpc_test_util.h"
#include "mq/v1/admin.grpc.pb.h"
#include "mq/v1/broker.grpc.pb.h"
#include "mq/v1/namesrv.grpc.pb.h"
#include "namesrv_fixture.h"
#include "proto_mutator.h"
#include "sample_requests.h"
#include "storm_call.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

using google::protobuf::Descriptor;
constexpr uint64_t kDefaultSeed = 20261203;
constexpr int64_t kDefaultRequests = 4500;
constexpr auto kCallDeadline = std::chrono::seconds(3);
// A call that has not completed this long after its deadline is a hang in the client or server.
constexpr auto kHardLimit = std::chrono::seconds(10);
constexpr auto kStormTimeBudget = std::chrono::seconds(90);

using storm::Hex;
using storm::RequestType;

struct Target {
  std::string name;  // "broker" / "namesrv"
  std::unique_ptr<grpc::GenericStub> stub;
  const std::vector<std::string>* methods;
  std::vector<fuzz::SampleRequest> samples;
  ChildProcess* process;
};

// A request that legitimately holds longer than the call deadline (a long poll).
bool HoldsPastDeadline(const std::string& method, const std::string& bytes) {
  const int64_t limit = std::chrono::duration_cast<std::chrono::milliseconds>(kCallDeadline).count() - 500;
  if (method.ends_with("/GetConsumerIds")) {
    mq::v1::GetConsumerIdsRequest r;
    return r.ParseFromString(bytes) && r.wait_millis() >= limit;
  }
  if (method.ends_with("/PullMessage")) {
    mq::v1::PullMessageRequest r;
    return r.ParseFromString(bytes) && r.suspend_timeout_millis() >= limit;
  }
  return false;
}

class RequestStormTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Invalid UTF-8 in proto3 strings is part of the storm; protobuf would log every one.
    previous_log_handler_ = google::protobuf::SetLogHandler(nullptr);
    ASSERT_TRUE(namesrv_.started());
    broker_ = std::make_unique<BrokerProcess>(
        BrokerOptions{namesrv_.address(),
                      dir_.path(),
                      "broker-a",
                      // Pulls answer within 100 ms, so only GetConsumerIds can hold past a call deadline.
                      {"longPollingEnable=false", "shortPollingTimeMills=100"}});
    ASSERT_TRUE(broker_->Start());
  }

  void TearDown() override { google::protobuf::SetLogHandler(previous_log_handler_); }

  google::protobuf::LogHandler* previous_log_handler_ = nullptr;
  NamesrvProcess namesrv_;
  TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_;
};

TEST_F(RequestStormTest, BrokerAndNamesrvSurviveAndStillServe) {
  const auto [seed, requests] = storm::SizeOf("request storm", kDefaultSeed, kDefaultRequests);

  std::vector<Target> targets;
  targets.push_back({"broker", std::make_unique<grpc::GenericStub>(rpc::CreateChannel(broker_->address())),
                     &fuzz::kBrokerMethods, fuzz::BrokerSamples("StormTopic", "StormGroup"),
                     &broker_->process()});
  targets.push_back({"namesrv", std::make_unique<grpc::GenericStub>(rpc::CreateChannel(namesrv_.address())),
                     &fuzz::kNamesrvMethods, fuzz::NamesrvSamples("StormTopic", "127.0.0.1:1"),
                     &namesrv_.process()});
  for (const auto& t : targets) {
    for (const auto& m : *t.methods) ASSERT_NE(RequestType(m), nullptr) << m;
    ASSERT_EQ(t.samples.size(), t.methods->size()) << t.name << ": a method without a sample";
  }

  ProtoMutator mutator(seed);
  std::map<std::string, int64_t> by_kind, by_code, by_target;
  static const char* kKindNames[] = {"valid", "structured", "unknown_fields", "bytes", "garbage"};
  const auto budget_end = std::chrono::steady_clock::now() + kStormTimeBudget;
  int64_t sent = 0;
  for (; sent < requests && std::chrono::steady_clock::now() < budget_end; ++sent) {
    Target& t = targets[mutator.Next() % 3 == 0 ? 1 : 0];  // two thirds to the broker
    const auto& sample = t.samples[mutator.Next() % t.samples.size()];
    const std::string& method = (*t.methods)[static_cast<size_t>(sample.method)];
    ProtoMutator::Kind kind;
    std::string bytes = mutator.Mutate(RequestType(method), sample.bytes, &kind);
    std::string target_method = method;
    if (mutator.Next() % 200 == 0) target_method = method + "NoSuchMethod";

    storm::Outcome out =
        storm::CallUnary(t.stub.get(), target_method, bytes, {kCallDeadline, kHardLimit, {}});
    const std::string what = "request #" + std::to_string(sent) + " seed=" + std::to_string(seed) + " " +
                             target_method + " kind=" + kKindNames[static_cast<int>(kind)] +
                             " bytes=" + Hex(bytes);
    ASSERT_TRUE(out.completed) << "no answer " << (kCallDeadline + kHardLimit).count() << " s after sending "
                               << what;
    const grpc::Status& s = out.status;
    ++by_kind[kKindNames[static_cast<int>(kind)]];
    ++by_code[std::to_string(s.error_code())];
    ++by_target[t.name];
    ASSERT_EQ(storm::CheckStatus(s, method, target_method, bytes, HoldsPastDeadline(method, bytes)), "")
        << what;
    if (s.ok()) {
      ASSERT_EQ(storm::CheckParses(method, out.responses.at(0)), "") << what;
    }
    if (sent % 250 == 0) {
      ASSERT_TRUE(broker_->process().running()) << "mqbroker died by " << what;
      ASSERT_TRUE(namesrv_.process().running()) << "mqnamesrv died by " << what;
    }
  }
  ASSERT_TRUE(broker_->process().running());
  ASSERT_TRUE(namesrv_.process().running());
  const std::string summary = "sent=" + std::to_string(sent) + storm::Counts("", by_target) +
                              storm::Counts("", by_kind) + storm::Counts(" | grpc codes:", by_code);
  std::printf("request storm: %s\n", summary.c_str());
  RecordProperty("storm", summary);
  EXPECT_GE(sent, std::min<int64_t>(requests, 1000)) << "the storm ran out of time early";

  // The storm may have switched runtime settings (UpdateBrokerConfig is one of the RPCs):
  // put them back with a well-formed request, then check the broker still works end to end.
  mq::v1::UpdateBrokerConfigRequest restore;
  (*restore.mutable_config())["brokerPermission"] = "6";
  (*restore.mutable_config())["longPollingEnable"] = "false";
  (*restore.mutable_config())["shortPollingTimeMills"] = "100";
  mq::v1::UpdateBrokerConfigResponse restored;
  ASSERT_GRPC_OK(Call(broker_->admin(), &mq::v1::BrokerAdmin::Stub::UpdateBrokerConfig, restore, &restored));

  const std::string topic = "AfterStormTopic";
  mq::v1::SendMessageResponse sent_resp;
  ASSERT_GRPC_OK(Send(broker_->messaging(), topic, 0, {TextMessage("still alive", "TagA")}, &sent_resp));
  ASSERT_TRUE(WaitForMaxOffset(broker_->messaging(), topic, 0, 1));
  mq::v1::PullMessageResponse pulled;
  ASSERT_GRPC_OK(Pull(broker_->messaging(), "AfterStormGroup", topic, 0, 0, &pulled));
  ASSERT_EQ(pulled.messages_size(), 1);
  EXPECT_EQ(pulled.messages(0).message().body(), "still alive");

  // The broker re-registers every second; its new topic's route must show up.
  mq::v1::TopicRouteData route;
  EXPECT_TRUE(WaitUntil([&] {
    route.Clear();
    if (!QueryRoute(namesrv_.stub(), topic, &route).ok()) return false;
    for (const auto& b : route.broker_datas()) {
      for (const auto& [id, addr] : b.broker_addrs()) {
        if (addr == broker_->address()) return true;
      }
    }
    return false;
  })) << route.DebugString();
}

}  // namespace
}  // namespace mq::testing
