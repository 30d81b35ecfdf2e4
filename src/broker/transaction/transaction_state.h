// TransactionStateTable: which transactions are over, for as long as a half record of theirs
// may still be ahead of the check scan. Keyed by transaction id (UNIQ_KEY), not by half offset,
// because the check service re-appends a pending half message as a copy: an end naming the
// original and a check answer naming the copy are the same transaction.
//
// An entry covers every half record of its transaction below `half_max` (the half queue's end
// when the transaction ended, raised if the scan appends a copy concurrently); once the scan
// position reaches half_max no record of it is left to skip, and the entry moves to a bounded
// FIFO of recently finished transactions, which still answers duplicate ends (and is re-read
// from the op queue after a restart).
// Not thread-safe: TransactionalMessageService guards it with its mutex.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

#include "broker/transaction/half_message.h"

namespace mq::broker::txn {

class TransactionStateTable {
 public:
  explicit TransactionStateTable(size_t finished_capacity = 65536) : finished_capacity_(finished_capacity) {}

  // The resolution of an ended (or recently finished) transaction.
  std::optional<Resolution> Find(const std::string& txn) const;
  // Records an end; returns false (and changes nothing) when txn is already known.
  // op_offset < 0: the op record is not written yet (see SetOpOffset).
  bool Add(const std::string& txn, Resolution resolution, int64_t half_max, int64_t op_offset);
  void SetOpOffset(const std::string& txn, int64_t op_offset);
  // Forgets an end whose records could not be written.
  void Remove(const std::string& txn);
  // A copy of txn's half was appended at queue offset `copy_offset`: keep skipping up to it.
  void ExtendHalfMax(const std::string& txn, int64_t copy_offset);
  // Moves entries whose records are all behind the scan position to the finished FIFO.
  void DropPassed(int64_t half_progress);
  // Remembers a finished transaction in the FIFO (the oldest one beyond its capacity is
  // forgotten); nothing when txn is known. For a restart re-reading the ops of finished ones.
  void AddFinished(const std::string& txn, Resolution resolution);
  size_t finished_capacity() const { return finished_capacity_; }
  // Smallest op offset still needed after a restart, or `fallback` when none is.
  int64_t MinOpOffset(int64_t fallback) const;
  size_t active() const { return entries_.size(); }

 private:
  struct Entry {
    Resolution resolution;
    int64_t half_max;
    int64_t op_offset;
  };
  void Unindex(const std::string& txn, const Entry& e);

  const size_t finished_capacity_;
  std::unordered_map<std::string, Entry> entries_;
  std::set<std::pair<int64_t, std::string>> by_half_max_;
  std::multiset<int64_t> op_offsets_;  // of entries whose op is written
  std::unordered_map<std::string, Resolution> finished_;
  std::deque<std::string> finished_order_;
};

}  // namespace mq::broker::txn
