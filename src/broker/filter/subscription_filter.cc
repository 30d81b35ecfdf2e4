#include "broker/filter/subscription_filter.h"

#include <fmt/format.h>

#include "broker/store/message_format.h"
#include "common/tag_expression.h"

namespace mq::broker {

std::optional<std::string_view> RawPropertiesLookup::Get(std::string_view name) const {
  if (name == store::kPropertyCrc) return std::nullopt;
  std::string_view rest = raw_;
  while (!rest.empty()) {
    const size_t end = rest.find(store::kPropertySeparator);
    std::string_view pair = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    const size_t sep = pair.find(store::kNameValueSeparator);
    if (sep != std::string_view::npos && pair.substr(0, sep) == name) return pair.substr(sep + 1);
  }
  return std::nullopt;
}

Result<SubscriptionFilter> MakeSubscriptionFilter(std::string_view type, std::string_view expression,
                                                  bool enable_property_filter, SqlFilterCache* cache,
                                                  std::string_view broker_name) {
  SubscriptionFilter f;
  if (type.empty() || type == filter::kExpressionTypeTag) {
    MQ_ASSIGN_OR_RETURN(auto tags, ParseTagExpression(expression));
    f.tags = store::MakeTagFilter(tags);
    return f;
  }
  if (type != filter::kExpressionTypeSql92) {
    return Status::InvalidArgument(fmt::format("expression_type: '{}' is neither {} nor {}", type,
                                               filter::kExpressionTypeTag, filter::kExpressionTypeSql92));
  }
  if (!enable_property_filter) {
    return Status::FailedPrecondition(fmt::format(
        "broker {} does not support filtering messages by SQL92 (enablePropertyFilter=false)", broker_name));
  }
  MQ_ASSIGN_OR_RETURN(auto compiled, cache->Get(expression));
  f.properties = [compiled = std::move(compiled)](std::string_view properties) {
    return compiled->Matches(RawPropertiesLookup(properties));
  };
  return f;
}

}  // namespace mq::broker
