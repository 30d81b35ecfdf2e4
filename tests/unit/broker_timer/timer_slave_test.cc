// The timer on a slave: it keeps what the master has not delivered (following the master's
// progress records), mirrors the master's rolls, and delivers all of it once promoted.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>

#include "common/file_util.h"
#include "unit/broker_timer/timer_service_fixture.h"

namespace mq::broker::timer {
namespace {

using mq::store::testing::OpenStore;
using mq::store::testing::PutSync;
using mq::store::testing::SmallOptions;
using mq::testing::WaitUntil;

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

}  // namespace
}  // namespace mq::broker::timer
