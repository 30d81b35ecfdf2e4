// Black-box request storm on the broker's fast send port (common/frame.h over plain TCP): the v1
// storm's mutated SendMessage, PullMessage and UpdateConsumerOffset requests, framed with headers
// that are themselves mutated now and then (an unknown method, a Cancel with or without a
// payload, stray flags and codes, a response kind, a wrong magic, a length out of bounds).
// Checks: every request is answered under its id before the hard limit (a Cancel only ends a
// pull), a header the broker cannot read is answered with the field named and the connection
// closed; an OK reply parses as the method's response, an error reply's message is UTF-8 text
// and its code is never UNKNOWN; the broker stays up, and afterwards a fast send and pull work.
// Reproducible: MQ_STORM_SEED picks the seed, MQ_STORM_REQUESTS the count.
#include <google/protobuf/stubs/logging.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker_fixture.h"
#include "common/frame.h"
#include "common/utf8.h"
#include "frame_client.h"
#include "proto_mutator.h"
#include "sample_requests.h"
#include "storm_call.h"
#include "testutil/temp_dir.h"

namespace mq::testing {
namespace {

constexpr uint64_t kDefaultSeed = 20261207;
constexpr int64_t kDefaultRequests = 3000;
constexpr auto kStormTimeBudget = std::chrono::seconds(90);

struct FastSample {
  frame::Method method;
  std::string grpc_method;  // the same request's gRPC method, for its message types
  std::string bytes;
};

// How a request's header was made.
enum class HeaderKind { kValid, kOddFields, kUnknownMethod, kUnreadable };

class FastPortStormTest : public ::testing::Test {
 protected:
  void SetUp() override {
    previous_log_handler_ = google::protobuf::SetLogHandler(nullptr);
    // Pulls answer within 100 ms (no long polling), so every request is answered promptly.
    broker_ = std::make_unique<BrokerProcess>(
        BrokerOptions{"", dir_.path(), "broker-a", {"longPollingEnable=false", "shortPollingTimeMills=100"}});
    ASSERT_TRUE(broker_->Start()) << broker_->process().ReadLog();
    ASSERT_FALSE(broker_->fast_address().empty());
  }
  void TearDown() override { google::protobuf::SetLogHandler(previous_log_handler_); }

  google::protobuf::LogHandler* previous_log_handler_ = nullptr;
  TempDir dir_;
  std::unique_ptr<BrokerProcess> broker_;
};

std::vector<FastSample> FastSamples() {
  std::vector<FastSample> out;
  for (auto& s : fuzz::BrokerSamples("FastStormTopic", "FastStormGroup")) {
    const std::string& name = fuzz::kBrokerMethods[static_cast<size_t>(s.method)];
    if (name.ends_with("/SendMessage"))
      out.push_back({frame::Method::kSendMessage, name, std::move(s.bytes)});
    if (name.ends_with("/PullMessage"))
      out.push_back({frame::Method::kPullMessage, name, std::move(s.bytes)});
    if (name.ends_with("/UpdateConsumerOffset"))
      out.push_back({frame::Method::kUpdateConsumerOffset, name, std::move(s.bytes)});
  }
  return out;
}

// What is wrong with a reply to a request of `sample`'s method, or "".
std::string CheckReply(const FastSample& sample, const frame::Header& h, const std::string& payload) {
  if (h.code != StatusCode::kOk) {
    if (static_cast<int>(h.code) == 2) return "UNKNOWN: " + payload;  // gRPC's code for an unmapped error
    if (payload.empty()) return "code " + std::to_string(static_cast<int>(h.code)) + " without a message";
    if (!IsValidUtf8(payload)) return "a message that is not UTF-8: " + storm::Hex(payload);
    return "";
  }
  return storm::CheckParses(sample.grpc_method, payload);
}

TEST_F(FastPortStormTest, TheFastPortAnswersEveryMutatedFrameAndStillServes) {
  const auto [seed, requests] = storm::SizeOf("fast port storm", kDefaultSeed, kDefaultRequests);
  const std::vector<FastSample> samples = FastSamples();
  ASSERT_EQ(samples.size(), 3u);
  ProtoMutator mutator(seed);
  std::optional<FrameClient> client;
  auto connect = [&] {
    client.emplace(broker_->fast_address());
    return client->connected();
  };
  ASSERT_TRUE(connect());

  std::map<std::string, int64_t> by_header, by_code;
  int64_t reconnects = 0;
  uint64_t id = 0;
  const auto budget_end = std::chrono::steady_clock::now() + kStormTimeBudget;
  int64_t sent = 0;
  for (; sent < requests && std::chrono::steady_clock::now() < budget_end; ++sent) {
    const FastSample& sample = samples[mutator.Next() % samples.size()];
    ProtoMutator::Kind kind;
    std::string payload = mutator.Mutate(storm::RequestType(sample.grpc_method), sample.bytes, &kind);
    frame::Header h;
    h.kind = frame::Kind::kRequest;
    h.method = sample.method;
    h.request_id = ++id;
    HeaderKind header = HeaderKind::kValid;
    const uint64_t roll = mutator.Next() % 40;
    if (roll == 0) {
      header = HeaderKind::kUnknownMethod;
      h.method = static_cast<frame::Method>(mutator.Next() % 2 == 0 ? 0 : 5 + mutator.Next() % 251);
    } else if (roll <= 2) {
      header = HeaderKind::kOddFields;  // ignored on a request
      h.flags = static_cast<uint8_t>(mutator.Next());
      h.code = static_cast<StatusCode>(mutator.Next() % 20);
    } else if (roll == 3) {
      h.method = frame::Method::kCancel;  // of a pull in progress (none: ignored), or with a payload
      if (mutator.Next() % 2 == 0) payload.clear();
      h.request_id = id - mutator.Next() % 3;
    } else if (roll == 4) {
      header = HeaderKind::kUnreadable;
    }
    std::string bytes;
    frame::AppendFrame(h, payload, &bytes);
    uint64_t unreadable_case = 0;
    if (header == HeaderKind::kUnreadable) {
      unreadable_case = mutator.Next() % 4;
      switch (unreadable_case) {
        case 0:
          bytes[4] = static_cast<char>(frame::kMagic ^ 0x5A);  // magic
          break;
        case 1:
          bytes[5] = static_cast<char>(frame::Kind::kResponse);  // kind
          break;
        case 2:
          bytes[0] = bytes[1] = bytes[2] = '\0';  // length 0..255: at most a short header
          bytes[3] = static_cast<char>(mutator.Next() % 16);
          break;
        default:
          bytes[0] = static_cast<char>(0x7F);  // length about 2 GiB
          break;
      }
    }
    const std::string what = "request #" + std::to_string(sent) + " seed=" + std::to_string(seed) +
                             " method=" + std::to_string(static_cast<int>(h.method)) +
                             " header=" + std::to_string(static_cast<int>(header)) +
                             " payload=" + storm::Hex(payload);
    ASSERT_TRUE(client->Write(bytes)) << "the broker closed the connection before " << what;
    ++by_header[std::to_string(static_cast<int>(header))];

    if (header == HeaderKind::kUnreadable) {
      ASSERT_TRUE(RefusedThenHungUp(*client, "frame."))
          << "unreadable header case " << unreadable_case << ": " << what;
      ++reconnects;
      ASSERT_TRUE(connect()) << "cannot connect again after " << what;
      continue;
    }
    if (h.method == frame::Method::kCancel && payload.empty()) continue;  // no reply of its own

    // Replies come by id; a standing pull may send several before its last.
    bool answered = false;
    while (!answered) {
      auto reply = client->ReadFrame();
      ASSERT_TRUE(reply.has_value()) << "no reply within 10 s (or the connection closed) after " << what;
      const auto& [rh, rp] = *reply;
      ASSERT_EQ(rh.kind, frame::Kind::kResponse) << what;
      if (rh.request_id != h.request_id) continue;  // a late reply of an earlier standing pull
      ++by_code[std::to_string(static_cast<int>(rh.code))];
      if (header == HeaderKind::kUnknownMethod) {
        EXPECT_EQ(rh.code, StatusCode::kNotSupported) << rp << ": " << what;
        EXPECT_EQ(rp.rfind("frame.method", 0), 0u) << rp << ": " << what;
      } else if (h.method == frame::Method::kCancel) {
        EXPECT_EQ(rh.code, StatusCode::kInvalidArgument) << rp << ": " << what;
      } else {
        const std::string wrong = CheckReply(sample, rh, rp);
        ASSERT_TRUE(wrong.empty()) << wrong << ": " << what;
      }
      answered = (rh.flags & frame::kMoreReplies) == 0;
    }
    if (sent % 100 == 0) {
      ASSERT_TRUE(broker_->process().running()) << "mqbroker died by " << what;
    }
  }
  ASSERT_TRUE(broker_->process().running());
  const std::string summary = "sent=" + std::to_string(sent) + " reconnects=" + std::to_string(reconnects) +
                              storm::Counts(" | headers:", by_header) + storm::Counts(" | codes:", by_code);
  std::printf("fast port storm: %s\n", summary.c_str());
  RecordProperty("storm", summary);
  EXPECT_GE(sent, std::min<int64_t>(requests, 1000)) << "the storm ran out of time early";

  // Still serving on a fresh connection: a send, then a pull that returns it.
  FrameClient after(broker_->fast_address());
  ASSERT_TRUE(after.connected());
  ASSERT_TRUE(after.Write(SendFrame(1, SendRequest("FastAfterStorm", "still alive"))));
  auto sent_reply = after.ReadFrame();
  ASSERT_TRUE(sent_reply.has_value());
  ASSERT_EQ(sent_reply->first.code, StatusCode::kOk) << sent_reply->second;
  mq::v1::PullMessageRequest pull;
  pull.set_consumer_group("FastAfterStormGroup");
  pull.set_topic("FastAfterStorm");
  pull.set_max_msg_nums(8);
  ASSERT_TRUE(after.Write(SendFrame(2, pull.SerializeAsString(), frame::Method::kPullMessage)));
  auto pulled = after.ReadFrame();
  ASSERT_TRUE(pulled.has_value());
  ASSERT_EQ(pulled->first.code, StatusCode::kOk) << pulled->second;
  mq::v1::PullMessageResponse response;
  ASSERT_TRUE(response.ParseFromString(pulled->second));
  ASSERT_EQ(response.status(), mq::v1::FOUND);
  ASSERT_EQ(response.messages_size(), 1);
  EXPECT_EQ(response.messages(0).message().body(), "still alive");
}

}  // namespace
}  // namespace mq::testing
