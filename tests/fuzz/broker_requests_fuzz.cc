// Fuzz target: every request handler of the broker's client port (mq.v1.Messaging and
// mq.v1.BrokerAdmin), called directly on the service adapters (or, for the three whose
// adapter needs a live call - SendMessage, PullMessage, Heartbeat - on their processors),
// with no network. Byte 0 picks the RPC; the rest is parsed as its request message, so the
// protobuf parser itself is fuzzed too. The broker state persists across inputs (a fresh
// harness every kInputsPerHarness inputs bounds its disk and table growth), so sequences of
// requests are explored, not just single ones.
// Properties: no crash, no sanitizer report; every call finishes within kHang; a refusal is a
// gRPC status with a message and never UNKNOWN.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "broker_harness.h"
#include "common/rpc/status_convert.h"
#include "sample_requests.h"
#include "service_call.h"

namespace {

using mq::fuzz::BrokerHarness;
using mq::fuzz::CheckGrpc;
using mq::fuzz::Parse;
using mq::fuzz::WaitOrDie;
constexpr int kInputsPerHarness = 5000;

// As MessagingService::SendMessage: the wire path first, protobuf for what it leaves.
void Send(BrokerHarness& h, std::string_view bytes) {
  auto done = std::make_shared<std::promise<mq::Status>>();
  auto future = done->get_future();
  mq::v1::SendMessageRequest request;
  mq::v1::SendMessageResponse response;
  if (!h.send().TrySendWire(bytes, {}, [done](const mq::Status& s, std::string) { done->set_value(s); })) {
    if (!Parse(bytes, &request)) return;
    h.send().Send(&request, &response, [done](const mq::Status& s) { done->set_value(s); });
  }
  CheckGrpc(mq::rpc::ToGrpcStatus(WaitOrDie(future, "SendMessage")), "SendMessage");
}

void Pull(BrokerHarness& h, std::string_view bytes) {
  mq::v1::PullMessageRequest request;
  if (!Parse(bytes, &request)) return;
  auto done = std::make_shared<std::promise<mq::Status>>();
  auto future = done->get_future();
  h.pull().Pull(request, [done](const mq::Status& s, mq::v1::PullMessageResponse*,
                                mq::broker::ByteBudget::Lease) { done->set_value(s); });
  CheckGrpc(mq::rpc::ToGrpcStatus(WaitOrDie(future, "PullMessage")), "PullMessage");
}

void Heartbeat(BrokerHarness& h, std::string_view bytes) {
  mq::v1::HeartbeatRequest request;
  if (!Parse(bytes, &request)) return;
  CheckGrpc(mq::rpc::ToGrpcStatus(h.client().Heartbeat(request, "127.0.0.1:40000").status()), "Heartbeat");
}

// GetConsumerIds legitimately holds for wait_millis (up to 120 s) when nothing changes; an
// in-range hold is shortened to 50 ms so that only a real hang trips kHang. Out-of-range
// values are kept: refusing them is part of what is fuzzed.
void GetConsumerIds(BrokerHarness& h, std::string_view bytes) {
  mq::v1::GetConsumerIdsRequest request;
  if (!Parse(bytes, &request)) return;
  if (request.wait_millis() > 50 && request.wait_millis() <= 120000) request.set_wait_millis(50);
  mq::fuzz::CallUnary(h.messaging(), &mq::broker::MessagingService::GetConsumerIds,
                      request.SerializeAsString(), "GetConsumerIds");
}

using Rpc = std::function<void(BrokerHarness&, std::string_view)>;

std::vector<Rpc> Rpcs() {
  using mq::broker::AdminService;
  using mq::broker::MessagingService;
  auto m = [](auto method, const char* name) {
    return [method, name](BrokerHarness& h, std::string_view b) {
      mq::fuzz::CallUnary(h.messaging(), method, b, name);
    };
  };
  auto a = [](auto method, const char* name) {
    return [method, name](BrokerHarness& h, std::string_view b) {
      mq::fuzz::CallUnary(h.admin(), method, b, name);
    };
  };
  // Order matters: the seed corpus names RPCs by this index (see make_corpus.cc).
  return {
      Send,
      Pull,
      m(&MessagingService::QueryConsumerOffset, "QueryConsumerOffset"),
      m(&MessagingService::UpdateConsumerOffset, "UpdateConsumerOffset"),
      m(&MessagingService::GetQueueOffsets, "GetQueueOffsets"),
      m(&MessagingService::SearchOffset, "SearchOffset"),
      Heartbeat,
      m(&MessagingService::UnregisterClient, "UnregisterClient"),
      GetConsumerIds,
      m(&MessagingService::LockBatchQueues, "LockBatchQueues"),
      m(&MessagingService::UnlockBatchQueues, "UnlockBatchQueues"),
      a(&AdminService::CreateTopic, "CreateTopic"),
      a(&AdminService::DeleteTopic, "DeleteTopic"),
      a(&AdminService::GetTopicConfig, "GetTopicConfig"),
      a(&AdminService::GetTopicStats, "GetTopicStats"),
      a(&AdminService::CreateSubscriptionGroup, "CreateSubscriptionGroup"),
      a(&AdminService::DeleteSubscriptionGroup, "DeleteSubscriptionGroup"),
      a(&AdminService::GetSubscriptionGroups, "GetSubscriptionGroups"),
      a(&AdminService::GetConsumeStats, "GetConsumeStats"),
      a(&AdminService::GetConsumerConnections, "GetConsumerConnections"),
      a(&AdminService::GetProducerConnections, "GetProducerConnections"),
      a(&AdminService::GetBrokerRuntimeInfo, "GetBrokerRuntimeInfo"),
      a(&AdminService::QueryMessage, "QueryMessage"),
      a(&AdminService::ResetOffsetByTimestamp, "ResetOffsetByTimestamp"),
      a(&AdminService::GetBrokerConfig, "GetBrokerConfig"),
      a(&AdminService::UpdateBrokerConfig, "UpdateBrokerConfig"),
      m(&MessagingService::EndTransaction, "EndTransaction"),
      m(&MessagingService::QueryTransactionHalf, "QueryTransactionHalf"),
  };
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<Rpc> rpcs = [] {
    auto table = Rpcs();
    MQ_FUZZ_CHECK(table.size() == mq::fuzz::kBrokerMethods.size(),
                  "dispatch table and kBrokerMethods disagree");
    return table;
  }();
  static std::unique_ptr<BrokerHarness> harness;
  static int inputs = 0;
  if (size == 0) return 0;
  if (!harness || ++inputs % kInputsPerHarness == 0) {
    harness.reset();
    harness = std::make_unique<BrokerHarness>();
    // Shut the broker down before the statics it uses (SystemClock, loggers) are destroyed:
    // a handler registered after they were constructed runs before their destructors.
    static const bool registered = [] { return std::atexit([] { harness.reset(); }) == 0; }();
    (void)registered;
  }
  std::string_view payload(reinterpret_cast<const char*>(data) + 1, size - 1);
  rpcs[data[0] % rpcs.size()](*harness, payload);
  harness->PinShortPolling();
  return 0;
}
