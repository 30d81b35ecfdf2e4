// Corrupted store, store level: many seeded rounds each write messages, stop the store, flip
// random bytes in or truncate one file (a commit log segment, a consume queue segment, an index
// file or the checkpoint), and restart. The store must either refuse to start with an error
// naming the damaged file or directory, or start and serve only records that are exactly what
// was written: every delivered record passes its CRC and matches the sent message byte for byte.
//
// Reproduce a round: MQ_FAULT_SEED=<seed printed by the failure> MQ_FAULT_ROUNDS=1.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "broker/store/message_store.h"
#include "testutil/temp_dir.h"
#include "testutil/tmpfs_mount.h"
#include "testutil/wait.h"
#include "unit/store/store_test_util.h"

namespace mq::store::testing {
namespace {
namespace fs = std::filesystem;
using mq::testing::RegularFilesUnder;
using mq::testing::TempDir;
using mq::testing::WaitUntil;

struct Sent {
  std::string topic;
  int32_t queue_id = 0;
  std::string body;
  std::string keys;
};

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

enum class Target { kCommitLog, kConsumeQueue, kIndex, kCheckpoint };
const char* TargetName(Target t) {
  switch (t) {
    case Target::kCommitLog:
      return "commitlog";
    case Target::kConsumeQueue:
      return "consumequeue";
    case Target::kIndex:
      return "index";
    case Target::kCheckpoint:
      return "checkpoint";
  }
  return "?";
}

// Bytes up to the last non-zero one: flips aimed there hit written data, not the zero tail.
int64_t UsedLength(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t last = data.find_last_not_of('\0');
  return last == std::string::npos ? static_cast<int64_t>(data.size()) : static_cast<int64_t>(last + 1);
}

// Damages one file of the stopped store; returns a description for the failure message.
std::string Corrupt(const std::string& root, std::mt19937_64& rng, std::string* damaged, Target* hit,
                    bool* truncated) {
  Target target = static_cast<Target>(rng() % 4);
  *hit = target;
  *truncated = false;
  std::vector<std::string> files;
  switch (target) {
    case Target::kCommitLog:
      files = RegularFilesUnder(root + "/commitlog");
      break;
    case Target::kConsumeQueue:
      files = RegularFilesUnder(root + "/consumequeue");
      break;
    case Target::kIndex:
      files = RegularFilesUnder(root + "/index");
      break;
    case Target::kCheckpoint:
      files = {root + "/checkpoint"};
      break;
  }
  if (files.empty()) return std::string("no file for ") + TargetName(target);
  const std::string path = files[rng() % files.size()];
  *damaged = path;
  const int64_t size = static_cast<int64_t>(fs::file_size(path));
  if (rng() % 3 == 0) {
    *truncated = true;
    int64_t to = size == 0 ? 0 : static_cast<int64_t>(rng() % static_cast<uint64_t>(size));
    fs::resize_file(path, static_cast<uintmax_t>(to));
    return "truncated " + path + " from " + std::to_string(size) + " to " + std::to_string(to);
  }
  const int64_t used = std::max<int64_t>(1, UsedLength(path));
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  const int flips = 1 + static_cast<int>(rng() % 8);
  std::string what = "flipped " + std::to_string(flips) + " byte(s) of " + path + " at";
  for (int i = 0; i < flips; ++i) {
    auto pos = static_cast<int64_t>(rng() % static_cast<uint64_t>(used));
    char c = 0;
    f.seekg(pos);
    f.read(&c, 1);
    c = static_cast<char>(c ^ static_cast<char>(1 + rng() % 255));
    f.seekp(pos);
    f.write(&c, 1);
    what += " " + std::to_string(pos);
  }
  return what;
}

struct RoundResult {
  int sent = 0;
  int delivered = 0;
  bool refused = false;
};

// One round; failures are reported through gtest with the round's seed in scope.
RoundResult RunRound(uint64_t seed, const std::string& root) {
  RoundResult result;
  std::mt19937_64 rng(seed);
  StoreOptions options = SmallOptions(root);
  std::map<std::string, Sent> sent;  // by UNIQ_KEY
  {
    MessageStore store(options);
    Status s = store.Start();
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (!s.ok()) return result;
    const int n = 60 + static_cast<int>(rng() % 120);
    for (int i = 0; i < n; ++i) {
      Sent m;
      m.topic = rng() % 4 == 0 ? "TopicB" : "TopicA";
      m.queue_id = m.topic == "TopicB" ? 0 : static_cast<int32_t>(rng() % 3);
      m.body.resize(1 + rng() % 900);
      for (auto& c : m.body) c = static_cast<char>(rng());
      m.keys = "k" + std::to_string(i);
      std::string uniq = "u" + std::to_string(seed) + "-" + std::to_string(i);
      PutResult r =
          PutSync(store, Msg(m.topic, m.queue_id, m.body, "t" + std::to_string(i % 3), m.keys, uniq));
      EXPECT_TRUE(r.ok()) << r.error;
      sent[uniq] = m;
    }
    EXPECT_TRUE(WaitUntil([&] { return Dispatched(store); }));
  }
  result.sent = static_cast<int>(sent.size());
  // A third of the rounds leave the abort marker, as a crash would, so recovery validates.
  const bool crashed = rng() % 3 == 0;
  if (crashed) std::ofstream(options.store_path_root_dir + "/abort") << "running\n";
  std::string damaged;
  Target hit = Target::kCommitLog;
  bool truncated = false;
  const std::string what = Corrupt(options.store_path_root_dir, rng, &damaged, &hit, &truncated);
  SCOPED_TRACE(what + (crashed ? " (abort marker left)" : ""));

  MessageStore store(options);
  Status s = store.Start();
  if (!s.ok()) {
    // Refusing is allowed, but the operator must learn which file to look at.
    const std::string name = fs::path(damaged).filename().string();
    const std::string parent = fs::path(damaged).parent_path().string();
    EXPECT_TRUE(s.message().find(name) != std::string::npos || s.message().find(parent) != std::string::npos)
        << "start refused without naming the damaged file: " << s.ToString();
    result.refused = true;
    return result;
  }
  EXPECT_TRUE(WaitUntil([&] { return Dispatched(store); }, std::chrono::seconds(5)));
  auto check = [&](std::string_view raw, const std::string& where) {
    auto view = DecodeRecord(raw, /*verify_crc=*/true);
    EXPECT_TRUE(view.ok()) << where
                           << ": delivered a record that fails its CRC: " << view.status().ToString();
    if (!view.ok()) return;
    StoredMessage msg = ToStoredMessage(*view, raw);
    auto it = sent.find(msg.Property("UNIQ_KEY"));
    EXPECT_NE(it, sent.end()) << where << ": delivered a message never sent";
    if (it == sent.end()) return;
    EXPECT_EQ(msg.topic, it->second.topic) << where;
    EXPECT_EQ(msg.header.queue_id, it->second.queue_id) << where;
    EXPECT_EQ(msg.body, it->second.body) << where;
    EXPECT_EQ(msg.Property("KEYS"), it->second.keys) << where;
  };
  for (const auto& [topic, queues] : std::map<std::string, int>{{"TopicA", 3}, {"TopicB", 1}}) {
    for (int32_t q = 0; q < queues; ++q) {
      int64_t offset = store.MinOffsetInQueue(topic, q);
      const int64_t max = store.MaxOffsetInQueue(topic, q);
      for (int guard = 0; offset < max && guard < 1000; ++guard) {
        auto got = store.GetMessages("g", topic, q, offset, 32, 1 << 20);
        for (size_t i = 0; i < got.messages.size(); ++i) {
          check(got.messages[i],
                topic + "-" + std::to_string(q) + "@" + std::to_string(got.queue_offsets[i]));
          auto view = DecodeRecord(got.messages[i], false);
          if (view.ok()) {
            EXPECT_EQ(view->queue_offset, got.queue_offsets[i]) << "record served at the wrong queue offset";
          }
          ++result.delivered;
        }
        if (got.next_begin_offset <= offset) break;
        offset = got.next_begin_offset;
      }
    }
  }
  // With the commit log intact, a lost checkpoint, index or a cut consume queue loses nothing:
  // recovery rebuilds from the log. (Flipped consume queue units are dropped when read.)
  if (hit == Target::kCheckpoint || hit == Target::kIndex || (hit == Target::kConsumeQueue && truncated)) {
    EXPECT_EQ(result.delivered, result.sent) << "acked messages lost although the commit log is intact";
  }
  // The index may be damaged too: what a key lookup returns must still be what was sent.
  for (int i = 0; i < 10; ++i) {
    std::string key = "k" + std::to_string(rng() % 180);
    for (const auto& m : store.QueryMessageByKey("TopicA", key, 8)) check(m.raw, "index key " + key);
  }
  // A recovered store takes writes again.
  if (store.BackgroundError().ok()) {
    PutResult r = PutSync(store, Msg("TopicA", 0, "after-recovery"));
    EXPECT_TRUE(r.ok()) << r.error;
  }
  return result;
}

TEST(StoreCorruptionTest, RandomFlipsAndTruncationsNeverServeBadRecords) {
  // fsync-bound on a real disk (~100 ms a round); a tmpfs keeps many rounds within seconds.
  TempDir scratch;
  mq::testing::TmpfsMount tmpfs(scratch.Sub("tmpfs"), 256 * 1024 * 1024);
  const std::string parent = tmpfs.mounted() ? tmpfs.dir() : scratch.path();
  const uint64_t base = EnvOr("MQ_FAULT_SEED", 20261203);
  const uint64_t rounds = EnvOr("MQ_FAULT_ROUNDS", 150);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int sent = 0, delivered = 0, refused = 0;
  uint64_t ran = 0;
  for (; ran < rounds && std::chrono::steady_clock::now() < deadline; ++ran) {
    const uint64_t seed = base + ran;
    SCOPED_TRACE("seed=" + std::to_string(seed) + " (rerun: MQ_FAULT_SEED=" + std::to_string(seed) +
                 " MQ_FAULT_ROUNDS=1)");
    const std::string root = parent + "/round-" + std::to_string(seed);
    RoundResult r = RunRound(seed, root);
    std::error_code ec;
    fs::remove_all(root, ec);
    sent += r.sent;
    delivered += r.delivered;
    refused += r.refused ? 1 : 0;
    if (::testing::Test::HasFailure()) {
      ++ran;
      break;
    }
  }
  std::printf(
      "store corruption: base seed %llu, %llu rounds, %d refused to start, %d of %d messages served\n",
      static_cast<unsigned long long>(base), static_cast<unsigned long long>(ran), refused, delivered, sent);
}

// Regression (found by the first corrupted-consume-queue round): a damaged unit made the store
// serve bytes that were not the record at that queue position.
TEST(StoreCorruptionTest, DamagedConsumeQueueUnitsAreNotServed) {
  TempDir dir;
  StoreOptions options = SmallOptions(dir.Sub("store"));
  std::vector<int64_t> phy;
  {
    MessageStore store(options);
    ASSERT_TRUE(store.Start().ok());
    for (int i = 0; i < 6; ++i) {
      PutResult r = PutSync(store, Msg(i % 2 == 0 ? "TopicA" : "TopicB", 0, "body" + std::to_string(i)));
      ASSERT_TRUE(r.ok()) << r.error;
      phy.push_back(r.physical_offset);
    }
    ASSERT_TRUE(WaitUntil([&] { return Dispatched(store); }));
  }
  {
    // TopicA-0 holds bodies 0, 2, 4 at queue offsets 0, 1, 2. Unit 0 now points at TopicB's
    // record (whole and CRC-valid); unit 1 keeps its offset but claims a shorter size.
    std::fstream f(options.store_path_root_dir + "/consumequeue/TopicA/0/00000000000000000000",
                   std::ios::in | std::ios::out | std::ios::binary);
    char be[8];
    for (int b = 0; b < 8; ++b) be[b] = static_cast<char>(static_cast<uint64_t>(phy[1]) >> (56 - 8 * b));
    f.seekp(0);
    f.write(be, 8);
    f.seekp(20 + 8 + 3);  // low byte of unit 1's size
    char size_low = 0;
    f.seekg(20 + 8 + 3);
    f.read(&size_low, 1);
    size_low = static_cast<char>(size_low - 1);
    f.seekp(20 + 8 + 3);
    f.write(&size_low, 1);
  }
  MessageStore store(options);
  ASSERT_TRUE(store.Start().ok());
  auto got = store.GetMessages("g", "TopicA", 0, 0, 32, 1 << 20);
  ASSERT_EQ(got.messages.size(), 1u);
  EXPECT_EQ(got.queue_offsets[0], 2);
  auto view = DecodeRecord(got.messages[0], true);
  ASSERT_TRUE(view.ok()) << view.status().ToString();
  EXPECT_EQ(view->body, "body4");
  EXPECT_EQ(got.next_begin_offset, 3);
}

// Regression (found by a truncated-consume-queue round): after a clean stop the checkpoint was
// trusted, so units cut from a consume queue were never rebuilt; the messages stayed in the
// commit log but no consumer could reach them, and new puts reused their queue offsets.
TEST(StoreCorruptionTest, TruncatedConsumeQueueIsRebuiltFromTheCommitLog) {
  TempDir dir;
  StoreOptions options = SmallOptions(dir.Sub("store"));
  {
    MessageStore store(options);
    ASSERT_TRUE(store.Start().ok());
    for (int i = 0; i < 30; ++i) ASSERT_TRUE(PutSync(store, Msg("TopicA", 0, "m" + std::to_string(i))).ok());
    ASSERT_TRUE(WaitUntil([&] { return Dispatched(store); }));
  }
  fs::resize_file(options.store_path_root_dir + "/consumequeue/TopicA/0/00000000000000000000", 5 * 20);
  MessageStore store(options);
  ASSERT_TRUE(store.Start().ok());
  EXPECT_EQ(store.MaxOffsetInQueue("TopicA", 0), 30);
  PutResult r = PutSync(store, Msg("TopicA", 0, "m30"));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.queue_offset, 30);
  ASSERT_TRUE(WaitUntil([&] { return Dispatched(store); }));
  auto got = store.GetMessages("g", "TopicA", 0, 0, 64, 1 << 20);
  ASSERT_EQ(got.messages.size(), 31u);
  for (int i = 0; i < 31; ++i) {
    auto view = DecodeRecord(got.messages[static_cast<size_t>(i)], true);
    ASSERT_TRUE(view.ok()) << view.status().ToString();
    EXPECT_EQ(view->body, "m" + std::to_string(i));
  }
}

// Regression (found by a corrupted-index round): an index file whose entry count and hash slots
// are damaged made a key lookup read far outside the mapped file.
TEST(StoreCorruptionTest, DamagedIndexCountAndSlotsDoNotReadOutsideTheFile) {
  TempDir dir;
  StoreOptions options = SmallOptions(dir.Sub("store"));
  {
    MessageStore store(options);
    ASSERT_TRUE(store.Start().ok());
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(
          PutSync(store, Msg("TopicA", 0, "body" + std::to_string(i), "", "k" + std::to_string(i))).ok());
    }
    ASSERT_TRUE(WaitUntil([&] { return Dispatched(store); }));
  }
  auto files = RegularFilesUnder(options.store_path_root_dir + "/index");
  ASSERT_EQ(files.size(), 1u);
  {
    std::fstream f(files[0], std::ios::in | std::ios::out | std::ios::binary);
    const char huge[4] = {0x7F, static_cast<char>(0xFF), static_cast<char>(0xFF), static_cast<char>(0xF0)};
    f.seekp(36);  // indexCount
    f.write(huge, 4);
    const char beyond[4] = {0x01, 0x00, 0x00, 0x00};  // 16 Mi entries: far past this file
    for (int slot = 0; slot < options.max_hash_slot_num; ++slot) {
      f.seekp(40 + slot * 4);
      f.write(beyond, 4);
    }
  }
  MessageStore store(options);
  ASSERT_TRUE(store.Start().ok());
  for (int i = 0; i < 20; ++i) {
    for (const auto& m : store.QueryMessageByKey("TopicA", "k" + std::to_string(i), 8)) {
      EXPECT_EQ(m.body, "body" + std::to_string(i));
    }
  }
  // New keys still go somewhere inside the file (or into a new one).
  ASSERT_TRUE(PutSync(store, Msg("TopicA", 0, "later", "", "k-later")).ok());
  ASSERT_TRUE(WaitUntil([&] { return Dispatched(store); }));
  auto later = store.QueryMessageByKey("TopicA", "k-later", 8);
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].body, "later");
}

}  // namespace
}  // namespace mq::store::testing
