// TimerServiceTest: a store on a manual clock and a TimerService over it, started as a master
// (delivering) or a slave; helpers park messages and move the clock. Shared by the timer's unit
// test files.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "broker/store/message_store.h"
#include "broker/timer/timer_service.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"
#include "unit/store/store_test_util.h"

namespace mq::broker::timer {

inline constexpr int64_t kStart = 1'700'000'000'000;  // a whole second

class TimerServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto o = store::testing::SmallOptions(dir_.Sub("store"));
    o.mapped_file_size_commit_log = 1024 * 1024;
    store_ = store::testing::OpenStore(o, &clock_);
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
    EXPECT_TRUE(store::testing::PutSync(*store_, std::move(in)).ok());
    timer_->Wake();
    return uniq;
  }
  int64_t Delivered() const { return store_->MaxOffsetInQueue("T", 1); }
  bool Progress(int64_t ms) {
    return mq::testing::WaitUntil([&] {
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

}  // namespace mq::broker::timer
