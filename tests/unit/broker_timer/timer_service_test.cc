#include "broker/timer/timer_service.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <set>
#include <thread>

#include "broker/store/message_store.h"
#include "common/file_util.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"
#include "unit/broker_timer/timer_service_fixture.h"
#include "unit/store/store_test_util.h"

namespace mq::broker::timer {
namespace {

using mq::store::testing::OpenStore;
using mq::store::testing::PutSync;
using mq::store::testing::SmallOptions;
using mq::testing::WaitUntil;

TEST_F(TimerServiceTest, DeliversOnceTheSlotHasPassedNeverEarly) {
  StartTimer();
  Park(kStart + 2500, "A");
  ASSERT_TRUE(WaitUntil([&] { return timer_->Stats().pending == 1; }));
  AdvanceTo(kStart + 2999);
  EXPECT_EQ(Delivered(), 0);
  clock_.Set(kStart + 3000);
  ASSERT_TRUE(WaitUntil([&] {
    timer_->Wake();
    return Delivered() == 1;
  }));
  auto got = ReadDelivered();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, "body-A");
  EXPECT_EQ(got[0].Property("UNIQ_KEY"), "A");
  EXPECT_EQ(got[0].Property("TIMER_OUT_MS"), std::to_string(kStart + 2500));
  EXPECT_EQ(got[0].Property("REAL_TOPIC"), "");
  EXPECT_EQ(timer_->Stats().pending, 0);
  EXPECT_EQ(timer_->Stats().delivered, 1);
}

TEST_F(TimerServiceTest, TimerPropertiesAClientSetActNotOnItsMessage) {
  // TIMER_PROGRESS and TIMER_DEL_UNIQKEY mark the broker's own records in the timer topic: set
  // by a client on a scheduled message, they must neither swallow it nor recall another.
  StartTimer();
  Park(kStart + 1500, "victim");
  store::MessageInput in = store::testing::Msg("T", 1, "body-crafted", "", "", "crafted");
  in.properties["TIMER_PROGRESS"] = "1";
  in.properties["TIMER_DEL_UNIQKEY"] = "victim";
  in.properties["TIMER_DEQUEUE_MS"] = "1";
  ParkInTimerTopic(&in, kStart + 1500, clock_.NowMillis());
  ASSERT_TRUE(PutSync(*store_, std::move(in)).ok());
  timer_->Wake();
  ASSERT_TRUE(WaitUntil([&] { return timer_->Stats().pending == 2; }));
  clock_.Set(kStart + 2000);
  ASSERT_TRUE(WaitUntil([&] {
    timer_->Wake();
    return Delivered() == 2;
  }));
  std::set<std::string> bodies;
  for (const auto& m : ReadDelivered()) bodies.insert(m.body);
  EXPECT_EQ(bodies, (std::set<std::string>{"body-victim", "body-crafted"}));
}

TEST_F(TimerServiceTest, ABusySlotIsPutInBoundedBatches) {
  // A slot's messages are read and put a batch at a time, never all in memory at once. The puts
  // go through a worker thread here, so the puts issued and not yet done show what is held.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<store::MessageInput, store::PutCallback>> queue;  // guarded by mu
  int outstanding = 0, most = 0;                                         // guarded by mu
  bool stop = false;                                                     // guarded by mu
  std::thread worker([&] {
    std::unique_lock lock(mu);
    while (true) {
      cv.wait(lock, [&] { return stop || !queue.empty(); });
      if (queue.empty()) return;
      auto [in, done] = std::move(queue.front());
      queue.pop_front();
      lock.unlock();
      store_->PutMessage(std::move(in), std::move(done));
      lock.lock();
      --outstanding;
    }
  });
  StartTimer(
      true, 172800,
      [&](store::MessageInput in, store::PutCallback done) {
        std::lock_guard lock(mu);
        queue.emplace_back(std::move(in), std::move(done));
        most = std::max(most, ++outstanding);
        cv.notify_one();
      },
      /*batch_messages=*/10);
  constexpr int kMessages = 100;
  for (int i = 0; i < kMessages; ++i) Park(kStart + 1500, "U" + std::to_string(i));
  ASSERT_TRUE(WaitUntil([&] { return timer_->Stats().pending == kMessages; }));
  clock_.Set(kStart + 2000);
  EXPECT_TRUE(WaitUntil([&] {
    timer_->Wake();
    return Delivered() == kMessages;
  }));
  timer_->Shutdown();
  {
    std::lock_guard lock(mu);
    stop = true;
    EXPECT_LE(most, 11) << "puts outstanding at once (a batch, and the progress record)";
  }
  cv.notify_one();
  worker.join();
}

TEST_F(TimerServiceTest, ManyRandomTimesComeOutInTimeOrder) {
  StartTimer();
  std::mt19937 rng(7);
  std::uniform_int_distribution<int64_t> delay(1, 20'000);
  for (int i = 0; i < 200; ++i) Park(kStart + delay(rng), "M" + std::to_string(i));
  ASSERT_TRUE(WaitUntil([&] { return timer_->Stats().pending == 200; }));
  for (int64_t t = kStart + 1000; t <= kStart + 21'000; t += 1000) AdvanceTo(t);
  ASSERT_TRUE(WaitUntil([&] { return Delivered() == 200; }));
  int64_t last = 0;
  for (const auto& m : ReadDelivered()) {
    const int64_t out = std::stoll(m.Property("TIMER_OUT_MS"));
    EXPECT_LE(last, out);
    EXPECT_LE(out, std::stoll(m.Property("TIMER_DEQUEUE_MS")));  // never early
    last = out;
  }
}

TEST_F(TimerServiceTest, RecalledMessageIsNeverDeliveredAndLateRecallIsRefused) {
  StartTimer();
  Park(kStart + 1500, "keep");
  Park(kStart + 1500, "drop");
  ASSERT_TRUE(WaitUntil([&] { return timer_->Stats().pending == 2; }));
  std::promise<Status> recalled;
  timer_->Recall(RecallHandle{"T", "broker-a", kStart + 1500, "drop"},
                 [&](const Status& s) { recalled.set_value(s); });
  Status s = recalled.get_future().get();
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::promise<Status> unknown;
  timer_->Recall(RecallHandle{"T", "broker-a", kStart + 1500, "nope"},
                 [&](const Status& st) { unknown.set_value(st); });
  EXPECT_EQ(unknown.get_future().get().code(), StatusCode::kNotFound);
  AdvanceTo(kStart + 2000);
  ASSERT_TRUE(WaitUntil([&] { return timer_->Stats().recalled == 1 && Delivered() == 1; }));
  EXPECT_EQ(ReadDelivered()[0].Property("UNIQ_KEY"), "keep");
  std::promise<Status> late;
  timer_->Recall(RecallHandle{"T", "broker-a", kStart + 1500, "keep"},
                 [&](const Status& st) { late.set_value(st); });
  EXPECT_EQ(late.get_future().get().code(), StatusCode::kFailedPrecondition);
}

TEST_F(TimerServiceTest, RecallSurvivesRestart) {
  StartTimer();
  Park(kStart + 5500, "drop");
  ASSERT_TRUE(WaitUntil([&] { return timer_->Stats().pending == 1; }));
  std::promise<Status> recalled;
  timer_->Recall(RecallHandle{"T", "broker-a", kStart + 5500, "drop"},
                 [&](const Status& s) { recalled.set_value(s); });
  ASSERT_TRUE(recalled.get_future().get().ok());
  timer_->Shutdown();
  timer_.reset();
  StartTimer();  // the in-memory recall set is gone; the marker in the timer topic remains
  ASSERT_TRUE(WaitUntil([&] { return timer_->Stats().pending == 2; }));
  AdvanceTo(kStart + 7000);
  ASSERT_TRUE(WaitUntil([&] { return timer_->Stats().recalled == 1; }));
  EXPECT_EQ(Delivered(), 0);
}

// Before: a pass of the enqueue reads at most 64 x 512 records, and the dequeue ran after it
// whatever was left: behind a backlog (a burst, or records parked while the timer was down) a
// slot was delivered before the recall marker in that backlog was read. The same when the
// marker was stored but not yet in the timer queue (the store's dispatch behind).
TEST_F(TimerServiceTest, ASlotWaitsForTheRecordsStoredBeforeItsEnd) {
  units_per_segment_ = 1 << 16;  // not a segment (and its fsyncs) per 4 of the backlog's units
  StartTimer();
  Park(kStart + 1500, "drop");
  ASSERT_TRUE(WaitUntil([&] { return timer_->Stats().pending == 1; }));
  timer_->Shutdown();
  timer_.reset();
  // While the timer is down: a backlog longer than one pass, then the recall's marker.
  for (int i = 0; i < 64 * 512 + 100; ++i) {
    store::MessageInput in = store::testing::Msg("T", 2, "x", "", "", "filler-" + std::to_string(i));
    ParkInTimerTopic(&in, kStart + 60'000, clock_.NowMillis());
    ASSERT_TRUE(PutSync(*store_, std::move(in)).ok());
  }
  ASSERT_TRUE(PutSync(*store_, MakeRecallMarker(RecallHandle{"T", "broker-a", kStart + 1500, "drop"},
                                                clock_.NowMillis()))
                  .ok());
  clock_.Set(kStart + 3000);
  StartTimer();
  ASSERT_TRUE(WaitUntil([&] { return timer_->Stats().recalled == 1; }));
  EXPECT_EQ(Delivered(), 0);
}

TEST_F(TimerServiceTest, RecoversFromATornTimerLogAndALostCheckpoint) {
  StartTimer();
  for (int i = 0; i < 6; ++i) Park(kStart + 3000 + i * 100, "R" + std::to_string(i));
  ASSERT_TRUE(WaitUntil([&] { return timer_->Stats().pending == 6; }));
  timer_->Shutdown();
  timer_.reset();
  // As after a crash: the checkpoint never written, the last unit torn.
  std::filesystem::remove(dir_.Sub("timer") + "/checkpoint");
  const std::string last = dir_.Sub("timer") + "/timerlog/" + OffsetToFileName(4 * TimerUnit::kSize);
  std::filesystem::resize_file(last, TimerUnit::kSize + 30);
  // The broker comes back after the messages were due: without a checkpoint nothing counts
  // as delivered. Five units survive; the sixth is re-read from the timer topic.
  clock_.Set(kStart + 5000);
  StartTimer();
  ASSERT_TRUE(WaitUntil([&] {
    timer_->Wake();
    return Delivered() == 6;
  }));
  std::set<std::string> keys;
  for (const auto& m : ReadDelivered()) keys.insert(m.Property("UNIQ_KEY"));
  EXPECT_EQ(keys.size(), 6u);
}

// Before: a corrupt unit (not a torn tail: a bit flipped on disk) below the checkpoint cut the
// log there, and the enqueue went on from the checkpoint's offset: the records whose units were
// cut were never read again and their messages never delivered.
TEST_F(TimerServiceTest, ACorruptUnitBelowTheCheckpointLosesNoPendingMessage) {
  StartTimer();
  Park(kStart + 1500, "D");  // delivered before the checkpoint
  AdvanceTo(kStart + 2000);
  ASSERT_TRUE(WaitUntil([&] { return Delivered() == 1; }));
  for (int i = 0; i < 6; ++i) Park(kStart + 3000 + i * 100, "R" + std::to_string(i));
  ASSERT_TRUE(WaitUntil([&] { return timer_->Stats().pending == 6; }));
  timer_->Shutdown();
  timer_.reset();
  // One byte of the first unit (D's) flips: the log is cut there, every unit after it dropped.
  {
    const std::string first = dir_.Sub("timer") + "/timerlog/" + OffsetToFileName(0);
    std::fstream f(first, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(20);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x40);
    f.seekp(20);
    f.write(&c, 1);
  }
  clock_.Set(kStart + 5000);
  StartTimer();
  ASSERT_TRUE(WaitUntil([&] {
    timer_->Wake();
    return Delivered() >= 7;
  }));
  std::multiset<std::string> keys;
  for (const auto& m : ReadDelivered()) keys.insert(m.Property("UNIQ_KEY"));
  // Every pending message, and the one delivered before the checkpoint not again.
  EXPECT_EQ(keys, (std::multiset<std::string>{"D", "R0", "R1", "R2", "R3", "R4", "R5"}));
}

TEST_F(TimerServiceTest, FarMessagesRollThroughASmallWindow) {
  StartTimer(true, /*roll_window_slots=*/3);
  Park(kStart + 9500, "far");
  ASSERT_TRUE(WaitUntil([&] { return timer_->Stats().pending == 1; }));
  for (int64_t t = kStart + 1000; t < kStart + 10'000; t += 1000) {
    AdvanceTo(t);
    EXPECT_EQ(Delivered(), 0) << "at +" << t - kStart;
  }
  EXPECT_GT(timer_->Stats().rolled, 0);
  AdvanceTo(kStart + 10'000);
  ASSERT_TRUE(WaitUntil([&] { return Delivered() == 1; }));
  EXPECT_EQ(ReadDelivered()[0].Property("UNIQ_KEY"), "far");
}

// Before: a recall marker beyond the window was parked as a roll unit like its message, but at
// its roll slot only the message was parked again: the marker was dropped, and after a restart
// (the in-memory recall gone) nothing cancelled the message at its time.
TEST_F(TimerServiceTest, ARecallOfAFarMessageOutlivesItsRollsAndARestart) {
  StartTimer(true, /*roll_window_slots=*/3);
  Park(kStart + 9500, "far");
  ASSERT_TRUE(WaitUntil([&] { return timer_->Stats().pending == 1; }));
  std::promise<Status> recalled;
  timer_->Recall(RecallHandle{"T", "broker-a", kStart + 9500, "far"},
                 [&](const Status& s) { recalled.set_value(s); });
  ASSERT_TRUE(recalled.get_future().get().ok());
  for (int64_t t = kStart + 1000; t < kStart + 10'000; t += 1000) {
    AdvanceTo(t);
    if (t == kStart + 5000) {  // a restart between the rolls: the in-memory recall is gone
      timer_->Shutdown();
      timer_.reset();
      StartTimer(true, /*roll_window_slots=*/3);
    }
  }
  AdvanceTo(kStart + 11'000);
  ASSERT_TRUE(WaitUntil([&] { return timer_->Stats().recalled == 1; }));
  EXPECT_EQ(Delivered(), 0);
}

TEST_F(TimerServiceTest, ACheckpointOfTwoNumbersIsReadAndABadOneNamed) {
  ASSERT_TRUE(CreateDirectoriesDurably(dir_.Sub("timer")).ok());
  ASSERT_TRUE(WriteFileAtomically(dir_.Sub("timer") + "/checkpoint", "1700000002000 0\n").ok());
  StartTimer();
  EXPECT_EQ(timer_->Stats().progress_ms, kStart + 2000);
  timer_->Shutdown();
  timer_.reset();
  ASSERT_TRUE(WriteFileAtomically(dir_.Sub("timer") + "/checkpoint", "1700000002000 x 0\n").ok());
  TimerServiceOptions o;
  o.dir = dir_.Sub("timer");
  TimerService bad(
      o, store_.get(), [](store::MessageInput, store::PutCallback) {}, &clock_);
  Status s = bad.Start();
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
  EXPECT_NE(s.ToString().find("progress_ms enqueue_offset"), std::string::npos) << s.ToString();
}

// Before: after the commit log lost its tail (a power cut under ASYNC_FLUSH), the timer went on
// from the queue offset its checkpoint had reached, past the queue's new end: the timers sent
// next took the lost offsets and were never delivered, and a lost timer's unit delivered
// whatever record now sat at its commit log offset, at the lost timer's time.
TEST_F(TimerServiceTest, AfterTheLogLostItsTailNewTimersAreDeliveredOnTime) {
  StartTimer();
  Park(kStart + 3000, "A");
  store::MessageInput b = store::testing::Msg("T", 1, "body-B", "", "", "B");
  ParkInTimerTopic(&b, kStart + 3000, clock_.NowMillis());
  const store::PutResult put_b = PutSync(*store_, std::move(b));
  ASSERT_TRUE(put_b.ok());
  timer_->Wake();
  ASSERT_TRUE(WaitUntil([&] { return timer_->Stats().pending == 2; }));
  timer_->Shutdown();
  timer_.reset();
  store_->Shutdown();
  store_.reset();
  // B's record torn, the store's checkpoint lost: recovery ends the log before B.
  {
    std::fstream segment(dir_.Sub("store/commitlog/") + OffsetToFileName(0),
                         std::ios::in | std::ios::out | std::ios::binary);
    segment.seekp(put_b.physical_offset + 40);
    segment.write("TORN", 4);
  }
  std::filesystem::remove(dir_.Sub("store/checkpoint"));
  ASSERT_TRUE(WriteFileAtomically(dir_.Sub("store/abort"), "x").ok());
  auto o = SmallOptions(dir_.Sub("store"));
  o.mapped_file_size_commit_log = 1024 * 1024;
  store_ = OpenStore(o, &clock_);
  ASSERT_EQ(store_->MaxOffsetInQueue(std::string(kTimerTopic), 0), 1);

  StartTimer();
  EXPECT_EQ(timer_->Stats().pending, 1);  // B's unit went with B
  Park(kStart + 6500, "C");               // at B's queue offset and commit log offset
  AdvanceTo(kStart + 5000);
  ASSERT_TRUE(WaitUntil([&] { return store::testing::Dispatched(*store_) && Delivered() >= 1; }));
  EXPECT_EQ(Delivered(), 1);  // A; C is not due
  AdvanceTo(kStart + 7000);
  ASSERT_TRUE(WaitUntil([&] { return Delivered() >= 2; }));
  std::set<std::string> keys;
  for (const auto& m : ReadDelivered()) keys.insert(m.Property("UNIQ_KEY"));
  EXPECT_EQ(keys, (std::set<std::string>{"A", "C"}));
}

}  // namespace
}  // namespace mq::broker::timer
