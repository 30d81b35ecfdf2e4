// The dispatcher as readers see it: arrival listeners (what wakes long polls) and reads of a
// queue whose dispatch runs behind the log.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "broker/store/commit_log.h"
#include "broker/store/consume_queue.h"
#include "broker/store/dispatcher.h"
#include "broker/store/message_store.h"
#include "store_test_util.h"
#include "testutil/temp_dir.h"
#include "testutil/wait.h"

namespace mq::store {
namespace {

using mq::testing::WaitUntil;
using testing::Dispatched;
using testing::Msg;
using testing::PutSync;

class StoreDispatchTest : public testing::StoreFixture {};

// A recovered commit log and its consume queues, for tests that drive a Dispatcher themselves.
struct LogAndQueues {
  LogAndQueues(const StoreOptions& options, Clock* clock)
      : log(options, clock),
        queues(options.store_path_root_dir + "/consumequeue", options.mapped_file_size_consume_queue) {
    EXPECT_TRUE(log.Load().ok());
    EXPECT_TRUE(log.Recover(false, -1).ok());
  }
  // No index; the readable limit is the log's committed offset.
  std::unique_ptr<Dispatcher> NewDispatcher(std::chrono::milliseconds idle_wait = Dispatcher::kIdleWait) {
    return std::make_unique<Dispatcher>(
        &log, &queues, nullptr, &latch, [this] { return log.committed_offset(); }, idle_wait);
  }
  // Appends `m` as one record; *stamped gets the record as the log holds it.
  AppendResult Append(const MessageInput& m, std::string* stamped = nullptr) {
    std::vector<PendingRecord> records(1);
    records[0].topic = m.topic;
    records[0].queue_id = m.queue_id;
    if (Status s = EncodeMessage(m, {}, &records[0].bytes); !s.ok()) {
      AppendResult failed;
      failed.status = s;
      return failed;
    }
    AppendResult appended = log.Append(&records);
    if (stamped != nullptr) *stamped = std::move(records[0].bytes);
    return appended;
  }
  std::vector<CqUnit> Units(const std::string& topic, int32_t queue_id) {
    auto cq = queues.Find(topic, queue_id);
    return cq == nullptr ? std::vector<CqUnit>{} : cq->Read(0, 10);
  }

  CommitLog log;
  ConsumeQueueTable queues;
  ErrorLatch latch;
};

TEST_F(StoreDispatchTest, ArrivalListenerAndBatch) {
  auto store = std::make_unique<MessageStore>(options_, &clock_);
  std::atomic<int64_t> seen{0};
  store->AddArrivalListener([&](const std::string& topic, int32_t qid, int64_t max) {
    if (topic == "B" && qid == 2) seen = max;
  });
  ASSERT_TRUE(store->Start().ok());
  std::vector<MessageInput> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(Msg("B", 2, "b" + std::to_string(i)));
  PutResult result =
      testing::WaitForPut([&](PutCallback done) { store->PutMessages(std::move(batch), std::move(done)); },
                          std::chrono::seconds(10));
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.msg_num, 5);
  ASSERT_TRUE(WaitUntil([&] { return seen.load() == 5; }));
  std::vector<MessageInput> mixed{Msg("B", 0, "x"), Msg("C", 0, "y")};
  result =
      testing::WaitForPut([&](PutCallback done) { store->PutMessages(std::move(mixed), std::move(done)); },
                          std::chrono::seconds(10));
  EXPECT_EQ(result.status, PutStatus::kMessageIllegal);
}

// A consumer that read a replica whose dispatcher ran ahead asks for a position this store's
// log already holds but its consume queue does not show yet: not an overflow (answering one
// would rewind it, to 0 when the queue starts at 0).
TEST_F(StoreDispatchTest, PositionInTheUndispatchedTailIsNotAnOverflow) {
  auto store = std::make_unique<MessageStore>(options_, &clock_);
  std::mutex mu;
  std::condition_variable cv;
  bool held = false;
  bool release = false;
  // Holds the pass that put "b" (queue offset 1) into the consume queue: on the dispatcher
  // thread or, while that sleeps, on the thread that put "b".
  store->AddArrivalListener([&](const std::string& topic, int32_t, int64_t max_offset) {
    if (topic != "Lag" || max_offset != 2) return;
    std::unique_lock lock(mu);
    held = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
  });
  auto let_go = [&] {
    {
      std::lock_guard lock(mu);
      release = true;
    }
    cv.notify_all();
  };
  ASSERT_TRUE(store->Start().ok());
  ASSERT_TRUE(PutSync(*store, Msg("Lag", 0, "a")).ok());
  std::thread put_b([&] { EXPECT_TRUE(PutSync(*store, Msg("Lag", 0, "b")).ok()); });
  struct JoinOnExit {
    std::function<void()> let_go;
    std::thread& t;
    ~JoinOnExit() {
      let_go();
      t.join();
    }
  } join_on_exit{let_go, put_b};
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return held; }));
  }
  ASSERT_TRUE(PutSync(*store, Msg("Lag", 0, "c")).ok());  // in the log, not dispatched

  auto r = store->GetMessages("g", "Lag", 0, 3, 32, 1 << 20);
  EXPECT_EQ(r.max_offset, 2);
  EXPECT_EQ(r.status, GetMessageStatus::kOffsetOverflowOne);
  EXPECT_EQ(r.next_begin_offset, 3);
  let_go();
  ASSERT_TRUE(WaitUntil([&] { return Dispatched(*store); }));
  r = store->GetMessages("g", "Lag", 0, 3, 32, 1 << 20);
  EXPECT_EQ(r.max_offset, 3);
  EXPECT_EQ(r.status, GetMessageStatus::kOffsetOverflowOne);
  // Everything dispatched: a position past the end is an overflow again (RocketMQ's answer).
  r = store->GetMessages("g", "Lag", 0, 5, 32, 1 << 20);
  EXPECT_EQ(r.status, GetMessageStatus::kOffsetOverflowBadly);
  EXPECT_EQ(r.next_begin_offset, 0);
}

// Two writers append back to back, as a busy put path does, each announcing its record with
// `announce`; expects every record to reach the arrival listener although the dispatcher's
// idle timeout is out of reach, so a lost announcement fails the wait instead of arriving
// late. Returns the passes the timeout started (0 unless the test ran for an hour).
int64_t AppendFromTwoWriters(StoreOptions options, Clock* clock,
                             const std::function<void(Dispatcher&)>& announce) {
  options.mapped_file_size_commit_log = 4 * 1024 * 1024;
  options.mapped_file_size_consume_queue = 10000 * 20;
  LogAndQueues store(options, clock);
  auto made = store.NewDispatcher(std::chrono::hours(1));
  Dispatcher& dispatcher = *made;
  constexpr int kWriters = 2;
  constexpr int kPerWriter = 5000;
  std::atomic<int64_t> seen[kWriters] = {};
  dispatcher.AddListener([&](const std::string&, int32_t queue_id, int64_t max_offset) {
    if (queue_id >= 0 && queue_id < kWriters) seen[queue_id] = max_offset;
  });
  dispatcher.Start(store.log.committed_offset());
  std::vector<std::thread> writers;
  std::atomic<bool> failed{false};
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter && !failed; ++i) {
        if (!store.Append(Msg("Busy", w, "m" + std::to_string(i))).status.ok()) failed = true;
        announce(dispatcher);
      }
    });
  }
  for (auto& t : writers) t.join();
  EXPECT_FALSE(failed.load());
  for (int w = 0; w < kWriters; ++w) {
    EXPECT_TRUE(WaitUntil([&] { return seen[w].load() == kPerWriter; }))
        << "queue " << w << " saw " << seen[w];
  }
  dispatcher.Shutdown();
  return dispatcher.unannounced_passes();
}

// Before: a putter whose pass found more records announced meanwhile ran another pass, and
// another, for as long as others kept putting (up to the thread's idle timeout): one gRPC or
// fast-port thread served no request of its own meanwhile. Now it runs at most
// kMostPassesHere passes and hands the rest to the thread.
TEST_F(StoreDispatchTest, APutterDispatchesAFewPassesAtMostThenLeavesTheRestToTheThread) {
  LogAndQueues store(options_, &clock_);
  auto dispatcher = store.NewDispatcher(std::chrono::hours(1));  // only announcements wake it
  const std::thread::id putter = std::this_thread::get_id();
  int passes_here = 0;
  int arrivals_made = 0;
  std::atomic<int64_t> seen{0};
  dispatcher->AddListener([&](const std::string&, int32_t, int64_t max_offset) {
    seen = max_offset;
    if (std::this_thread::get_id() != putter) return;
    ++passes_here;  // one queue: one call per pass
    // Another put lands while this pass runs, as under load: it finds the pass running and
    // leaves its record to it.
    if (arrivals_made < 10) {
      ++arrivals_made;
      std::thread other([&] {
        EXPECT_TRUE(store.Append(Msg("Busy", 0, "other")).status.ok());
        dispatcher->DispatchHereOrWakeup();
      });
      other.join();
    }
  });
  dispatcher->Start(store.log.committed_offset());
  // Until the thread sleeps (after its first pass), a put leaves its record to it.
  int puts = 0;
  ASSERT_TRUE(WaitUntil([&] {
    EXPECT_TRUE(store.Append(Msg("Busy", 0, "first")).status.ok());
    ++puts;
    dispatcher->DispatchHereOrWakeup();
    return passes_here > 0;
  }));
  EXPECT_GE(arrivals_made, 1);
  EXPECT_LE(passes_here, Dispatcher::kMostPassesHere);
  // The rest went to the thread, which was told.
  EXPECT_TRUE(WaitUntil([&] { return seen.load() == puts + arrivals_made; })) << seen.load();
  dispatcher->Shutdown();
}

// Every pass of the dispatcher thread starts because an append announced itself (Wakeup()),
// never because a poll interval or the idle timeout ran out: an arrival that has to wait for a
// timer reaches its long-polling consumer that much later.
TEST_F(StoreDispatchTest, EveryPassStartsOnAnAppendsWakeupNotOnATimer) {
  // As MessageStore announces what the flush thread made durable (SYNC_FLUSH).
  EXPECT_EQ(AppendFromTwoWriters(options_, &clock_, [](Dispatcher& d) { d.Wakeup(); }), 0);
}

// The same when the appenders dispatch their records themselves while the thread sleeps (as
// MessageStore does after each ASYNC_FLUSH append): one that finds another's pass running
// leaves its record to that pass, which must not end without it.
TEST_F(StoreDispatchTest, AppendersThatDispatchThemselvesLeaveNoRecordToTheTimer) {
  EXPECT_EQ(AppendFromTwoWriters(options_, &clock_, [](Dispatcher& d) { d.DispatchHereOrWakeup(); }), 0);
}

// An ASYNC_FLUSH put of a few records while the dispatcher thread sleeps makes them
// consumable on the putting thread: waking the dispatcher for them cost a thread hop per send
// (and at low rates more CPU than the pass itself). The thread may still be finishing its
// first pass when the first puts arrive, so the test puts until one is dispatched here
// (bounded). A put of more than kMostBytesDispatchedHere still wakes the thread.
TEST_F(StoreDispatchTest, SmallAsyncFlushPutsAreDispatchedOnThePuttingThreadLargeOnesByTheDispatcher) {
  ASSERT_EQ(options_.flush_disk_type, FlushDiskType::kAsyncFlush);
  options_.mapped_file_size_commit_log = 1024 * 1024;
  auto store = std::make_unique<MessageStore>(options_, &clock_);
  std::mutex mu;
  std::vector<std::thread::id> arrived_on;  // GUARDED_BY(mu)
  store->AddArrivalListener([&](const std::string& topic, int32_t, int64_t) {
    if (topic != "Here") return;
    std::lock_guard lock(mu);
    arrived_on.push_back(std::this_thread::get_id());
  });
  auto arrived_here = [&](size_t puts) {
    EXPECT_TRUE(WaitUntil([&] {
      std::lock_guard lock(mu);
      return arrived_on.size() == puts;
    }));
    std::lock_guard lock(mu);
    return !arrived_on.empty() && arrived_on.back() == std::this_thread::get_id();
  };
  ASSERT_TRUE(store->Start().ok());
  bool here = false;
  size_t puts = 0;
  while (puts < 50 && !here) {
    ASSERT_TRUE(PutSync(*store, Msg("Here", 0, "m" + std::to_string(puts))).ok());
    here = arrived_here(++puts);
  }
  EXPECT_TRUE(here) << puts << " puts, every one dispatched by another thread";

  std::vector<MessageInput> large;
  for (int i = 0; i < 6; ++i) large.push_back(Msg("Here", 0, std::string(12 * 1024, 'x')));
  ASSERT_GT(6 * 12 * 1024, Dispatcher::kMostBytesDispatchedHere);
  PutResult r =
      testing::WaitForPut([&](PutCallback done) { store->PutMessages(std::move(large), std::move(done)); },
                          std::chrono::seconds(10));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_FALSE(arrived_here(++puts)) << "a large put was dispatched on the putting thread";
  store->Shutdown();
}

// One pass over records of several queues, interleaved: "A" 0, 0, 1, then "B" 0 (the same queue
// id in another topic), then "A" 0 again. Each record lands in its own consume queue at its own
// offset, and each queue's arrival is announced once with its end (consecutive records of one
// queue share one consume queue lookup, which must end when topic or queue id changes).
TEST_F(StoreDispatchTest, APassOverInterleavedQueuesPutsEachRecordInItsOwnQueue) {
  LogAndQueues store(options_, &clock_);
  auto dispatcher = store.NewDispatcher();
  std::map<std::pair<std::string, int32_t>, std::vector<int64_t>> announced;
  dispatcher->AddListener([&](const std::string& topic, int32_t queue_id, int64_t max_offset) {
    announced[{topic, queue_id}].push_back(max_offset);
  });
  const std::vector<std::pair<std::string, int32_t>> order{{"A", 0}, {"A", 0}, {"A", 1}, {"B", 0}, {"A", 0}};
  std::vector<int64_t> physical;
  for (const auto& [topic, queue_id] : order) {
    AppendResult appended = store.Append(Msg(topic, queue_id, "m"));
    ASSERT_TRUE(appended.status.ok());
    physical.push_back(appended.wrote_offset);
  }
  ASSERT_TRUE(dispatcher->DispatchRange(0, store.log.committed_offset(), /*notify=*/true).ok());

  auto units = [&](const std::string& topic, int32_t queue_id) {
    std::vector<int64_t> phy;
    for (const CqUnit& unit : store.Units(topic, queue_id)) phy.push_back(unit.phy_offset);
    return phy;
  };
  EXPECT_EQ(units("A", 0), (std::vector<int64_t>{physical[0], physical[1], physical[4]}));
  EXPECT_EQ(units("A", 1), (std::vector<int64_t>{physical[2]}));
  EXPECT_EQ(units("B", 0), (std::vector<int64_t>{physical[3]}));
  using Announced = std::map<std::pair<std::string, int32_t>, std::vector<int64_t>>;
  EXPECT_EQ(announced, (Announced{{{"A", 0}, {3}}, {{"A", 1}, {1}}, {{"B", 0}, {1}}}));
}

// A checkpoint takes dispatched_offset() as the point below which every record's unit is in the
// consume queue files it flushes. With units staged and written once per queue run, the offset
// must not pass records whose units are still staged: read from another thread during a long
// pass over one queue, it never runs ahead of the queue's last visible unit.
TEST_F(StoreDispatchTest, TheDispatchedOffsetNeverPassesAUnitReadersCannotSee) {
  // One log segment: a segment's end blank has no unit, and the offset rightly passes it.
  options_.mapped_file_size_commit_log = 16 << 20;
  LogAndQueues store(options_, &clock_);
  auto dispatcher = store.NewDispatcher();
  constexpr int kRecords = 20000;
  for (int i = 0; i < kRecords; ++i) ASSERT_TRUE(store.Append(Msg("A", 0, "m")).status.ok());
  std::atomic<bool> polling{false};
  std::atomic<bool> done{false};
  std::atomic<int> ahead{0};
  std::atomic<int> polls{0};
  std::thread poller([&] {
    polling = true;
    while (!done.load()) {
      const int64_t dispatched = dispatcher->dispatched_offset();
      auto cq = store.queues.Find("A", 0);
      const int64_t visible_end = cq ? cq->LastPhysicalEnd() : 0;
      if (dispatched > visible_end) ++ahead;
      ++polls;
    }
  });
  ASSERT_TRUE(WaitUntil([&] { return polling.load(); }));
  ASSERT_TRUE(dispatcher->DispatchRange(0, store.log.committed_offset(), /*notify=*/false).ok());
  done = true;
  poller.join();
  EXPECT_EQ(dispatcher->dispatched_offset(), store.log.committed_offset());
  EXPECT_EQ(store.queues.Find("A", 0)->max_offset(), kRecords);
  EXPECT_EQ(ahead.load(), 0) << "of " << polls.load() << " polls";
}

// A pass reads an appender's offered records instead of the log. Real offers are the log's
// bytes; this one differs in its TAGS value (same length), which shows in the tags code of the
// consume queue unit. The record after it, not offered, is read from the log.
TEST_F(StoreDispatchTest, APassReadsOfferedRecordsInsteadOfTheLog) {
  LogAndQueues store(options_, &clock_);
  auto dispatcher = store.NewDispatcher();
  std::string offered;
  AppendResult appended = store.Append(Msg("Off", 0, "m", "InLog"), &offered);
  ASSERT_TRUE(appended.status.ok());
  const size_t at = offered.find("InLog");
  ASSERT_NE(at, std::string::npos);
  offered.replace(at, 5, "Offer");
  dispatcher->OfferWritten(appended.wrote_offset, std::move(offered));
  ASSERT_TRUE(store.Append(Msg("Off", 0, "m", "InLog")).status.ok());
  ASSERT_TRUE(dispatcher->DispatchRange(0, store.log.committed_offset(), /*notify=*/false).ok());
  const auto units = store.Units("Off", 0);
  ASSERT_EQ(units.size(), 2u);
  EXPECT_EQ(units[0].tags_code, TagsCode("Offer"));
  EXPECT_EQ(units[1].tags_code, TagsCode("InLog"));
  EXPECT_EQ(dispatcher->offered_bytes(), 0);
}

// Offers are bounded (the oldest go); one that does not hold a whole record where the pass is
// changes nothing (the log is read); a pass drops the offers it has passed.
TEST_F(StoreDispatchTest, OffersAreBoundedAndOnlyEverSaveALogRead) {
  LogAndQueues store(options_, &clock_);
  {
    auto dispatcher = store.NewDispatcher();
    constexpr int64_t kMiB = 1 << 20;
    for (int64_t i = 0; i < 10; ++i) dispatcher->OfferWritten(i * kMiB, std::string(kMiB, 'x'));
    EXPECT_EQ(dispatcher->offered_bytes(), Dispatcher::kMostOfferedBytes);
  }
  auto dispatcher = store.NewDispatcher();
  dispatcher->OfferWritten(0, "not a record");
  dispatcher->OfferWritten(7, "stale");
  AppendResult appended = store.Append(Msg("Off", 0, "m", "InLog"));
  ASSERT_TRUE(appended.status.ok());
  ASSERT_EQ(appended.wrote_offset, 0);
  ASSERT_TRUE(dispatcher->DispatchRange(0, store.log.committed_offset(), /*notify=*/false).ok());
  const auto units = store.Units("Off", 0);
  ASSERT_EQ(units.size(), 1u);
  EXPECT_EQ(units[0].phy_offset, 0);
  EXPECT_EQ(units[0].tags_code, TagsCode("InLog"));
  EXPECT_EQ(dispatcher->offered_bytes(), 0);
}

}  // namespace
}  // namespace mq::store
