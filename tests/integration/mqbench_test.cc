// A short mqbench producer run followed by a consumer run against real processes: the counts
// must add up (sent == consumed), and only SEND_OK counts as sent (mqbench and broker_bench).
// Speed is not checked here (see docs/benchmarks.md).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <regex>

#include "broker_fixture.h"
#include "namesrv_fixture.h"
#include "testutil/process.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {

using namespace std::chrono_literals;

// Runs a benchmark tool (mqbench by default) with args; returns its exit code and the last
// JSON line of its output.
std::pair<int, std::string> RunBench(const std::vector<std::string>& args, const std::string& log,
                                     const std::string& tool = "mqbench") {
  ChildProcess p;
  EXPECT_TRUE(p.Start(BinaryPath(tool), args, log));
  auto status = p.Wait(60s);
  if (!status) return {-1, p.ReadLog()};
  std::string out = p.ReadLog();
  std::string json;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t nl = out.find('\n', pos);
    std::string line = out.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    if (!line.empty() && line.front() == '{') json = line;
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return {WIFEXITED(*status) ? WEXITSTATUS(*status) : -1, json};
}

// The broker registers with the NameServer on its own thread after it is ready; a producer
// started before that finds no route for the auto-create template (NotFound).
bool WaitRegistered(NamesrvProcess& ns) {
  return WaitUntil([&] { return QueryRoute(ns.stub(), "TBW102").ok(); }, std::chrono::seconds(15));
}

int64_t Field(const std::string& json, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(json, m, std::regex("\"" + name + "\":([0-9]+)"))) return -1;
  return std::stoll(m[1]);
}

TEST(MqbenchTest, ProducerAndConsumerCountsAddUp) {
  NamesrvProcess ns;
  ASSERT_TRUE(ns.started());
  TempDir dir;
  BrokerProcess broker({ns.address(), dir.Sub("broker"), "broker-a", {}});
  ASSERT_TRUE(broker.Start()) << broker.process().ReadLog();
  ASSERT_TRUE(WaitRegistered(ns));

  auto [prc, produced] = RunBench({"producer", "-n", ns.address(), "-t", "BenchCount", "-s", "128", "-w", "2",
                                   "--mode", "async", "--window", "16", "--count", "300", "--json"},
                                  dir.Sub("producer.out"));
  ASSERT_EQ(prc, 0) << produced;
  EXPECT_EQ(Field(produced, "sent"), 300) << produced;
  EXPECT_EQ(Field(produced, "failed"), 0);
  EXPECT_EQ(Field(produced, "SEND_OK"), 300) << produced;

  auto [crc, consumed] = RunBench({"consumer", "-n", ns.address(), "-t", "BenchCount", "-g", "bench_group",
                                   "--from-first", "--count", "300", "-d", "45", "--json"},
                                  dir.Sub("consumer.out"));
  ASSERT_EQ(crc, 0) << consumed;
  EXPECT_EQ(Field(consumed, "received"), 300) << consumed;
  EXPECT_GE(Field(consumed, "p99_us"), 0);
}

// e2e sends at a fixed rate and receives every message; its summary says where the latency
// went (send -> store, store -> listener, how late the pacer sent), so a slow run can be read.
TEST(MqbenchTest, EndToEndReceivesEverySendAndBreaksTheLatencyDown) {
  NamesrvProcess ns;
  ASSERT_TRUE(ns.started());
  TempDir dir;
  BrokerProcess broker({ns.address(), dir.Sub("broker"), "broker-a", {}});
  ASSERT_TRUE(broker.Start()) << broker.process().ReadLog();
  ASSERT_TRUE(WaitRegistered(ns));

  auto [rc, out] = RunBench({"e2e", "-n", ns.address(), "-t", "BenchE2e", "-g", "e2e_group", "-s", "128",
                             "--rate", "200", "-d", "1", "--json"},
                            dir.Sub("e2e.out"));
  ASSERT_EQ(rc, 0) << out;
  EXPECT_GE(Field(out, "received"), 200) << out;  // plus the warm-up send
  EXPECT_EQ(Field(out, "SEND_OK"), 200) << out;
  for (const char* stage : {"send_to_store", "store_to_listener", "pacer_lag"}) {
    EXPECT_NE(out.find(std::string("\"") + stage + "\":{\"p50_us\":"), std::string::npos)
        << stage << ": " << out;
  }
}

// A SYNC_MASTER without a slave stores every message but acknowledges none as durable
// (SLAVE_NOT_AVAILABLE): both benchmarks must report every send failed, per status.
TEST(MqbenchTest, SyncMasterWithoutSlaveCountsEverySendFailed) {
  NamesrvProcess ns;
  ASSERT_TRUE(ns.started());
  TempDir dir;
  BrokerProcess broker(
      {ns.address(), dir.Sub("broker"), "broker-a", {"brokerRole=SYNC_MASTER", "haListenPort=0"}});
  ASSERT_TRUE(broker.Start()) << broker.process().ReadLog();
  ASSERT_TRUE(WaitRegistered(ns));

  auto [prc, produced] = RunBench({"producer", "-n", ns.address(), "-t", "NoSlave", "-s", "128", "-w", "2",
                                   "--mode", "async", "--window", "8", "--count", "40", "--json"},
                                  dir.Sub("producer.out"));
  EXPECT_NE(prc, 0) << produced;
  EXPECT_EQ(Field(produced, "sent"), 0) << produced;
  EXPECT_EQ(Field(produced, "failed"), 40) << produced;
  EXPECT_EQ(Field(produced, "SLAVE_NOT_AVAILABLE"), 40) << produced;
  EXPECT_EQ(Field(produced, "SEND_OK"), -1) << produced;

  auto [brc, raw] = RunBench({"-b", broker.address(), "-t", "NoSlaveRaw", "--mode", "send", "--count", "40",
                              "-s", "128", "--connections", "1", "--window", "4", "--queues", "2", "--json"},
                             dir.Sub("broker_bench.out"), "broker_bench");
  EXPECT_NE(brc, 0) << raw;
  EXPECT_EQ(Field(raw, "messages"), 0) << raw;
  EXPECT_EQ(Field(raw, "failed"), 40) << raw;
  EXPECT_EQ(Field(raw, "SLAVE_NOT_AVAILABLE"), 40) << raw;
  EXPECT_EQ(Field(raw, "tps"), 0) << raw;
}

TEST(MqbenchTest, UnreachableNameServerFailsClearly) {
  TempDir dir;
  auto [rc, out] =
      RunBench({"producer", "-n", "127.0.0.1:1", "-t", "T", "--count", "5", "--mode", "sync", "--json"},
               dir.Sub("out"));
  EXPECT_NE(rc, 0);
  EXPECT_EQ(Field(out, "failed"), 5) << out;
}

}  // namespace
}  // namespace mq::testing
