// Fuzz target: configuration text as an operator writes it (broker.conf / namesrv.conf, the
// RocketMQ key = value properties format) through the whole startup path: ParseConfigText ->
// ConfigSchema::Apply -> FinalizeBrokerConfig / ValidateNamesrvConfig, plus the address lists
// inside (namesrvAddr, host:port).
// Byte 0 picks broker (even) or namesrv (odd); the rest is the file text.
// Properties: refusals carry a message; an applied configuration printed with Dump()
// (--print-config) parses and applies back to exactly the same values.
#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "broker/broker_config.h"
#include "common/config_file.h"
#include "common/naming.h"
#include "fuzz_support.h"
#include "namesrv/namesrv_config.h"

namespace {

template <typename Config, typename Bind>
void ApplyAndRoundTrip(const mq::ConfigMap& map, Config config, Bind bind) {
  mq::ConfigSchema schema = bind(&config);
  std::vector<std::string> unknown;
  mq::Status applied = schema.Apply(map, &unknown);
  if (!applied.ok()) {
    mq::fuzz::CheckClearError(applied, "ConfigSchema::Apply");
    return;
  }
  const std::string dumped = schema.Dump();
  auto reparsed = mq::ParseConfigText(dumped, "dump");
  MQ_FUZZ_CHECK(reparsed.ok(), "--print-config output does not parse: " + reparsed.status().ToString());
  Config copy;
  mq::ConfigSchema copy_schema = bind(&copy);
  mq::Status reapplied = copy_schema.Apply(*reparsed, nullptr);
  MQ_FUZZ_CHECK(reapplied.ok(), "--print-config output does not apply: " + reapplied.ToString());
  MQ_FUZZ_CHECK(copy_schema.Dump() == dumped, "config changed in a print/parse round trip:\n" + dumped);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto map = mq::ParseConfigText(text, "fuzz.conf");
  if (!map.ok()) {
    mq::fuzz::CheckClearError(map.status(), "ParseConfigText");
    return 0;
  }
  if (data[0] % 2 == 0) {
    mq::broker::BrokerConfig base;
    base.brokerIP1 = "127.0.0.1";  // the default asks the network interfaces; keep it pure
    ApplyAndRoundTrip(*map, base,
                      [](mq::broker::BrokerConfig* c) { return mq::broker::BindBrokerConfig(c); });
    mq::broker::BrokerConfig config = base;
    mq::ConfigSchema schema = mq::broker::BindBrokerConfig(&config);
    if (schema.Apply(*map, nullptr).ok()) {
      if (config.brokerIP1.empty()) config.brokerIP1 = "127.0.0.1";
      mq::Status s = mq::broker::FinalizeBrokerConfig(&config);
      mq::fuzz::CheckClearError(s, "FinalizeBrokerConfig");
      if (s.ok()) (void)mq::broker::ToStoreOptions(config);
    }
  } else {
    ApplyAndRoundTrip(*map, mq::namesrv::NamesrvConfig{},
                      [](mq::namesrv::NamesrvConfig* c) { return mq::namesrv::BindNamesrvConfig(c); });
    mq::namesrv::NamesrvConfig config;
    mq::ConfigSchema schema = mq::namesrv::BindNamesrvConfig(&config);
    if (schema.Apply(*map, nullptr).ok()) {
      mq::fuzz::CheckClearError(mq::namesrv::ValidateNamesrvConfig(config), "ValidateNamesrvConfig");
    }
  }
  for (const auto& [key, value] : *map) {
    auto list = mq::broker::ParseNamesrvAddr(value);
    if (!list.ok()) mq::fuzz::CheckClearError(list.status(), "ParseNamesrvAddr");
    auto hp = mq::ParseHostPort(key, value);
    if (!hp.ok()) mq::fuzz::CheckClearError(hp.status(), "ParseHostPort");
  }
  return 0;
}
