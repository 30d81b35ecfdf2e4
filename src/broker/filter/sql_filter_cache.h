// SqlFilterCache: compiled SQL92 expressions by text, so a subscription is parsed once and not
// on every pull (RocketMQ's SelectorParser PARSE_CACHE). Holds at most `capacity` entries and
// drops the least recently used; a syntax error is not cached (the error is cheap to rebuild
// and must not evict good entries). Thread-safe: one mutex guards the map and the LRU list;
// callers evaluate the returned expression outside it.
#pragma once

#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "common/filter/sql_expression.h"
#include "common/result.h"

namespace mq::broker {

class SqlFilterCache {
 public:
  explicit SqlFilterCache(size_t capacity = 1024) : capacity_(capacity) {}
  SqlFilterCache(const SqlFilterCache&) = delete;
  SqlFilterCache& operator=(const SqlFilterCache&) = delete;

  // The compiled `expression`, or the InvalidArgument that names the syntax error.
  Result<std::shared_ptr<const filter::SqlExpression>> Get(std::string_view expression);
  size_t size() const;

 private:
  using Lru = std::list<std::pair<std::string, std::shared_ptr<const filter::SqlExpression>>>;
  const size_t capacity_;
  mutable std::mutex mu_;
  Lru lru_;                                                  // GUARDED_BY(mu_), most recent first
  std::unordered_map<std::string_view, Lru::iterator> map_;  // GUARDED_BY(mu_), keys view lru_
};

}  // namespace mq::broker
