// The broker side of subscription filtering: turns a subscription's (expression type,
// expression) into the predicates the store applies while reading a queue. TAG expressions
// filter consume-queue tag hash codes; SQL92 expressions are evaluated on each record's
// properties (store::PropertyFilter), so a non-matching message is skipped in the store and
// never travels. Pure functions plus the shared SqlFilterCache; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "broker/filter/sql_filter_cache.h"
#include "broker/store/message_store.h"
#include "common/filter/sql_expression.h"
#include "common/result.h"

namespace mq::broker {

struct SubscriptionFilter {
  store::MessageFilter tags;         // empty: every tag
  store::PropertyFilter properties;  // empty: no property filter
};

// `type` is "TAG" (also when empty) or "SQL92". SQL92 needs enable_property_filter (else
// FailedPrecondition, as RocketMQ refuses it); a syntax error is InvalidArgument with the
// position; an unknown type is InvalidArgument.
Result<SubscriptionFilter> MakeSubscriptionFilter(std::string_view type, std::string_view expression,
                                                  bool enable_property_filter, SqlFilterCache* cache,
                                                  std::string_view broker_name);

// Properties of a stored record ("key\x01value\x02..."), as the SQL evaluator reads them.
// The store's CRC trailer property is not visible.
class RawPropertiesLookup : public filter::PropertyLookup {
 public:
  explicit RawPropertiesLookup(std::string_view raw) : raw_(raw) {}
  std::optional<std::string_view> Get(std::string_view name) const override;

 private:
  std::string_view raw_;
};

}  // namespace mq::broker
