// Black-box request storm on a master's replication port (mq.v1.Replication on haListenPort): the
// other storms' mutations of well-formed Replicate handshakes and acks and GetMetadata requests,
// sent as raw bytes; Replicate as a stream of one to three slave reports, half-closed.
// Checks: every call ends before its hard limit (a Replicate whose handshake was accepted runs
// until the client half-closes); a gRPC error is never UNKNOWN or UNAVAILABLE and says why; every
// chunk and response parses; the master stays up and, afterwards, serves what it stored.
// Reproducible: MQ_STORM_SEED picks the seed, MQ_STORM_REQUESTS the count.
#include <google/protobuf/message.h>
#include <google/protobuf/stubs/logging.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "broker_fixture.h"
#include "common/rpc/grpc_defaults.h"
#include "grpc_test_util.h"
#include "mq/v1/ha.pb.h"
#include "proto_mutator.h"
#include "storm_call.h"
#include "testutil/temp_dir.h"

namespace mq::testing {
namespace {

constexpr uint64_t kDefaultSeed = 20261208;
constexpr int64_t kDefaultRequests = 1500;
constexpr auto kStormTimeBudget = std::chrono::seconds(90);
constexpr int32_t kSegmentBytes = 4 * 1024 * 1024;
const std::string kReplicate = "/mq.v1.Replication/Replicate";
const std::string kGetMetadata = "/mq.v1.Replication/GetMetadata";

class HaPortStormTest : public ::testing::Test {
 protected:
  void SetUp() override {
    previous_log_handler_ = google::protobuf::SetLogHandler(nullptr);
    broker_ = std::make_unique<BrokerProcess>(
        BrokerOptions{"",
                      dir_.path(),
                      "broker-a",
                      {"brokerRole=ASYNC_MASTER", "haListenPort=0",
                       "mappedFileSizeCommitLog=" + std::to_string(kSegmentBytes)}});
    ASSERT_TRUE(broker_->Start()) << broker_->process().ReadLog();
    const std::string port = RuntimeValue(broker_->admin(), "haListenPort");
    ASSERT_FALSE(port.empty());
    ha_address_ = "127.0.0.1:" + port;
  }
  void TearDown() override { google::protobuf::SetLogHandler(previous_log_handler_); }

  google::protobuf::LogHandler* previous_log_handler_ = nullptr;
  TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_;
  std::string ha_address_;
};

TEST_F(HaPortStormTest, TheReplicationPortAnswersEveryMutatedRequestAndTheMasterServesOn) {
  const auto [seed, requests] = storm::SizeOf("ha port storm", kDefaultSeed, kDefaultRequests);
  // Something to replicate.
  std::vector<mq::v1::Message> batch(20, TextMessage(std::string(300, 'h'), "TagA"));
  ASSERT_TRUE(Send(broker_->messaging(), "HaStormTopic", 0, batch).ok());
  ASSERT_TRUE(WaitForMaxOffset(broker_->messaging(), "HaStormTopic", 0, 20));

  // Samples: an empty slave's handshake (accepted: the master streams its log from 0), an ack,
  // and a metadata fetch carrying a slave's offsets.
  mq::v1::SlaveReport handshake;
  handshake.set_broker_name("broker-a");
  handshake.set_broker_id(1);
  handshake.set_slave_addr("127.0.0.1:1");
  handshake.mutable_handshake()->set_mapped_file_size_commit_log(kSegmentBytes);
  mq::v1::SlaveReport ack = handshake;
  ack.clear_handshake();
  ack.set_max_phy_offset(4096);
  mq::v1::GetMetadataRequest metadata;
  metadata.set_broker_name("broker-a");
  metadata.set_broker_id(1);
  const std::string handshake_bytes = handshake.SerializeAsString();
  const std::string ack_bytes = ack.SerializeAsString();
  const std::string metadata_bytes = metadata.SerializeAsString();
  const auto* report_type = storm::RequestType(kReplicate);
  const auto* metadata_type = storm::RequestType(kGetMetadata);
  ASSERT_NE(report_type, nullptr);
  ASSERT_NE(metadata_type, nullptr);

  grpc::GenericStub stub(rpc::CreateChannel(ha_address_));
  ProtoMutator mutator(seed);
  static const char* kKindNames[] = {"valid", "structured", "unknown_fields", "bytes", "garbage"};
  std::map<std::string, int64_t> by_kind, by_code, handshakes;
  const storm::CallLimits limits{std::chrono::milliseconds(3000), std::chrono::milliseconds(10000), {}};
  const auto budget_end = std::chrono::steady_clock::now() + kStormTimeBudget;
  int64_t sent = 0;
  for (; sent < requests && std::chrono::steady_clock::now() < budget_end; ++sent) {
    const bool replicate = mutator.Next() % 3 != 0;
    ProtoMutator::Kind kind;
    std::vector<std::string> writes;
    storm::Outcome out;
    if (replicate) {
      writes.push_back(mutator.Mutate(report_type, handshake_bytes, &kind));
      for (uint64_t more = mutator.Next() % 3; more > 0; --more) {
        ProtoMutator::Kind ignored;
        writes.push_back(mutator.Mutate(report_type, ack_bytes, &ignored));
      }
      out = storm::CallStream(&stub, kReplicate, writes, limits);
    } else {
      writes.push_back(mutator.Mutate(metadata_type, metadata_bytes, &kind));
      out = storm::CallUnary(&stub, kGetMetadata, writes[0], limits);
    }
    const std::string method = replicate ? kReplicate : kGetMetadata;
    const std::string what = "request #" + std::to_string(sent) + " seed=" + std::to_string(seed) + " " +
                             method + " kind=" + kKindNames[static_cast<int>(kind)] +
                             " bytes=" + storm::Hex(writes[0]);
    ASSERT_TRUE(out.completed) << "no end 13 s after sending " << what;
    const grpc::Status& s = out.status;
    ++by_kind[kKindNames[static_cast<int>(kind)]];
    ++by_code[std::to_string(s.error_code())];
    ASSERT_EQ(storm::CheckStatus(s, method, method, writes[0]), "") << what;
    for (const auto& bytes : out.responses) ASSERT_EQ(storm::CheckParses(method, bytes), "") << what;
    if (replicate && !out.responses.empty()) {  // the first chunk answers the handshake
      mq::v1::LogChunk first;
      ASSERT_TRUE(first.ParseFromString(out.responses.front()));
      ++handshakes[mq::v1::HandshakeStatus_Name(first.handshake().status())];
      if (first.handshake().status() != mq::v1::HANDSHAKE_ACCEPTED) {
        ASSERT_FALSE(first.handshake().message().empty()) << "a refused handshake without a reason: " << what;
      }
    }
    if (sent % 100 == 0) {
      ASSERT_TRUE(broker_->process().running()) << "mqbroker died by " << what;
    }
  }
  ASSERT_TRUE(broker_->process().running());
  const std::string summary = "sent=" + std::to_string(sent) + storm::Counts("", by_kind) +
                              storm::Counts(" | handshakes:", handshakes) +
                              storm::Counts(" | grpc codes:", by_code);
  std::printf("ha port storm: %s\n", summary.c_str());
  RecordProperty("storm", summary);
  EXPECT_GE(sent, std::min<int64_t>(requests, 500)) << "the storm ran out of time early";

  // The master still takes and serves messages.
  ASSERT_TRUE(Send(broker_->messaging(), "HaStormTopic", 0, {TextMessage("still alive")}).ok());
  ASSERT_TRUE(WaitForMaxOffset(broker_->messaging(), "HaStormTopic", 0, 21));
  mq::v1::PullMessageResponse pulled;
  ASSERT_GRPC_OK(Pull(broker_->messaging(), "HaStormGroup", "HaStormTopic", 0, 20, &pulled));
  ASSERT_EQ(pulled.messages_size(), 1);
  EXPECT_EQ(pulled.messages(0).message().body(), "still alive");
}

}  // namespace
}  // namespace mq::testing
