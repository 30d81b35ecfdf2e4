#include "broker/fast/unsent_replies.h"

#include <algorithm>
#include <utility>

namespace mq::broker {

frame::WriteOutcome UnsentReplies::WriteOrQueue(int fd, std::span<const std::string_view> pieces,
                                                ByteBudget::Lease* reply_lease) {
  const size_t before = bytes_.size();
  const frame::WriteOutcome outcome = frame::WriteOrQueue(fd, pieces, &bytes_);
  if (outcome != frame::WriteOutcome::kQueued) return outcome;
  const uint64_t end = begin_ + bytes_.size();
  if (reply_lease != nullptr && reply_lease->bytes() > 0) {
    leased_.push_back({end - (bytes_.size() - before), end, std::move(*reply_lease)});
  }
  Changed();
  return outcome;
}

frame::WriteOutcome UnsentReplies::Drain(int fd) {
  const size_t before = bytes_.size();
  const frame::WriteOutcome outcome = frame::Drain(fd, &bytes_);
  begin_ += before - bytes_.size();
  while (!leased_.empty() && leased_.front().end <= begin_) leased_.pop_front();
  Changed();
  return outcome;
}

void UnsentReplies::Clear() {
  begin_ += bytes_.size();
  bytes_.clear();
  leased_.clear();
  Changed();
}

void UnsentReplies::Changed() {
  uint64_t leased = 0;
  for (const auto& r : leased_) leased += r.end - std::max(r.begin, begin_);
  send_lease_.Resize(static_cast<int64_t>(bytes_.size() - leased));
  size_.store(bytes_.size(), std::memory_order_relaxed);
}

}  // namespace mq::broker
