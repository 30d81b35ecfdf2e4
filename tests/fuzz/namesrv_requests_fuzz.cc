// Fuzz target: every request handler of the NameServer (mq.v1.NameServer), called directly
// on NamesrvService with no network. Byte 0 picks the RPC; the rest is parsed as its request.
// RegisterBroker is a client stream whose reactor needs a live call: here one parsed
// RegisterBrokerChunk is converted and registered the way its reactor does it (the stream
// reactor itself is exercised by the black-box test). The tables persist across inputs, and
// are rebuilt every kInputsPerTables inputs to bound their growth.
// Properties: no crash, no sanitizer report, every call answers within kHang, refusals carry
// a message and are never UNKNOWN.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/rpc/status_convert.h"
#include "fuzz_support.h"
#include "namesrv/kv_config_store.h"
#include "namesrv/namesrv_service.h"
#include "namesrv/proto_convert.h"
#include "namesrv/route_table.h"
#include "sample_requests.h"
#include "service_call.h"

namespace {

using mq::namesrv::NamesrvService;
constexpr int kInputsPerTables = 5000;

struct Tables {
  mq::namesrv::RouteTable routes{mq::SystemClock::Default()};
  mq::namesrv::KvConfigStore kv;
  NamesrvService service{&routes, &kv, [] {
                           return std::map<std::string, std::string>{{"listenPort", "9876"}};
                         }};
};

void Register(Tables& t, std::string_view bytes) {
  mq::v1::RegisterBrokerChunk chunk;
  if (!mq::fuzz::Parse(bytes, &chunk)) return;
  if (!chunk.has_broker() || chunk.total_topics() != chunk.topic_configs_size())
    return;  // the reactor refuses
  mq::namesrv::BrokerRegistration registration;
  registration.broker = mq::namesrv::FromProto(chunk.broker());
  registration.data_version = mq::namesrv::FromProto(chunk.data_version());
  for (const auto& topic : chunk.topic_configs())
    registration.topics.push_back(mq::namesrv::FromProto(topic));
  auto master = t.routes.RegisterBroker(registration);
  mq::fuzz::CheckGrpc(mq::rpc::ToGrpcStatus(master.status()), "RegisterBroker");
}

using Rpc = std::function<void(Tables&, std::string_view)>;

std::vector<Rpc> Rpcs() {
  auto u = [](auto method, const char* name) {
    return [method, name](Tables& t, std::string_view b) { mq::fuzz::CallUnary(t.service, method, b, name); };
  };
  // Order matters: the seed corpus names RPCs by this index (see make_corpus.cc).
  return {
      Register,
      u(&NamesrvService::Heartbeat, "Heartbeat"),
      u(&NamesrvService::UnregisterBroker, "UnregisterBroker"),
      u(&NamesrvService::QueryRoute, "QueryRoute"),
      u(&NamesrvService::GetClusterInfo, "GetClusterInfo"),
      u(&NamesrvService::GetAllTopics, "GetAllTopics"),
      u(&NamesrvService::DeleteTopic, "DeleteTopic"),
      u(&NamesrvService::WipeWritePerm, "WipeWritePerm"),
      u(&NamesrvService::AddWritePerm, "AddWritePerm"),
      u(&NamesrvService::PutKvConfig, "PutKvConfig"),
      u(&NamesrvService::GetKvConfig, "GetKvConfig"),
      u(&NamesrvService::DeleteKvConfig, "DeleteKvConfig"),
      u(&NamesrvService::GetKvList, "GetKvList"),
      u(&NamesrvService::GetNamesrvConfig, "GetNamesrvConfig"),
  };
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mq::fuzz::QuietLogging();
  static const std::vector<Rpc> rpcs = [] {
    auto table = Rpcs();
    MQ_FUZZ_CHECK(table.size() == mq::fuzz::kNamesrvMethods.size(),
                  "dispatch table and kNamesrvMethods disagree");
    return table;
  }();
  static std::unique_ptr<Tables> tables;
  static int inputs = 0;
  if (size == 0) return 0;
  if (!tables || ++inputs % kInputsPerTables == 0) tables = std::make_unique<Tables>();
  std::string_view payload(reinterpret_cast<const char*>(data) + 1, size - 1);
  rpcs[data[0] % rpcs.size()](*tables, payload);
  return 0;
}
