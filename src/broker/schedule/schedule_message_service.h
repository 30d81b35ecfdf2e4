// ScheduleMessageService: delivers delay-level messages (RocketMQ 4.x ScheduleMessageService).
//
// A delayed message waits in SCHEDULE_TOPIC_XXXX queue level-1 (delay_levels.h). One delivery
// task per level walks its queue in order from the level's offset in DelayOffsetTable: a
// message whose delivery time (store timestamp + the level's delay; also its consume queue tags
// code) has come is re-put to its REAL_TOPIC / REAL_QID with its properties minus DELAY, and the
// level's offset moves past it only once that put succeeded. A level waits for its head
// message's time: the queue is FIFO per level and every message of a level has the same delay,
// so delivery times only grow along the queue. Never early; late by the wake-up latency.
// Failures keep the offset, so a message is delivered at least once: after a kill -9 the
// offsets of the last flushDelayOffsetInterval may be replayed (duplicates, never losses).
// delayOffset.json is written only with offsets whose re-puts are durable, so a power cut that
// takes the commit log's tail (ASYNC_FLUSH) replays the lost deliveries too.
//
// Lifecycle: construct before the store's Start() (it installs the tags-code function and an
// arrival listener on the store) -> Start() on a master only (a slave keeps the queue and the
// offsets it gets from its master, and delivers nothing) -> Shutdown() before the store's.
// Threads: one delivery thread runs every level's task (RocketMQ 4.x uses one Timer thread
// too); it blocks on the store's put callback and writes delayOffset.json (so never an
// executor or gRPC thread). Wakeup() is called from the dispatcher thread and never blocks.
// mu_ guards stop_/wake_.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "broker/schedule/delay_levels.h"
#include "broker/schedule/delay_offset_table.h"
#include "broker/store/message_store.h"
#include "common/clock.h"
#include "common/durable_progress.h"

namespace mq::schedule {

class ScheduleMessageService {
 public:
  struct Options {
    DelayLevels levels;
    int64_t persist_interval_ms = 10'000;  // flushDelayOffsetInterval
  };
  // `store` and `offsets` must outlive this service.
  ScheduleMessageService(Options options, store::MessageStore* store, DelayOffsetTable* offsets,
                         Clock* clock = SystemClock::Default());
  ~ScheduleMessageService();
  ScheduleMessageService(const ScheduleMessageService&) = delete;
  ScheduleMessageService& operator=(const ScheduleMessageService&) = delete;

  void Start();
  // Stops the thread and writes delayOffset.json. Idempotent.
  void Shutdown();
  void Wakeup();

  const DelayLevels& levels() const { return options_.levels; }

 private:
  void Loop(int64_t started_ms);
  // Delivers what is due on one level; returns when the level next needs attention (ms).
  int64_t DeliverLevel(int32_t level, int64_t now);
  // Re-puts one scheduled record to its real topic; waits for the store's answer.
  Status Redeliver(const store::RecordView& view, std::string_view raw);
  // Writes the offsets whose deliveries are durable (all of them with `force`: at Shutdown(),
  // before the store's, which flushes the rest).
  void PersistOffsets(bool force);

  const Options options_;
  store::MessageStore* const store_;
  DelayOffsetTable* const offsets_;
  Clock* const clock_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  bool wake_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
  DurableProgress<DelayOffsetTable::Version> durable_;  // delivery thread only (then Shutdown())
  // Levels 1..max_level, then those past it whose queues still hold messages (messageDelayLevel
  // was shortened): delivered at the longest delay's time, as a send clamps a level. Set by
  // Start(), before the thread.
  std::vector<int32_t> levels_to_deliver_;
};

}  // namespace mq::schedule
