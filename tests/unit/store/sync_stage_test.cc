// SYNC_FLUSH staging (StoreOptions::sync_flush_stage_bytes, CommitLog's staging ring): a put is
// copied into the ring and becomes readable only when the flush thread writes it, just before
// its sync; a put that does not fit the ring, or is larger than it, is written by the putting
// thread; staged puts across segment rolls are all stored, in order, and survive a restart.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "broker/store/message_store.h"
#include "store_test_util.h"
#include "testutil/wait.h"

namespace mq::store {
namespace {

using mq::testing::WaitUntil;
using testing::Msg;
using testing::PutSync;

// Holds the flush thread inside its commit log sync while `hold` is set (bounded: it gives up
// after 20 s), counting how often it got there.
struct FlushGate {
  std::atomic<bool> hold{false};
  std::atomic<int> entered{0};
};

// A put whose completion is awaited later.
struct PendingPut {
  std::atomic<bool> done{false};
  PutResult result;
};

std::shared_ptr<PendingPut> StartPut(MessageStore& store, MessageInput m) {
  auto put = std::make_shared<PendingPut>();
  store.PutMessage(std::move(m), [put](const PutResult& r) {
    put->result = r;
    put->done.store(true);
  });
  return put;
}

int64_t EndOf(const PutResult& r) { return r.physical_offset + r.wrote_bytes; }

class SyncStageTest : public testing::StoreFixture {
 protected:
  void SetUp() override {
    options_.flush_disk_type = FlushDiskType::kSyncFlush;
    options_.flush_interval_commit_log_ms = 10000;  // only group commit flushes
    options_.sync_flush_timeout_ms = 60000;         // a held flush must not time puts out
    options_.fault_hook = [gate = gate_](std::string_view op, const std::string& path) {
      if (op != "flush" || path.find("/commitlog/") == std::string::npos) return Status::OK();
      gate->entered.fetch_add(1);
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (gate->hold.load() && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      return Status::OK();
    };
  }

  // Puts `first` and waits until the flush thread has written it and is held in its sync.
  std::shared_ptr<PendingPut> HoldFlushBehind(MessageStore& store, MessageInput first) {
    gate_->hold.store(true);
    const int before = gate_->entered.load();
    auto put = StartPut(store, std::move(first));
    EXPECT_TRUE(WaitUntil([&] { return gate_->entered.load() > before; }));
    return put;
  }

  std::shared_ptr<FlushGate> gate_ = std::make_shared<FlushGate>();
};

TEST_F(SyncStageTest, StagedPutIsReadableOnlyOnceTheFlushThreadWritesIt) {
  options_.sync_flush_stage_bytes = 64 * 1024;
  auto store = Open();
  std::atomic<int> appended{0};
  store->SetAppendListener([&] { appended.fetch_add(1); });

  auto first = HoldFlushBehind(*store, Msg("T", 0, "first"));
  const int64_t readable = store->MaxPhyOffset();
  EXPECT_GT(readable, 0);  // written by the flush thread before its sync
  const int notified = appended.load();
  EXPECT_GE(notified, 1);

  auto second = StartPut(*store, Msg("T", 0, "second"));
  // Staged: neither readable nor announced to replication while the flush thread is held.
  EXPECT_EQ(store->MaxPhyOffset(), readable);
  EXPECT_EQ(appended.load(), notified);
  EXPECT_FALSE(second->done.load());

  gate_->hold.store(false);
  ASSERT_TRUE(WaitUntil([&] { return first->done.load() && second->done.load(); }));
  ASSERT_TRUE(first->result.ok()) << first->result.error;
  ASSERT_TRUE(second->result.ok()) << second->result.error;
  EXPECT_EQ(second->result.physical_offset, readable);
  EXPECT_EQ(second->result.queue_offset, 1);
  EXPECT_GE(store->MaxPhyOffset(), EndOf(second->result));
  EXPECT_GE(store->FlushedPhyOffset(), EndOf(second->result));
  EXPECT_GT(appended.load(), notified);
  auto read = store->LookMessageByOffset(second->result.physical_offset);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->body, "second");
}

TEST_F(SyncStageTest, PutsThatDoNotFitTheRingAreWrittenByThePuttingThread) {
  constexpr int32_t kRing = 8 * 1024;
  options_.sync_flush_stage_bytes = kRing;
  auto store = Open();
  auto first = HoldFlushBehind(*store, Msg("T", 0, "first"));
  const int64_t readable = store->MaxPhyOffset();
  const int held_syncs = gate_->entered.load();

  // Six records of about 2 KiB: more than the ring holds, so a put writes the ring out itself,
  // and at most a ring's worth stays staged.
  std::vector<std::shared_ptr<PendingPut>> small;
  for (int i = 0; i < 6; ++i) {
    small.push_back(StartPut(*store, Msg("T", 0, std::string(2000, static_cast<char>('a' + i)))));
  }
  const int64_t readable_after_small = store->MaxPhyOffset();
  // Larger than the ring: written at once, with everything staged before it.
  auto big = StartPut(*store, Msg("T", 0, std::string(12 * 1024, 'z')));
  const int64_t readable_after_big = store->MaxPhyOffset();
  EXPECT_EQ(gate_->entered.load(), held_syncs);  // the flush thread is still held in the first sync

  gate_->hold.store(false);
  ASSERT_TRUE(WaitUntil([&] {
    for (const auto& p : small)
      if (!p->done.load()) return false;
    return first->done.load() && big->done.load();
  }));
  int64_t expect_offset = readable;
  for (size_t i = 0; i < small.size(); ++i) {
    ASSERT_TRUE(small[i]->result.ok()) << small[i]->result.error;
    EXPECT_EQ(small[i]->result.physical_offset, expect_offset);
    expect_offset = EndOf(small[i]->result);
  }
  const int64_t small_end = expect_offset;
  ASSERT_TRUE(big->result.ok()) << big->result.error;
  EXPECT_EQ(big->result.physical_offset, small_end);
  EXPECT_GT(readable_after_small, readable);
  EXPECT_LT(readable_after_small, small_end);
  EXPECT_GE(readable_after_small, small_end - kRing);
  EXPECT_EQ(readable_after_big, EndOf(big->result));
  for (size_t i = 0; i < small.size(); ++i) {
    auto read = store->LookMessageByOffset(small[i]->result.physical_offset);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    EXPECT_EQ(read->body, std::string(2000, static_cast<char>('a' + i)));
  }
  auto read_big = store->LookMessageByOffset(big->result.physical_offset);
  ASSERT_TRUE(read_big.ok()) << read_big.status().ToString();
  EXPECT_EQ(read_big->body.size(), 12u * 1024);
}

// Writers on several threads, bodies of random sizes, 64 KiB segments (a roll every few dozen
// puts) and a ring of 16 KiB: every put is stored where its result says, each queue's offsets
// run without a gap, and a restart finds the same log.
TEST_F(SyncStageTest, ConcurrentStagedPutsAcrossRollsAreStoredInOrderAndRecovered) {
  options_.fault_hook = nullptr;
  options_.sync_flush_stage_bytes = 16 * 1024;
  auto store = Open();
  constexpr int kThreads = 4;
  constexpr int kPutsPerThread = 150;
  std::mutex mu;
  std::map<int64_t, std::string> bodies;                  // by physical offset
  std::map<int32_t, std::vector<int64_t>> queue_offsets;  // by queue id
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<uint32_t>(t + 1));
      std::uniform_int_distribution<int> size(1, 6000);
      for (int i = 0; i < kPutsPerThread; ++i) {
        std::string body(static_cast<size_t>(size(rng)), static_cast<char>('a' + (t * 7 + i) % 26));
        auto r = PutSync(*store, Msg("R", t % 2, body));
        if (!r.ok()) {
          failures.fetch_add(1);
          continue;
        }
        std::lock_guard<std::mutex> lock(mu);
        bodies[r.physical_offset] = std::move(body);
        queue_offsets[t % 2].push_back(r.queue_offset);
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);
  ASSERT_EQ(bodies.size(), size_t{kThreads * kPutsPerThread});
  for (auto& [queue, offsets] : queue_offsets) {
    std::sort(offsets.begin(), offsets.end());
    for (size_t i = 0; i < offsets.size(); ++i) ASSERT_EQ(offsets[i], static_cast<int64_t>(i)) << queue;
  }
  auto check_all = [&](const MessageStore& s) {
    for (const auto& [offset, body] : bodies) {
      auto read = s.LookMessageByOffset(offset);
      ASSERT_TRUE(read.ok()) << offset << ": " << read.status().ToString();
      ASSERT_EQ(read->body, body) << offset;
    }
  };
  check_all(*store);
  const int64_t end = store->MaxPhyOffset();
  EXPECT_EQ(store->FlushedPhyOffset(), end);
  EXPECT_GT(end, 4 * options_.mapped_file_size_commit_log);  // several rolls happened
  store->Shutdown();
  store.reset();

  auto reopened = Open();
  EXPECT_EQ(reopened->MaxPhyOffset(), end);
  check_all(*reopened);
}

}  // namespace
}  // namespace mq::store
