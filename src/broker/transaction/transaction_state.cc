#include "broker/transaction/transaction_state.h"

namespace mq::broker::txn {

std::optional<Resolution> TransactionStateTable::Find(const std::string& txn) const {
  if (auto it = entries_.find(txn); it != entries_.end()) return it->second.resolution;
  if (auto it = finished_.find(txn); it != finished_.end()) return it->second;
  return std::nullopt;
}

bool TransactionStateTable::Add(const std::string& txn, Resolution resolution, int64_t half_max,
                                int64_t op_offset) {
  if (Find(txn).has_value()) return false;
  entries_.emplace(txn, Entry{resolution, half_max, op_offset});
  by_half_max_.emplace(half_max, txn);
  if (op_offset >= 0) op_offsets_.insert(op_offset);
  return true;
}

void TransactionStateTable::SetOpOffset(const std::string& txn, int64_t op_offset) {
  auto it = entries_.find(txn);
  if (it == entries_.end() || it->second.op_offset >= 0) return;
  it->second.op_offset = op_offset;
  op_offsets_.insert(op_offset);
}

void TransactionStateTable::Unindex(const std::string& txn, const Entry& e) {
  by_half_max_.erase({e.half_max, txn});
  if (e.op_offset >= 0) {
    if (auto it = op_offsets_.find(e.op_offset); it != op_offsets_.end()) op_offsets_.erase(it);
  }
}

void TransactionStateTable::Remove(const std::string& txn) {
  auto it = entries_.find(txn);
  if (it == entries_.end()) return;
  Unindex(txn, it->second);
  entries_.erase(it);
}

void TransactionStateTable::ExtendHalfMax(const std::string& txn, int64_t copy_offset) {
  auto it = entries_.find(txn);
  if (it == entries_.end() || it->second.half_max > copy_offset) return;
  by_half_max_.erase({it->second.half_max, txn});
  it->second.half_max = copy_offset + 1;
  by_half_max_.emplace(it->second.half_max, txn);
}

void TransactionStateTable::DropPassed(int64_t half_progress) {
  while (!by_half_max_.empty() && by_half_max_.begin()->first <= half_progress) {
    std::string txn = by_half_max_.begin()->second;
    auto it = entries_.find(txn);
    Resolution r = it->second.resolution;
    Unindex(txn, it->second);
    entries_.erase(it);
    AddFinished(txn, r);
  }
}

void TransactionStateTable::AddFinished(const std::string& txn, Resolution resolution) {
  if (entries_.count(txn) > 0 || !finished_.emplace(txn, resolution).second) return;
  finished_order_.push_back(txn);
  while (finished_order_.size() > finished_capacity_) {
    finished_.erase(finished_order_.front());
    finished_order_.pop_front();
  }
}

int64_t TransactionStateTable::MinOpOffset(int64_t fallback) const {
  return op_offsets_.empty() ? fallback : std::min(fallback, *op_offsets_.begin());
}

}  // namespace mq::broker::txn
