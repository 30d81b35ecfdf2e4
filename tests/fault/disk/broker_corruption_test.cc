// Corrupted store, real mqbroker: each seeded round fills a broker, stops it, damages one file
// (a commit log segment, a consume queue, an index file, the checkpoint, or the topics,
// subscription group or consumer offset JSON) by flipping random bytes or truncating it, and
// starts it again. The broker either refuses to start with a log line naming the file, or
// starts and delivers only messages identical to what was acknowledged; anything it cannot
// deliver any more is reported in its log.
//
// Reproduce a round: MQ_FAULT_SEED=<seed printed by the failure> MQ_FAULT_ROUNDS=1.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "acked_messages.h"
#include "integration/grpc_test_util.h"
#include "testutil/temp_dir.h"
#include "testutil/tmpfs_mount.h"
#include "testutil/wait.h"

namespace mq::testing {
namespace {
namespace fs = std::filesystem;

const char* const kTopic = "Damaged";

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

// Damages one file of the stopped broker's store, chosen by `target`; describes what it did.
std::string Damage(const std::string& store, int target, std::mt19937_64& rng, std::string* damaged) {
  std::vector<std::string> files;
  switch (target) {
    case 0:
      files = RegularFilesUnder(store + "/commitlog");
      break;
    case 1:
      files = RegularFilesUnder(store + "/consumequeue/" + kTopic);
      break;
    case 2:
      files = RegularFilesUnder(store + "/index");
      break;
    case 3:
      files = {store + "/checkpoint"};
      break;
    case 4:
      files = {store + "/config/topics.json"};
      break;
    case 5:
      files = {store + "/config/subscriptionGroup.json"};
      break;
    default:
      files = {store + "/config/consumerOffset.json"};
      break;
  }
  files.erase(std::remove_if(files.begin(), files.end(), [](const std::string& f) { return !fs::exists(f); }),
              files.end());
  if (files.empty()) return "nothing to damage for target " + std::to_string(target);
  *damaged = files[rng() % files.size()];
  std::string data;
  {
    std::ifstream in(*damaged, std::ios::binary);
    data.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::string what;
  if (rng() % 3 == 0) {
    size_t to = data.empty() ? 0 : rng() % data.size();
    what = "truncated " + *damaged + " from " + std::to_string(data.size()) + " to " + std::to_string(to);
    data.resize(to);
  } else {
    // Aim at written bytes, not the zero tail of a pre-sized segment.
    size_t used = data.find_last_not_of('\0');
    used = used == std::string::npos ? data.size() : used + 1;
    int flips = 1 + static_cast<int>(rng() % 6);
    what = "flipped " + std::to_string(flips) + " byte(s) of " + *damaged + " at";
    for (int i = 0; i < flips && used > 0; ++i) {
      size_t pos = rng() % used;
      data[pos] = static_cast<char>(data[pos] ^ static_cast<char>(1 + rng() % 255));
      what += " " + std::to_string(pos);
    }
  }
  std::ofstream out(*damaged, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  return what;
}

// Commits a consumer offset, so consumerOffset.json and subscriptionGroup.json have content.
void CommitOffset(mq::v1::Messaging::Stub* stub, int32_t queue_id, int64_t offset) {
  mq::v1::PullMessageRequest req;
  req.set_consumer_group("damaged_group");
  req.set_topic(kTopic);
  req.set_queue_id(queue_id);
  req.set_queue_offset(offset);
  req.set_max_msg_nums(1);
  req.set_subscription("*");
  req.set_has_commit_offset(true);
  req.set_commit_offset(offset);
  req.set_client_id("damage-client");
  mq::v1::PullMessageResponse resp;
  ASSERT_GRPC_OK(Call(stub, &mq::v1::Messaging::Stub::PullMessage, req, &resp));
}

struct Totals {
  int rounds = 0;
  int refused = 0;
  size_t acked = 0;
  size_t delivered = 0;
};

void RunRound(uint64_t seed, const std::string& parent, Totals* totals) {
  std::mt19937_64 rng(seed);
  const std::string dir = parent + "/round-" + std::to_string(seed);
  BrokerProcess broker(
      {"",
       dir,
       "broker-a",
       {"mappedFileSizeCommitLog=262144", "maxMessageSize=65536", "mappedFileSizeConsumeQueue=2000",
        "maxHashSlotNum=256", "maxIndexNum=1024", "autoCreatePersistDelayMills=0"}});
  ASSERT_TRUE(broker.Start()) << broker.process().ReadLog();
  AckedMessages acked;
  const int n = 40 + static_cast<int>(rng() % 60);
  for (int i = 0; i < n; ++i) ASSERT_GRPC_OK(acked.SendOne(broker.messaging(), kTopic, i % 4, rng, 8192));
  for (int32_t q = 0; q < 4; ++q) CommitOffset(broker.messaging(), q, 1);
  // The checkpoint (every second) and consumer offsets (flushConsumerOffsetInterval) are
  // written in the background: wait for them, so a kill -9 round has them to damage too.
  const std::string store = dir + "/store";
  ASSERT_TRUE(WaitUntil([&] {
    return fs::exists(store + "/checkpoint") && fs::exists(store + "/config/consumerOffset.json");
  }));
  // Half the rounds stop cleanly, half crash (kill -9: the page cache keeps what was acked,
  // the abort marker makes recovery validate the log).
  const bool crash = rng() % 2 == 0;
  if (crash) {
    broker.process().Kill();
  } else {
    ASSERT_EQ(broker.Stop(), 0) << broker.process().ReadLog();
  }
  const std::string log_before = broker.process().ReadLog();

  const int target = static_cast<int>(seed % 7);
  std::string damaged;
  const std::string what = Damage(dir + "/store", target, rng, &damaged);
  SCOPED_TRACE(what + (crash ? " after kill -9" : " after a clean stop"));
  totals->acked += acked.size();
  ++totals->rounds;

  if (!broker.Start()) {
    // Refusing is allowed when it names the file an operator has to look at.
    const std::string log = broker.process().ReadLog().substr(log_before.size());
    EXPECT_NE(log.find(fs::path(damaged).filename().string()), std::string::npos)
        << "the broker refused to start without naming " << damaged << ":\n"
        << log;
    ++totals->refused;
    std::printf("round %llu: %s: refused to start\n", static_cast<unsigned long long>(seed), what.c_str());
    return;
  }
  // Pulls must work: a damaged topics.json falls back to its mirror, which has the topic.
  const size_t delivered = acked.VerifyDelivered(broker.messaging(), what);
  totals->delivered += delivered;
  std::printf("round %llu: %s%s: %zu of %zu acked delivered\n", static_cast<unsigned long long>(seed),
              what.c_str(), crash ? " after kill -9" : "", delivered, acked.size());
  broker.process().Kill();  // its store is thrown away; a clean stop would only cost time
  const std::string log = broker.process().ReadLog().substr(log_before.size());
  if (target >= 4 && log.find("loaded backup=") != std::string::npos) {
    // Config damage the parser caught: the backup mirror replaced the file, nothing was lost.
    EXPECT_EQ(delivered, acked.size());
  }
  if (delivered < acked.size()) {
    // A loss is never silent: recovery or the read path said what it dropped.
    const bool reported = log.find("bad record") != std::string::npos ||
                          log.find("dropping queue offset") != std::string::npos ||
                          log.find("truncate") != std::string::npos || log.find("short") != std::string::npos;
    EXPECT_TRUE(reported) << acked.size() - delivered << " acked message(s) lost without a log line:\n"
                          << log;
  }
}

TEST(BrokerCorruptionTest, SeededDamageNeverDeliversAMessageThatWasNotAcked) {
  TempDir scratch;
  // A tmpfs keeps the fsyncs of 20 broker lifecycles within seconds.
  TmpfsMount tmpfs(scratch.Sub("tmpfs"), 256 * 1024 * 1024);
  const std::string parent = tmpfs.mounted() ? tmpfs.dir() : scratch.path();
  const uint64_t base = EnvOr("MQ_FAULT_SEED", 1203);
  const uint64_t rounds = EnvOr("MQ_FAULT_ROUNDS", 14);  // two per damaged file kind
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  Totals totals;
  for (uint64_t i = 0; i < rounds && std::chrono::steady_clock::now() < deadline; ++i) {
    const uint64_t seed = base + i;
    SCOPED_TRACE("seed=" + std::to_string(seed) + " (rerun: MQ_FAULT_SEED=" + std::to_string(seed) +
                 " MQ_FAULT_ROUNDS=1)");
    RunRound(seed, parent, &totals);
    std::error_code ec;
    fs::remove_all(parent + "/round-" + std::to_string(seed), ec);
    if (::testing::Test::HasFailure()) break;
  }
  std::printf(
      "broker corruption: base seed %llu, %d rounds, %d refused to start, %zu of %zu acked delivered\n",
      static_cast<unsigned long long>(base), totals.rounds, totals.refused, totals.delivered, totals.acked);
}

}  // namespace
}  // namespace mq::testing
