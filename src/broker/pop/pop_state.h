// PopStateTable: the in-flight deliveries of pop consumption, per (group, topic, queue).
//
// A queue's state is `next_offset` (the first queue offset never handed out, the high-water
// mark) and the deliveries above the low-water mark, by queue offset. An entry is a message
// that was delivered and not yet acked, or an acked message above an unacked one; acked
// entries at the front are dropped at once, so the first entry (else next_offset) is the
// low-water mark = the consumer offset committed for that queue. Memory is per in-flight
// message only.
//
// Every change goes through one of the Apply* operations, both at run time and when the
// journal is replayed after a restart, so both paths build the same state. They are
// idempotent and guarded by epochs (strictly increasing per broker), which lets a replay start
// from any journal offset at or before the snapshot's: re-applying a record the snapshot
// already holds changes nothing. Records after the snapshot's offset need not be in the order
// their changes were made (two pops of one queue store theirs concurrently): each pop carries
// its own epoch and offset, advances only move forward, and an ack or change of a delivery is
// always stored after the delivery's own record (it is answered only once that is stored).
// Not thread-safe: PopService guards it with its mutex.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>

#include "mq/v1/broker_meta.pb.h"

namespace mq::broker::pop {

struct QueueKey {
  std::string group;
  std::string topic;
  int32_t queue_id = 0;
  bool operator<(const QueueKey& o) const {
    return std::tie(group, topic, queue_id) < std::tie(o.group, o.topic, o.queue_id);
  }
};

struct InFlight {
  int64_t epoch = 0;        // identity of the current delivery (the receipt handle's)
  int64_t deadline_ms = 0;  // invisible until then; visible again (redelivered) after
  int64_t commit_log_offset = 0;
  int64_t first_pop_ms = 0;  // first delivery (auto-renew stops renewMaxTimeMillis after it)
  int32_t attempt = 1;       // delivery attempt of the current delivery (1 = first)
  bool auto_renew = false;
  bool acked = false;
  std::string client_id;  // who holds an auto-renewed delivery
};

struct QueueState {
  int64_t next_offset = -1;  // -1: not initialised yet
  std::map<int64_t, InFlight> entries;
  std::string fifo_attempt_id;  // attempt id of the last FIFO batch (not persisted)
};

class PopStateTable {
 public:
  using Map = std::map<QueueKey, QueueState>;

  // The queue's state; creates an uninitialised one.
  QueueState& Get(const QueueKey& key) { return queues_[key]; }
  const QueueState* Find(const QueueKey& key) const;
  Map& queues() { return queues_; }

  // A delivery (first or redelivery) of the message at `offset`. Ignored when a newer or equal
  // epoch is recorded, or when the offset is below next_offset with no entry and the table
  // already accounts for the delivery (epoch <= settled_epoch: acked and trimmed, or filtered).
  // A replay passes the epoch its snapshot was taken at: a newer delivery below next_offset is
  // one whose record was stored after a later pop's, as concurrent pops store their records in
  // either order; it is in flight. Live deliveries are never below next_offset without an entry.
  bool ApplyPop(const QueueKey& key, int64_t offset, const InFlight& delivery, int64_t settled_epoch);
  // next_offset = max(next_offset, offset): messages handed out or filtered away.
  void ApplyAdvance(const QueueKey& key, int64_t offset);
  // An offset reset: next_offset = offset, backwards or forwards, and every delivery of the
  // queue is over (their handles are stale).
  void ApplyReset(const QueueKey& key, int64_t offset);
  // Acks the delivery `epoch`. True when it is (or already was) acked.
  bool ApplyAck(const QueueKey& key, int64_t offset, int64_t epoch);
  // Moves delivery `epoch` to `new_epoch` with a new deadline. True when applied.
  bool ApplyChange(const QueueKey& key, int64_t offset, int64_t epoch, int64_t new_epoch,
                   int64_t deadline_ms);
  // Sets the deadline of delivery `epoch` (auto-renew, client gone). True when applied.
  bool ApplyRenew(const QueueKey& key, int64_t offset, int64_t epoch, int64_t deadline_ms);

  // The queue holds messages only below `end` (the store lost its tail after the state was
  // saved): next_offset comes back to `end` and deliveries at or above it, of messages that no
  // longer exist, are dropped. Returns how many deliveries were dropped.
  size_t TruncateTo(const QueueKey& key, int64_t end);
  // First offset not yet acked (-1 when the queue is not initialised).
  int64_t LowWater(const QueueKey& key) const;
  // The unacked delivery at `offset` whose epoch is `epoch`, or null.
  InFlight* FindDelivery(const QueueKey& key, int64_t offset, int64_t epoch);
  size_t InFlightCount() const;

  void ToProto(mq::v1::PopStateSnapshot* out) const;
  void FromProto(const mq::v1::PopStateSnapshot& in);

 private:
  static void Trim(QueueState* q);
  Map queues_;
};

}  // namespace mq::broker::pop
