// MessageSelector: what a consumer subscribes to in a topic (RocketMQ's MessageSelector).
// ByTag("TagA || TagB") (or "*") filters by tag; BySql("a > 5 AND TAGS IN ('x')") is an SQL92
// expression over message properties that the broker evaluates, so only matching messages are
// sent; the broker must run with enablePropertyFilter=true. Plain value type.
#pragma once
#include <string>
#include <utility>

namespace mq::client {

enum class ExpressionType { kTag, kSql92 };

class MessageSelector {
 public:
  static MessageSelector ByTag(std::string expression) {
    return {ExpressionType::kTag, std::move(expression)};
  }
  static MessageSelector BySql(std::string expression) {
    return {ExpressionType::kSql92, std::move(expression)};
  }
  ExpressionType type() const { return type_; }
  const std::string& expression() const { return expression_; }

 private:
  MessageSelector(ExpressionType type, std::string expression)
      : type_(type), expression_(std::move(expression)) {}
  ExpressionType type_;
  std::string expression_;
};

}  // namespace mq::client
