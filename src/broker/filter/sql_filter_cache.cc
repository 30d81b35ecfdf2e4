#include "broker/filter/sql_filter_cache.h"

namespace mq::broker {

Result<std::shared_ptr<const filter::SqlExpression>> SqlFilterCache::Get(std::string_view expression) {
  {
    std::lock_guard lock(mu_);
    if (auto it = map_.find(expression); it != map_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      return it->second->second;
    }
  }
  // Compiled outside the lock: a long expression must not stall other pulls.
  MQ_ASSIGN_OR_RETURN(auto compiled, filter::SqlExpression::Parse(expression));
  auto shared = std::make_shared<const filter::SqlExpression>(std::move(compiled));
  std::lock_guard lock(mu_);
  if (auto it = map_.find(expression); it != map_.end()) return it->second->second;  // raced
  lru_.emplace_front(std::string(expression), shared);
  map_.emplace(lru_.front().first, lru_.begin());
  while (lru_.size() > capacity_) {
    map_.erase(lru_.back().first);
    lru_.pop_back();
  }
  return shared;
}

size_t SqlFilterCache::size() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

}  // namespace mq::broker
