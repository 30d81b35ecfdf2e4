// TimerService: delivers scheduled messages when due (RocketMQ 5's TimerMessageStore, our
// design). The timer topic rmq_sys_wheel_timer (queue 0) in the commit log is the source of
// truth: it holds every parked message, recall marker and progress record, so it is durable
// and replicated like any message. This service derives from it:
//   - TimerLog (timer/timer_log.h): one 56-byte unit per parked record, chained per slot;
//   - the wheel: slot_ms -> (newest unit, count), in memory, one entry per non-empty slot.
//     Slots are at most timerRollWindowSlot ahead of the progress (farther ones are parked in
//     the window's last slot as "roll" units and re-parked when it comes), so the wheel is
//     bounded by the window, never by the number of pending messages;
//   - progress_ms: every slot below it has been delivered (checkpoint file + progress records).
//     On a slave, except what the master had not read when it wrote the progress record that
//     moved it: a slot holding a record at or past that record's queue offset stays in the
//     wheel until a later record covers it (the master delivers such a record late).
// Enqueue tails the timer topic's consume queue; dequeue takes the oldest slot once it is
// fully past (slot s holds delivery times in (s, s + precision]) and the enqueue has read every
// record stored before its end, re-puts its messages on
// their real topic/queue in delivery-time order (skipping recalled ones), waits for the
// store to acknowledge them, then advances progress and appends a progress record.
// Crash safety (at least once): the checkpoint is written after the deliveries and the timer
// log are on disk; after a crash the timer log's torn tail is cut and enqueue resumes from
// the last unit it holds, so nothing is lost; a slot delivered but not yet checkpointed is
// delivered again (a duplicate, never a loss).
// A slave (deliver=false) builds the same timer log and wheel from the replicated timer
// topic and advances its progress from the master's progress records; it never writes. It
// drops a slot only once a progress record says the master read and delivered all of it. It
// keeps far messages in their real slots, with a roll unit where the master's roll falls, which
// it delivers (re-parks) only once promoted.
// Threads: one service thread does all of the above; Recall() and Stats() are thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "broker/store/message_format.h"
#include "broker/store/store_types.h"
#include "broker/timer/timer_log.h"
#include "broker/timer/timer_message.h"
#include "common/clock.h"

namespace mq::store {
class MessageStore;
}

namespace mq::broker::timer {

struct TimerServiceOptions {
  std::string dir;                     // <storePathRootDir>/timer
  std::string broker_name;             // recall handles name it
  int64_t precision_ms = 1000;         // timerPrecisionMs
  int64_t roll_window_slots = 172800;  // timerRollWindowSlot (2 days at 1 s)
  bool deliver = true;                 // master: delivers; slave: only maintains the wheel
  int64_t units_per_segment = 1 << 18;
  int64_t recall_lookup_timeout_ms = 3000;  // a handle's record not yet indexed: wait this long
  // A due slot is delivered in batches of at most this many messages and parked bytes, each
  // put before the next is read: a busy second is never held in memory whole.
  int32_t delivery_batch_messages = 256;
  int64_t delivery_batch_bytes = 32 << 20;
};

struct TimerStats {
  int64_t pending = 0;         // units in the wheel (messages, markers and rolls)
  int64_t progress_ms = 0;     // every slot before this has been delivered
  int64_t enqueue_offset = 0;  // next timer-topic queue offset to read
  int64_t delivered = 0;       // since start
  int64_t recalled = 0;        // deliveries skipped because recalled, since start
  int64_t rolled = 0;          // re-parked because beyond the window, since start
  int64_t slots = 0;           // non-empty wheel slots
};

class TimerService {
 public:
  // Puts a message into the store (the controller adds replication wake-ups); `done` may
  // run on any thread.
  using PutFn = std::function<void(store::MessageInput, store::PutCallback)>;
  using RecallDone = std::function<void(const Status&)>;

  TimerService(TimerServiceOptions options, store::MessageStore* store, PutFn put,
               Clock* clock = SystemClock::Default());
  ~TimerService();
  TimerService(const TimerService&) = delete;
  TimerService& operator=(const TimerService&) = delete;

  Status Start();  // after the store started: opens the timer log, rebuilds the wheel
  void Shutdown();
  // New timer-topic records are readable (the store's arrival listener); never blocks.
  void Wake();
  // Cancels the delivery the handle names. `done` runs on the service thread: OK once a
  // durable recall marker is stored; NotFound for an unknown handle; FailedPrecondition
  // when its delivery time has passed (delivered, or recalled before).
  void Recall(RecallHandle handle, RecallDone done);
  TimerStats Stats() const;
  const TimerServiceOptions& options() const { return options_; }

 private:
  struct Slot {
    int64_t last_pos = -1;
    int64_t count = 0;
    int64_t max_cq_offset = -1;  // the newest record's timer queue offset
  };
  struct PendingRecall {
    RecallHandle handle;
    RecallDone done;
    int64_t deadline_ms;
    int64_t dispatch_target;  // the log end when it arrived
  };
  void Loop();
  // Each returns false when it must be retried later (store refused, I/O error).
  bool EnqueueAvailable();
  bool EnqueueRecord(const store::RecordView& record, int64_t cq_offset);
  // Delivers the slots that end by complete_ms (<= now_ms: the time every record stored before
  // has been read).
  bool DequeueDue(int64_t complete_ms, int64_t now_ms);
  bool ProcessSlot(int64_t slot_ms, const Slot& slot, int64_t now_ms);
  // Slave: the master delivered the slots below progress_ms of what it had read below queue
  // offset `enqueued` (-1: a record without it, which covers everything).
  void FollowProgress(int64_t progress_ms, int64_t enqueued);
  // The parked record of `u`, checked to be the timer record the unit was made for.
  Result<store::StoredMessage> ReadParked(const TimerUnit& u) const;
  bool PutAll(std::vector<store::MessageInput> messages);
  void ProcessRecalls(int64_t now_ms);
  // nullopt-like: false when the recall must wait for the store to index its record.
  bool TryRecall(PendingRecall& r, int64_t now_ms);
  Status SaveCheckpoint();
  // Appends the unit to the timer log, chained to its slot; false on an I/O error.
  bool AppendUnit(TimerUnit unit);
  void AddUnit(int64_t pos, const TimerUnit& unit);
  static void AddToSlot(Slot& slot, int64_t pos, const TimerUnit& unit);
  // Timer log segments holding only slots before this are done.
  int64_t DoneBeforeMs() const;
  void PutProgressRecord(int64_t now_ms);

  const TimerServiceOptions options_;
  const int64_t roll_window_ms_;
  store::MessageStore* const store_;
  const PutFn put_;
  Clock* const clock_;
  std::unique_ptr<TimerLog> log_;

  // Service-thread state.
  std::map<int64_t, Slot> wheel_;
  std::map<int64_t, std::set<std::string>> recalled_;  // slot -> recalled UNIQ_KEYs
  int64_t progress_ms_ = 0;
  int64_t enqueue_offset_ = 0;
  // Units below this queue offset in slots below progress_ms_ are delivered: on a master its
  // own enqueue_offset_, on a slave the newest progress record's (kPropProgressEnqueued).
  int64_t confirmed_cq_ = 0;
  bool late_unconfirmed_ = false;  // master: delivered a late record no progress record covers
  int64_t saved_progress_ms_ = -1;
  int64_t saved_enqueue_offset_ = -1;
  int64_t saved_confirmed_cq_ = -1;
  int64_t last_save_ms_ = 0;
  bool enqueue_more_ = false;  // the last enqueue pass stopped before the queue's end
  int64_t read_until_ms_ = 0;  // the store time of the last timer record read
  struct DispatchMark {
    int64_t ms = 0;   // a time ...
    int64_t end = 0;  // ... and the commit log's end read after it
  };
  DispatchMark dispatch_mark_;
  int64_t dispatched_before_ms_ = 0;  // records stored before it are all dispatched

  std::atomic<int64_t> stat_pending_{0};
  std::atomic<int64_t> stat_progress_{0};
  std::atomic<int64_t> stat_enqueue_{0};
  std::atomic<int64_t> stat_delivered_{0};
  std::atomic<int64_t> stat_recalled_{0};
  std::atomic<int64_t> stat_rolled_{0};
  std::atomic<int64_t> stat_slots_{0};

  std::mutex mu_;
  std::condition_variable cv_;
  bool wake_ = false;                  // GUARDED_BY(mu_)
  bool stop_ = false;                  // GUARDED_BY(mu_)
  std::deque<PendingRecall> recalls_;  // GUARDED_BY(mu_) until taken by the service thread
  std::thread thread_;
  bool started_ = false;
};

}  // namespace mq::broker::timer
