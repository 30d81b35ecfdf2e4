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
#include "unit/store/store_test_util.h"

namespace mq::broker::timer {
namespace {

using mq::store::testing::OpenStore;
using mq::store::testing::PutSync;
using mq::store::testing::SmallOptions;
using mq::testing::WaitUntil;

constexpr int64_t kStart = 1'700'000'000'000;  // a whole second

class TimerServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto o = SmallOptions(dir_.Sub("store"));
    o.mapped_file_size_commit_log = 1024 * 1024;
    store_ = OpenStore(o, &clock_);
  }
  void TearDown() override {
    if (timer_) timer_->Shutdown();
    timer_.reset();
    store_->Shutdown();
  }
  void StartTimer(bool deliver = true, int64_t roll_window_slots = 172800, TimerService::PutFn put = nullptr,
                  int32_t batch_messages = 256) {
    TimerServiceOptions o;
    o.delivery_batch_messages = batch_messages;
    o.dir = dir_.Sub("timer");
    o.broker_name = "broker-a";
    o.precision_ms = 1000;
    o.roll_window_slots = roll_window_slots;
    o.deliver = deliver;
    o.units_per_segment = units_per_segment_;
    if (!put) {
      put = [this](store::MessageInput in, store::PutCallback done) {
        store_->PutMessage(std::move(in), std::move(done));
        timer_->Wake();
      };
    }
    timer_ = std::make_unique<TimerService>(o, store_.get(), std::move(put), &clock_);
    ASSERT_TRUE(timer_->Start().ok());
  }
  // Parks a message for topic "T" queue 1 due at `deliver_ms`; returns its UNIQ_KEY.
  std::string Park(int64_t deliver_ms, const std::string& uniq) {
    store::MessageInput in = store::testing::Msg("T", 1, "body-" + uniq, "", "", uniq);
    ParkInTimerTopic(&in, deliver_ms, clock_.NowMillis());
    EXPECT_TRUE(PutSync(*store_, std::move(in)).ok());
    timer_->Wake();
    return uniq;
  }
  int64_t Delivered() const { return store_->MaxOffsetInQueue("T", 1); }
  bool Progress(int64_t ms) {
    return WaitUntil([&] {
      timer_->Wake();
      return timer_->Stats().progress_ms >= ms;
    });
  }
  // Moves the clock and waits until the service has seen it (progress reaches floor(now)).
  void AdvanceTo(int64_t ms) {
    clock_.Set(ms);
    ASSERT_TRUE(Progress(ms - ms % 1000));
  }
  std::vector<store::StoredMessage> ReadDelivered() {
    std::vector<store::StoredMessage> out;
    auto got = store_->GetMessages("g", "T", 1, 0, 1000, 64 * 1024 * 1024);
    for (const auto& raw : got.messages) {
      auto view = store::DecodeRecord(raw, true);
      EXPECT_TRUE(view.ok());
      out.push_back(store::ToStoredMessage(*view, raw));
    }
    return out;
  }

  mq::testing::TempDir dir_;
  ManualClock clock_{kStart};
  std::unique_ptr<store::MessageStore> store_;
  std::unique_ptr<TimerService> timer_;
  int64_t units_per_segment_ = 4;
};

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

TEST_F(TimerServiceTest, SlaveHoldsTimersAndFollowsProgressRecords) {
  StartTimer(/*deliver=*/false);
  Park(kStart + 1500, "S1");
  Park(kStart + 4500, "S2");
  ASSERT_TRUE(WaitUntil([&] { return timer_->Stats().pending == 2; }));
  clock_.Set(kStart + 10'000);
  timer_->Wake();
  // A slave never delivers, however late; it drops a slot when the master says it is done.
  ASSERT_TRUE(PutSync(*store_, MakeProgressRecord(kStart + 2000, /*enqueued=*/2, clock_.NowMillis())).ok());
  ASSERT_TRUE(WaitUntil([&] {
    timer_->Wake();
    return timer_->Stats().pending == 1;
  }));
  EXPECT_EQ(timer_->Stats().progress_ms, kStart + 2000);
  EXPECT_EQ(Delivered(), 0);
}

// Before: a slave rolled a far message by its own progress, which moves only with the master's
// progress records and lags far behind; the next progress record erased the roll unit, and a
// slave promoted then never delivered the message.
TEST_F(TimerServiceTest, ASlaveKeepsFarMessagesUntilTheMasterDeliversThem) {
  StartTimer(/*deliver=*/false, /*roll_window_slots=*/3);
  clock_.Set(kStart + 2000);  // no progress record yet: the slave's progress stays at kStart
  Park(kStart + 4500, "M");
  ASSERT_TRUE(WaitUntil([&] { return timer_->Stats().pending == 1; }));
  ASSERT_TRUE(PutSync(*store_, MakeProgressRecord(kStart + 3000, /*enqueued=*/1, clock_.NowMillis())).ok());
  ASSERT_TRUE(WaitUntil([&] {
    timer_->Wake();
    return timer_->Stats().progress_ms == kStart + 3000;
  }));
  EXPECT_EQ(timer_->Stats().pending, 1);
  EXPECT_EQ(timer_->Stats().rolled, 0);
  Park(kStart + 4500, "M");  // the master's roll copy of M
  ASSERT_TRUE(WaitUntil([&] { return timer_->Stats().pending == 2; }));

  timer_->Shutdown();  // promoted: the same store and timer directory, now delivering
  StartTimer(/*deliver=*/true, /*roll_window_slots=*/3);
  AdvanceTo(kStart + 5000);
  ASSERT_TRUE(WaitUntil([&] { return Delivered() >= 1; }));
  auto delivered = ReadDelivered();
  ASSERT_EQ(delivered.size(), 1u);  // once, not once per copy
  EXPECT_EQ(delivered[0].Property("UNIQ_KEY"), "M");
}

// Before: a slave kept a far message in its real slot only, and promoted it did not roll it
// either: the commit log's retention deleted the only record long before it was due, and at its
// time the message was gone ("cannot read parked record").
TEST_F(TimerServiceTest, APromotedSlaveReParksFarMessagesBeforeRetentionTakesTheirRecords) {
  store_->Shutdown();  // a store of small segments that deletes what is older than an hour
  store_.reset();
  std::filesystem::remove_all(dir_.Sub("store"));
  auto o = SmallOptions(dir_.Sub("store"));
  o.file_reserved_time_hours = 1;
  o.delete_when = "";
  o.disk_usage_probe = [] { return 0.80; };
  store_ = OpenStore(o, &clock_);
  constexpr int64_t kMinute = 60'000;
  constexpr int64_t kWindowSlots = 30 * 60;  // half an hour, inside the retention
  StartTimer(/*deliver=*/false, kWindowSlots);
  Park(kStart + 180 * kMinute + 500, "far");
  ASSERT_TRUE(WaitUntil([&] {
    timer_->Wake();
    return timer_->Stats().enqueue_offset == 1;
  }));
  timer_->Shutdown();  // the master is lost before its first roll; the slave is promoted
  StartTimer(/*deliver=*/true, kWindowSlots);
  for (int64_t t = kStart + 10 * kMinute; t <= kStart + 180 * kMinute; t += 10 * kMinute) {
    AdvanceTo(t);
    for (int i = 0; i < 70; ++i)
      ASSERT_TRUE(PutSync(*store_, store::testing::Msg("F", 0, std::string(1000, 'f'))).ok());
    ASSERT_TRUE(WaitUntil([&] { return store_->DispatchedPhyOffset() == store_->MaxPhyOffset(); }));
    store_->RunCleanOnce();
  }
  EXPECT_GT(store_->MinPhyOffset(), 0) << "retention deleted nothing: the test proves nothing";
  EXPECT_GT(timer_->Stats().rolled, 0);
  AdvanceTo(kStart + 181 * kMinute);
  ASSERT_TRUE(WaitUntil([&] { return Delivered() == 1; }));
  EXPECT_EQ(ReadDelivered()[0].Property("UNIQ_KEY"), "far");
}

TEST_F(TimerServiceTest, ASlaveMirrorsTheMastersRollAndLetsItGoWithTheMastersProgress) {
  StartTimer(/*deliver=*/false, /*roll_window_slots=*/3);
  Park(kStart + 9500, "far");  // the master rolls it in its slot kStart + 2000
  ASSERT_TRUE(WaitUntil([&] { return timer_->Stats().pending == 2; }));
  EXPECT_EQ(timer_->Stats().slots, 2);  // its real slot and the roll slot
  ASSERT_TRUE(PutSync(*store_, MakeProgressRecord(kStart + 3000, /*enqueued=*/1, clock_.NowMillis())).ok());
  ASSERT_TRUE(WaitUntil([&] {
    timer_->Wake();
    return timer_->Stats().progress_ms == kStart + 3000;
  }));
  EXPECT_EQ(timer_->Stats().pending, 1);  // the message stays in its real slot
  EXPECT_EQ(timer_->Stats().slots, 1);
}

// Before: a progress record made a slave drop every unit below it, also those the master had
// not read yet (a timer record dispatched between the master's enqueue pass and its progress
// record; the master delivers it late, on its next pass), and a slave dropped a record that came
// after the progress its slot was under. A master gone before that next pass left a promoted
// slave without the acknowledged message.
TEST_F(TimerServiceTest, ASlaveKeepsWhatTheMasterHadNotReadWhenItWroteItsProgress) {
  StartTimer(/*deliver=*/false);
  Park(kStart + 1500, "unread");  // queue offset 0
  ASSERT_TRUE(WaitUntil([&] { return timer_->Stats().pending == 1; }));
  // The master delivered slot kStart+1000 having read nothing of the timer queue.
  ASSERT_TRUE(PutSync(*store_, MakeProgressRecord(kStart + 2000, /*enqueued=*/0, clock_.NowMillis())).ok());
  ASSERT_TRUE(WaitUntil([&] {
    timer_->Wake();
    return timer_->Stats().progress_ms == kStart + 2000;
  }));
  EXPECT_EQ(timer_->Stats().pending, 1);
  Park(kStart + 1200, "late");  // under the progress already: the master delivers it late
  ASSERT_TRUE(WaitUntil([&] { return timer_->Stats().pending == 2; }));

  timer_->Shutdown();  // promoted: the same store and timer directory, now delivering
  StartTimer(/*deliver=*/true);
  AdvanceTo(kStart + 3000);
  ASSERT_TRUE(WaitUntil([&] { return Delivered() >= 2; }));
  std::set<std::string> keys;
  for (const auto& m : ReadDelivered()) keys.insert(m.Property("UNIQ_KEY"));
  EXPECT_EQ(keys, (std::set<std::string>{"unread", "late"}));
}

TEST_F(TimerServiceTest, ASlaveDropsWhatTheMasterConfirmsItRead) {
  StartTimer(/*deliver=*/false);
  Park(kStart + 1500, "a");  // queue offset 0
  ASSERT_TRUE(PutSync(*store_, MakeProgressRecord(kStart + 2000, /*enqueued=*/0, clock_.NowMillis())).ok());
  Park(kStart + 1200, "late");  // queue offset 2
  ASSERT_TRUE(WaitUntil([&] {
    timer_->Wake();
    return timer_->Stats().pending == 2 && timer_->Stats().enqueue_offset == 3;
  }));
  // The master read them all and delivered them (the late one on its read): the same progress
  // with a higher queue offset.
  ASSERT_TRUE(PutSync(*store_, MakeProgressRecord(kStart + 2000, /*enqueued=*/3, clock_.NowMillis())).ok());
  ASSERT_TRUE(WaitUntil([&] {
    timer_->Wake();
    return timer_->Stats().pending == 0;
  }));
  Park(kStart + 2500, "b");
  ASSERT_TRUE(WaitUntil([&] { return timer_->Stats().pending == 1; }));

  timer_->Shutdown();  // promoted: only what the master had not confirmed is delivered
  StartTimer(/*deliver=*/true);
  AdvanceTo(kStart + 4000);
  ASSERT_TRUE(WaitUntil([&] { return Delivered() >= 1; }));
  auto delivered = ReadDelivered();
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(delivered[0].Property("UNIQ_KEY"), "b");
}

TEST_F(TimerServiceTest, AMasterTellsItsSlavesWhatItHadReadAndWhatItDeliveredLate) {
  StartTimer();
  AdvanceTo(kStart + 2000);
  Park(kStart + 1500, "late");  // queue offset 0, under the progress: delivered as it is read
  ASSERT_TRUE(WaitUntil([&] { return Delivered() == 1; }));
  // A progress record follows at once, covering it.
  ASSERT_TRUE(WaitUntil([&] {
    auto got = store_->GetMessages("g", std::string(kTimerTopic), 0, 1, 10, 1 << 20);
    for (const auto& raw : got.messages) {
      auto view = store::DecodeRecord(raw, true);
      if (view.ok() && store::FindProperty(view->properties, kPropProgressEnqueued) == "1") return true;
    }
    return false;
  }));
  timer_->Shutdown();
  auto cp = ReadFileToString(dir_.Sub("timer") + "/checkpoint");
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(*cp, std::to_string(kStart + 2000) + " 2 2\n")
      << "progress, enqueue offset (past the progress record too), confirmed";
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
