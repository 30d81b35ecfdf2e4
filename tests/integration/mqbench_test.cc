// A short mqbench producer run followed by a consumer run against real processes: the counts
// must add up (sent == consumed), and only SEND_OK counts as sent (mqbench and broker_bench).
// Speed is not checked here (see docs/benchmarks.md).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>
#include <memory>
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

int64_t Field(const std::string& json, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(json, m, std::regex("\"" + name + "\":([0-9]+)"))) return -1;
  return std::stoll(m[1]);
}

class MqbenchTest : public ::testing::Test {
 protected:
  // Starts a NameServer and a broker with the extra `sets`, and waits for its registration.
  ::testing::AssertionResult StartCluster(std::vector<std::string> sets = {}) {
    ns_ = std::make_unique<NamesrvProcess>();
    if (!ns_->started()) return ::testing::AssertionFailure() << "the NameServer did not start";
    broker_ = std::make_unique<BrokerProcess>(
        BrokerOptions{ns_->address(), dir_.Sub("broker"), "broker-a", std::move(sets)});
    if (!broker_->Start()) return ::testing::AssertionFailure() << broker_->process().ReadLog();
    if (!WaitRegistered(*ns_)) return ::testing::AssertionFailure() << "the broker did not register";
    return ::testing::AssertionSuccess();
  }

  TempDir dir_;
  std::unique_ptr<NamesrvProcess> ns_;
  std::unique_ptr<BrokerProcess> broker_;
};

TEST_F(MqbenchTest, ProducerAndConsumerCountsAddUp) {
  ASSERT_TRUE(StartCluster());

  auto [prc, produced] = RunBench({"producer", "-n", ns_->address(), "-t", "BenchCount", "-s", "128", "-w",
                                   "2", "--mode", "async", "--window", "16", "--count", "300", "--json"},
                                  dir_.Sub("producer.out"));
  ASSERT_EQ(prc, 0) << produced;
  EXPECT_EQ(Field(produced, "sent"), 300) << produced;
  EXPECT_EQ(Field(produced, "failed"), 0);
  EXPECT_EQ(Field(produced, "SEND_OK"), 300) << produced;

  auto [crc, consumed] = RunBench({"consumer", "-n", ns_->address(), "-t", "BenchCount", "-g", "bench_group",
                                   "--from-first", "--count", "300", "-d", "45", "--json"},
                                  dir_.Sub("consumer.out"));
  ASSERT_EQ(crc, 0) << consumed;
  EXPECT_EQ(Field(consumed, "received"), 300) << consumed;
  EXPECT_GE(Field(consumed, "p99_us"), 0);

  // The lite pull consumer reads the same messages, over the fast port and over gRPC.
  for (const char* fast : {"true", "false"}) {
    auto [lrc, polled] =
        RunBench({"consumer", "--lite", "--fast-send", fast, "-n", ns_->address(), "-t", "BenchCount", "-g",
                  std::string("lite_group_") + fast, "--from-first", "--count", "300", "-d", "45", "--json"},
                 dir_.Sub(std::string("lite-") + fast + ".out"));
    ASSERT_EQ(lrc, 0) << polled;
    EXPECT_EQ(Field(polled, "received"), 300) << polled;
  }
}

// e2e sends at a fixed rate and receives every message; its summary says where the latency
// went (send -> store, store -> listener, how late the pacer sent), so a slow run can be read.
TEST_F(MqbenchTest, EndToEndReceivesEverySendAndBreaksTheLatencyDown) {
  ASSERT_TRUE(StartCluster());

  auto [rc, out] = RunBench({"e2e", "-n", ns_->address(), "-t", "BenchE2e", "-g", "e2e_group", "-s", "128",
                             "--rate", "200", "-d", "1", "--json"},
                            dir_.Sub("e2e.out"));
  ASSERT_EQ(rc, 0) << out;
  EXPECT_GE(Field(out, "received"), 200) << out;  // plus the warm-up send
  EXPECT_EQ(Field(out, "SEND_OK"), 200) << out;
  for (const char* stage : {"send_to_store", "store_to_listener", "pacer_lag"}) {
    EXPECT_NE(out.find(std::string("\"") + stage + "\":{\"p50_us\":"), std::string::npos)
        << stage << ": " << out;
  }
}

// --warmup sends at the rate first and leaves those messages out of the measurement (counted
// apart); --timeline writes, per window of send time, every message received, warm-up included.
TEST_F(MqbenchTest, EndToEndWarmUpIsLeftOutAndTheTimelineCountsEveryMessage) {
  ASSERT_TRUE(StartCluster());
  const std::string timeline = dir_.Sub("timeline.csv");
  auto [rc, out] = RunBench(
      {"e2e",    "-n",    ns_->address(), "-t", "BenchWarm", "-g",  "warm_group", "-s",     "128",
       "--rate", "200",   "-d",           "1",  "--warmup",  "0.5", "--timeline", timeline, "--timeline-ms",
       "100",    "--json"},
      dir_.Sub("e2e.out"));
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(Field(out, "SEND_OK"), 300) << out;
  EXPECT_GT(Field(out, "warmup_received"), 0) << out;
  // Plus the topic-creating send before the timed ones when the consumer gets it (measured, as
  // without a warm-up).
  const int64_t both = Field(out, "received") + Field(out, "warmup_received");
  EXPECT_TRUE(both == 300 || both == 301) << out;
  EXPECT_GE(Field(out, "over_2ms"), 0) << out;

  std::ifstream in(timeline);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_EQ(line, "window_ms,messages,over_2000_us,max_us");
  int64_t messages = 0;
  int rows = 0;
  while (std::getline(in, line)) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, std::regex("([0-9]+),([0-9]+),([0-9]+),([0-9]+)"))) << line;
    messages += std::stoll(m[2]);
    ++rows;
  }
  EXPECT_EQ(messages, 300);
  EXPECT_GE(rows, 10) << "1.5 s of sends in 100 ms windows";
}

// A SYNC_MASTER without a slave stores every message but acknowledges none as durable
// (SLAVE_NOT_AVAILABLE): both benchmarks must report every send failed, per status.
TEST_F(MqbenchTest, SyncMasterWithoutSlaveCountsEverySendFailed) {
  ASSERT_TRUE(StartCluster({"brokerRole=SYNC_MASTER", "haListenPort=0"}));

  auto [prc, produced] = RunBench({"producer", "-n", ns_->address(), "-t", "NoSlave", "-s", "128", "-w", "2",
                                   "--mode", "async", "--window", "8", "--count", "40", "--json"},
                                  dir_.Sub("producer.out"));
  EXPECT_NE(prc, 0) << produced;
  EXPECT_EQ(Field(produced, "sent"), 0) << produced;
  EXPECT_EQ(Field(produced, "failed"), 40) << produced;
  EXPECT_EQ(Field(produced, "SLAVE_NOT_AVAILABLE"), 40) << produced;
  EXPECT_EQ(Field(produced, "SEND_OK"), -1) << produced;

  auto [brc, raw] = RunBench({"-b", broker_->address(), "-t", "NoSlaveRaw", "--mode", "send", "--count", "40",
                              "-s", "128", "--connections", "1", "--window", "4", "--queues", "2", "--json"},
                             dir_.Sub("broker_bench.out"), "broker_bench");
  EXPECT_NE(brc, 0) << raw;
  EXPECT_EQ(Field(raw, "messages"), 0) << raw;
  EXPECT_EQ(Field(raw, "failed"), 40) << raw;
  EXPECT_EQ(Field(raw, "SLAVE_NOT_AVAILABLE"), 40) << raw;
  EXPECT_EQ(Field(raw, "tps"), 0) << raw;
}

// --mode both drops the send phase's channels and opens the pull phase's. It aborted in 14 of 25
// runs (a double free in grpc_cq_internal_unref) while a send's context, holding its channel,
// died on gRPC's thread after the last send's count had let the channels go: the process's last
// channel then took gRPC's callback queue with it from under the thread serving it.
TEST_F(MqbenchTest, BrokerBenchSendsThenPullsEveryMessageAndExitsCleanly) {
  ASSERT_TRUE(StartCluster());
  for (int run = 0; run < 5; ++run) {
    const std::string topic = "BothModes" + std::to_string(run);
    auto [rc, pulled] = RunBench({"-b", broker_->address(), "-t", topic, "--mode", "both", "--count", "2000",
                                  "-s", "128", "--queues", "2", "--json"},
                                 dir_.Sub("both" + std::to_string(run) + ".out"), "broker_bench");
    ASSERT_EQ(rc, 0) << "run " << run << ": " << pulled;
    EXPECT_EQ(Field(pulled, "messages"), 2000) << pulled;
    EXPECT_EQ(Field(pulled, "errors"), 0) << pulled;
  }
}

TEST_F(MqbenchTest, UnreachableNameServerFailsClearly) {
  auto [rc, out] =
      RunBench({"producer", "-n", "127.0.0.1:1", "-t", "T", "--count", "5", "--mode", "sync", "--json"},
               dir_.Sub("out"));
  EXPECT_NE(rc, 0);
  EXPECT_EQ(Field(out, "failed"), 5) << out;
}

}  // namespace
}  // namespace mq::testing
