// PopService state that outlives a delivery: persistence across restarts (snapshot + journal
// replay, also from an older snapshot or none), a store that lost its tail, offset resets, deleted
// and re-created topics, the committed offset's monotony, and the journal's interplay with locks
// and snapshots.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <set>
#include <thread>

#include "broker/meta/json_file.h"
#include "broker/pop/receipt_handle.h"
#include "unit/broker_pop/pop_test_fixture.h"

namespace mq::broker::pop::testing {
namespace {

using ::testing::ElementsAre;

class PopStateTest : public PopFixture {};

TEST_F(PopStateTest, StateSurvivesRestartWithSnapshotOlderSnapshotOrNone) {
  for (int variant = 0; variant < 3; ++variant) {
    SCOPED_TRACE(variant);
    const std::string topic = "T" + std::to_string(variant);
    CreateTopic(topic, 1);
    for (int i = 0; i < 5; ++i) Put(topic, 0, "m" + std::to_string(i));
    auto got = PopSync(Request("g", topic, 4, 30000)).second;
    ASSERT_EQ(got.size(), 4u);
    ASSERT_TRUE(AckSync("g", topic, got[0].receipt_handle).ok());
    const std::string state = dir_.Sub("config") + "/popState.json";
    ASSERT_TRUE(pop_->Snapshot().ok());
    std::filesystem::copy_file(state, dir_.Sub("old-state.json"),
                               std::filesystem::copy_options::overwrite_existing);
    ASSERT_TRUE(AckSync("g", topic, got[2].receipt_handle).ok());
    auto [cs, changed] = ChangeSync("g", topic, got[1].receipt_handle, 120000);
    ASSERT_TRUE(cs.ok());
    Reopen();  // clean shutdown writes a fresh snapshot
    if (variant == 1) {
      Close();
      std::filesystem::copy_file(dir_.Sub("old-state.json"), state,
                                 std::filesystem::copy_options::overwrite_existing);
      std::filesystem::copy_file(dir_.Sub("old-state.json"), state + ".bak",
                                 std::filesystem::copy_options::overwrite_existing);
      Open();
    } else if (variant == 2) {
      Close();
      std::filesystem::remove(state);
      std::filesystem::remove(state + ".bak");
      Open();
    }
    EXPECT_EQ(pop_->InFlightCount(), 2u);  // m1 (changed) and m3
    EXPECT_EQ(pop_->LowWater("g", topic, 0), 1);
    // Acks and changes of before the restart still hold: old handles are stale, new ones work.
    EXPECT_EQ(AckSync("g", topic, got[1].receipt_handle).code(), StatusCode::kNotFound);
    auto fresh = PopSync(Request("g", topic, 32, 30000)).second;
    ASSERT_THAT(Bodies(fresh), ElementsAre("m4"));
    clock_.Advance(30000);
    auto redelivered = PopSync(Request("g", topic, 32, 30000)).second;
    ASSERT_THAT(Bodies(redelivered), ElementsAre("m3", "m4"));
    EXPECT_EQ(redelivered[0].delivery_attempt, 2);
    ASSERT_TRUE(AckSync("g", topic, changed).ok());
    for (const auto& m : redelivered) ASSERT_TRUE(AckSync("g", topic, m.receipt_handle).ok());
    EXPECT_EQ(pop_->InFlightCount(), 0u);
    EXPECT_EQ(offsets_->Query("g", topic, 0), 5);
  }
}

// The store lost its tail after the pop state was saved (a power cut under ASYNC_FLUSH, or
// here a store wiped under its config/): the saved position and deliveries lie past the
// queue's end. The position comes back to the end, so messages sent afterwards (which reuse
// those queue offsets) are delivered, and the lost deliveries are not redelivered.
TEST_F(PopStateTest, AStoreThatLostItsTailBringsThePopPositionBack) {
  CreateTopic("T", 1);
  for (int i = 0; i < 3; ++i) Put("T", 0, "old" + std::to_string(i));
  auto got = PopSync(Request("g", "T", 32, 30000)).second;
  ASSERT_EQ(got.size(), 3u);
  ASSERT_TRUE(AckSync("g", "T", got[0].receipt_handle).ok());
  Close();  // popState.json: position 3, offsets 1 and 2 in flight
  std::filesystem::remove_all(dir_.Sub("store"));
  Open();
  EXPECT_EQ(pop_->InFlightCount(), 0u);
  Put("T", 0, "new0");
  Put("T", 0, "new1");
  auto fresh = PopSync(Request("g", "T", 32, 30000)).second;
  EXPECT_THAT(Bodies(fresh), ElementsAre("new0", "new1"));
  clock_.Advance(30000);
  auto again = PopSync(Request("g", "T", 32, 30000)).second;
  EXPECT_THAT(Bodies(again), ElementsAre("new0", "new1"));
  // The corrected state was saved at once: another restart finds nothing ahead.
  for (const auto& m : again) ASSERT_TRUE(AckSync("g", "T", m.receipt_handle).ok());
  Reopen();
  EXPECT_EQ(pop_->LowWater("g", "T", 0), 2);
  Put("T", 0, "new2");
  EXPECT_THAT(Bodies(PopSync(Request("g", "T", 32, 30000)).second), ElementsAre("new2"));
}

// A delivery whose commit log offset holds another message (a damaged popState.json) is not
// redelivered as that message: the record read back must be the delivered queue offset's.
TEST_F(PopStateTest, ARedeliveryReadsBackItsOwnMessageOrNone) {
  CreateTopic("T", 1);
  CreateTopic("U", 1);
  Put("U", 0, "foreign");
  Put("T", 0, "m0");
  auto foreign = PopSync(Request("other", "U", 1, 30000)).second;
  ASSERT_EQ(foreign.size(), 1u);
  ASSERT_EQ(PopSync(Request("g", "T", 1, 1000)).second.size(), 1u);
  Close();
  const std::string state = dir_.Sub("config") + "/popState.json";
  mq::v1::PopStateSnapshot snapshot;
  ASSERT_TRUE(LoadJsonFile(state, &snapshot).ok());
  for (auto& q : *snapshot.mutable_queues()) {
    if (q.group() != "g") continue;
    for (auto& e : *q.mutable_entries()) e.set_commit_log_offset(foreign[0].commit_log_offset);
  }
  ASSERT_TRUE(SaveJsonFile(state, snapshot).ok());
  Open();
  clock_.Advance(1000);
  EXPECT_TRUE(PopSync(Request("g", "T", 32, 30000)).second.empty());
  EXPECT_EQ(pop_->InFlightCount(), 1u);  // the other group's delivery of "foreign"
}

// A delivery out of attempts whose message is gone (retention deleted its segment; here its
// commit log offset in the saved state points past the log) cannot be forwarded: it ends, so
// the queue's low-water mark moves on and a FIFO queue delivers its next message, instead of
// a forward retried every 10 s for good.
TEST_F(PopStateTest, ADeliveryOutOfAttemptsWhoseMessageIsGoneEnds) {
  CreateTopic("T", 1);
  CreateGroup("fg", /*orderly=*/true, /*retry_max_times=*/0);  // 1 attempt
  Put("T", 0, "m0");
  Put("T", 0, "m1");
  ASSERT_THAT(Bodies(PopSync(Request("fg", "T", 1, 1000)).second), ElementsAre("m0"));
  Close();
  const std::string state = dir_.Sub("config") + "/popState.json";
  mq::v1::PopStateSnapshot snapshot;
  ASSERT_TRUE(LoadJsonFile(state, &snapshot).ok());
  for (auto& q : *snapshot.mutable_queues()) {
    for (auto& e : *q.mutable_entries()) e.set_commit_log_offset(int64_t{1} << 40);
  }
  ASSERT_TRUE(SaveJsonFile(state, snapshot).ok());
  Open();
  clock_.Advance(1000);
  pop_->RunMaintenanceOnce();
  ASSERT_TRUE(mq::testing::WaitUntil([&] { return pop_->InFlightCount() == 0; }));
  EXPECT_EQ(store_->MaxOffsetInQueue("%DLQ%fg", 0), 0);
  EXPECT_EQ(pop_->LowWater("fg", "T", 0), 1);
  EXPECT_THAT(Bodies(PopSync(Request("fg", "T", 1, 1000)).second), ElementsAre("m1"));
}

// mqadmin resetOffsetByTime on a pop group: its next pop starts at the reset offset (backwards
// here: the acked messages come again), and its committed offset follows the pops again.
TEST_F(PopStateTest, AnOffsetResetMovesThePopPosition) {
  CreateTopic("T", 1);
  for (int i = 0; i < 5; ++i) Put("T", 0, "m" + std::to_string(i));
  auto first = PopSync(Request("g", "T", 32, 30000)).second;
  ASSERT_EQ(first.size(), 5u);
  for (const auto& m : first) ASSERT_TRUE(AckSync("g", "T", m.receipt_handle).ok());
  ASSERT_EQ(offsets_->Query("g", "T", 0), 5);
  offsets_->ResetOffsets("g", "T", {{0, 2}});
  auto again = PopSync(Request("g", "T", 32, 30000)).second;
  ASSERT_THAT(Bodies(again), ElementsAre("m2", "m3", "m4"));
  EXPECT_EQ(again[0].delivery_attempt, 1);
  EXPECT_EQ(offsets_->Query("g", "T", 0), 2);
  Reopen();  // the reset is journaled: the restart keeps it
  EXPECT_EQ(pop_->LowWater("g", "T", 0), 2);
  for (const auto& m : again) ASSERT_TRUE(AckSync("g", "T", m.receipt_handle).ok());
  Put("T", 0, "m5");
  auto next = PopSync(Request("g", "T", 32, 30000)).second;
  ASSERT_THAT(Bodies(next), ElementsAre("m5"));
  ASSERT_TRUE(AckSync("g", "T", next[0].receipt_handle).ok());
  EXPECT_EQ(offsets_->Query("g", "T", 0), 6);
}

// mqadmin deleteTopic: the store drops the queues, and a re-created topic starts at offset 0.
// Before ForgetTopic the group's pop position stayed at 5, so the first five messages of the
// new topic were never delivered; the reset is journaled, so a restart keeps it.
TEST_F(PopStateTest, ADeletedTopicIsPoppedFromItsStartWhenCreatedAgain) {
  CreateTopic("T", 1);
  for (int i = 0; i < 5; ++i) Put("T", 0, "old" + std::to_string(i));
  auto old = PopSync(Request("g", "T", 32, 30000)).second;
  ASSERT_EQ(old.size(), 5u);
  for (size_t i = 0; i + 1 < old.size(); ++i) ASSERT_TRUE(AckSync("g", "T", old[i].receipt_handle).ok());
  auto deleted =
      store::testing::WaitForPut([&](store::PutCallback done) { store_->DeleteTopic("T", std::move(done)); });
  ASSERT_TRUE(deleted.ok()) << deleted.error;
  std::promise<Status> forgot;
  pop_->ForgetTopic("T", [&forgot](const Status& s) { forgot.set_value(s); });
  ASSERT_TRUE(forgot.get_future().get().ok());
  EXPECT_EQ(pop_->InFlightCount(), 0u);
  EXPECT_EQ(AckSync("g", "T", old.back().receipt_handle).code(), StatusCode::kNotFound);

  for (int i = 0; i < 3; ++i) Put("T", 0, "new" + std::to_string(i));
  auto fresh = PopSync(Request("g", "T", 32, 30000)).second;
  ASSERT_THAT(Bodies(fresh), ElementsAre("new0", "new1", "new2"));
  for (const auto& m : fresh) ASSERT_TRUE(AckSync("g", "T", m.receipt_handle).ok());
  Reopen();
  Put("T", 0, "new3");
  EXPECT_THAT(Bodies(PopSync(Request("g", "T", 32, 30000)).second), ElementsAre("new3"));
}

TEST_F(PopStateTest, TheCommittedOffsetNeverMovesBackwards) {
  // Pops and acks of one queue from two threads: each computes the low-water mark, and a
  // mark computed earlier must never be committed over a later, higher one.
  constexpr int kMessages = 1500;
  CreateTopic("T", 1);
  for (int i = 0; i < kMessages; ++i) Put("T", 0, "m" + std::to_string(i));
  std::atomic<bool> done{false};
  std::atomic<int> rewinds{0};
  std::thread watcher([&] {
    int64_t last = 0;
    while (!done.load()) {
      const int64_t now = offsets_->Query("g", "T", 0).value_or(0);
      if (now < last) rewinds.fetch_add(1);
      last = std::max(last, now);
    }
  });
  auto consume = [&] {
    for (int i = 0; i < kMessages; ++i) {
      auto [s, got] = PopSync(Request("g", "T", 2, 30000));
      if (!s.ok() || got.empty()) return;
      for (const auto& m : got) ASSERT_TRUE(AckSync("g", "T", m.receipt_handle).ok());
    }
  };
  std::thread a(consume), b(consume);
  a.join();
  b.join();
  done = true;
  watcher.join();
  EXPECT_EQ(offsets_->Query("g", "T", 0), kMessages);
  EXPECT_EQ(rewinds.load(), 0);
}

TEST_F(PopStateTest, AStaleHandleIsAnsweredWithoutTheLockHeld) {
  // A callback may call back into the service (the v2 front does on a broken stream).
  CreateTopic("T", 1);
  Put("T", 0, "m0");
  auto got = PopSync(Request("g", "T", 1, 30000)).second;
  ASSERT_EQ(got.size(), 1u);
  const std::string handle = got[0].receipt_handle;
  ASSERT_TRUE(AckSync("g", "T", handle).ok());
  // True when the service answers a call made from another thread within 2 s. The threads
  // are joined at the end: one blocked by a held lock goes on once the callback returned.
  std::vector<std::thread> callers;
  auto service_free = [&] {
    auto answered = std::make_shared<std::promise<void>>();
    auto future = answered->get_future();
    callers.emplace_back([this, answered] {
      pop_->InFlightCount();
      answered->set_value();
    });
    return future.wait_for(std::chrono::seconds(2)) == std::future_status::ready;
  };
  std::vector<std::pair<std::string, bool>> answers;
  pop_->Ack("g", "T", handle, [&](const Status& s) { answers.emplace_back(s.ToString(), service_free()); });
  pop_->ChangeInvisible("g", "T", handle, 1000, [&](const Status& s, const std::string&) {
    answers.emplace_back(s.ToString(), service_free());
  });
  pop_->ForwardToDeadLetterQueue(
      "g", "T", handle, [&](const Status& s) { answers.emplace_back(s.ToString(), service_free()); });
  for (auto& t : callers) t.join();
  ASSERT_EQ(answers.size(), 3u);
  for (const auto& [status, free] : answers) {
    EXPECT_THAT(status, ::testing::HasSubstr("receipt_handle")) << status;
    EXPECT_TRUE(free) << status;
  }
}

TEST_F(PopStateTest, ASnapshotIsTakenWhileAJournalPutIsOutstanding) {
  // A busy broker may never be without a journal put in flight: the snapshot must not wait for
  // one. Under SYNC_FLUSH a put completes on the flush thread; a pop callback holding that
  // thread keeps the next put (an ack) outstanding while the snapshot is taken.
  flush_disk_type_ = store::FlushDiskType::kSyncFlush;
  Reopen();
  CreateTopic("T", 1);
  Put("T", 0, "m0");
  Put("T", 0, "m1");
  auto first = PopSync(Request("g", "T", 1, 30000)).second;
  ASSERT_EQ(first.size(), 1u);
  std::promise<void> entered, release;
  std::string second_handle;
  pop_->Pop(Request("g", "T", 1, 30000), [&](const Status& s, std::vector<PoppedMessage> got) {
    if (s.ok() && got.size() == 1) second_handle = got[0].receipt_handle;
    entered.set_value();
    release.get_future().wait();
  });
  entered.get_future().wait();
  std::promise<Status> acked;
  pop_->Ack("g", "T", first[0].receipt_handle, [&](const Status& s) { acked.set_value(s); });
  const std::string state = dir_.Sub("config") + "/popState.json";
  std::filesystem::remove(state);  // the restart's snapshot
  Status snapshot = pop_->Snapshot();
  const bool written = std::filesystem::exists(state);
  const std::string saved = dir_.Sub("saved-popState.json");
  if (written) std::filesystem::copy_file(state, saved);
  release.set_value();
  ASSERT_TRUE(acked.get_future().get().ok());
  ASSERT_TRUE(snapshot.ok()) << snapshot.ToString();
  ASSERT_TRUE(written);
  ASSERT_FALSE(second_handle.empty());
  // A crash right after that snapshot: the restart replays the ack's record over it.
  Close();
  std::filesystem::copy_file(saved, state, std::filesystem::copy_options::overwrite_existing);
  Open();
  EXPECT_EQ(pop_->InFlightCount(), 1u);
  EXPECT_EQ(pop_->LowWater("g", "T", 0), 1);
  EXPECT_EQ(AckSync("g", "T", first[0].receipt_handle).code(), StatusCode::kNotFound);
  ASSERT_TRUE(AckSync("g", "T", second_handle).ok());
  EXPECT_EQ(offsets_->Query("g", "T", 0), 2);
}

}  // namespace
}  // namespace mq::broker::pop::testing
