// The store's lifecycle around Start() and Shutdown(): one open per directory, and puts racing a
// shutdown (each completes, and none acknowledged is lost).
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "broker/store/message_store.h"
#include "store_test_util.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::store {
namespace {

TEST(MessageStoreLockTest, SecondOpenOfSameDirIsRefused) {
  mq::testing::TempDir dir;
  MessageStore first(testing::SmallOptions(dir.path()));
  ASSERT_TRUE(first.Start().ok());
  MessageStore second(testing::SmallOptions(dir.path()));
  Status s = second.Start();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  first.Shutdown();
  EXPECT_TRUE(second.Start().ok());
}

// A clock that holds one thread's first reading until opened (the rest read the real time).
class GateClock final : public Clock {
 public:
  int64_t NowMillis() const override {
    std::unique_lock lock(mu_);
    if (std::this_thread::get_id() == gated_) {
      gated_ = std::thread::id();
      held_ = true;
      cv_.notify_all();
      cv_.wait(lock, [this] { return open_; });
    }
    return SystemClock::Default()->NowMillis();
  }
  void GateThisThread() {
    std::lock_guard lock(mu_);
    gated_ = std::this_thread::get_id();
  }
  bool held() const {
    std::lock_guard lock(mu_);
    return held_;
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  mutable std::thread::id gated_;  // GUARDED_BY(mu_)
  mutable bool held_ = false;      // GUARDED_BY(mu_)
  bool open_ = false;              // GUARDED_BY(mu_)
};

// Before: a put (here a topic deletion) that had passed the store's running check when
// Shutdown() began could append after the final flush and checkpoint and be acknowledged; the
// next start trusted the checkpoint and the record was gone (the deleted topic came back).
TEST(MessageStoreShutdownTest, AnAsyncPutRacingShutdownIsEitherRefusedOrKept) {
  mq::testing::TempDir dir;
  StoreOptions options = testing::SmallOptions(dir.path());
  options.flush_disk_type = FlushDiskType::kAsyncFlush;
  GateClock clock;
  auto store = std::make_unique<MessageStore>(options, &clock);
  ASSERT_TRUE(store->Start().ok());
  ASSERT_TRUE(testing::PutSync(*store, testing::Msg("T", 0, "old")).ok());
  ASSERT_TRUE(mq::testing::WaitUntil([&] { return testing::Dispatched(*store); }));
  PutResult deleted;
  std::thread deleter([&] {
    clock.GateThisThread();  // held after the running check, before the append
    deleted = testing::WaitForPut([&](PutCallback done) { store->DeleteTopic("T", std::move(done)); });
  });
  ASSERT_TRUE(mq::testing::WaitUntil([&] { return clock.held(); }));
  store->Shutdown();
  clock.Open();
  deleter.join();
  store.reset();
  MessageStore reopened(options);
  ASSERT_TRUE(reopened.Start().ok());
  if (deleted.ok()) {
    EXPECT_FALSE(reopened.HasQueues("T")) << "an acknowledged deletion was lost";
  } else {
    EXPECT_EQ(deleted.status, PutStatus::kServiceNotAvailable) << deleted.error;
    EXPECT_TRUE(reopened.HasQueues("T"));
  }
  reopened.Shutdown();
}

// Puts racing Shutdown() all complete (OK or SERVICE_NOT_AVAILABLE); none hangs.
TEST(MessageStoreShutdownTest, PutsRacingShutdownAllComplete) {
  mq::testing::TempDir dir;
  StoreOptions options = testing::SmallOptions(dir.path());
  options.flush_disk_type = FlushDiskType::kSyncFlush;
  MessageStore store(options);
  ASSERT_TRUE(store.Start().ok());
  std::atomic<int> issued{0};
  std::atomic<int> completed{0};
  std::atomic<bool> bad_status{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&] {
      for (int i = 0; i < 300; ++i) {
        ++issued;
        store.PutMessage(testing::Msg("Z", i % 2, "z"), [&](const PutResult& r) {
          if (!r.ok() && r.status != PutStatus::kServiceNotAvailable) bad_status = true;
          ++completed;
        });
      }
    });
  }
  ASSERT_TRUE(mq::testing::WaitUntil([&] { return completed.load() > 50; }));
  store.Shutdown();
  for (auto& w : writers) w.join();
  EXPECT_TRUE(mq::testing::WaitUntil([&] { return completed.load() == issued.load(); }));
  EXPECT_FALSE(bad_status.load());
}

}  // namespace
}  // namespace mq::store
