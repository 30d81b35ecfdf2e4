// SqlExpression: one compiled SQL92 property filter (RocketMQ's MessageSelector.bySql), shared
// by the broker (which evaluates it on every stored record it reads for an SQL92 subscription)
// and the client (which validates a selector before subscribing).
//
// Grammar (RocketMQ SelectorParser.jj, from ActiveMQ), loosest first:
//   or      := and (OR and)*
//   and     := eq (AND eq)*
//   eq      := cmp ('=' cmp | '<>' cmp | IS NULL | IS NOT NULL)*
//   cmp     := unary ( ('>'|'>='|'<'|'<=') unary | [NOT] BETWEEN unary AND unary
//                    | [NOT] IN '(' 'str' (',' 'str')* ')'
//                    | [NOT] (CONTAINS|STARTSWITH|ENDSWITH) 'str' )*
//   unary   := '+' unary | '-' unary | NOT unary | primary
//   primary := 'string' | 123 | 1.5 | TRUE | FALSE | NULL | property | '(' or ')'
// so NOT binds tighter than '=': write NOT (a = 1), not NOT a = 1 (which RocketMQ reads as
// (NOT a) = 1).
//
// Semantics (RocketMQ's expression classes): property values are strings; a comparison
// between a string and a number converts the string (Long/Double.valueOf rules); '<' etc.
// between two strings compares them as doubles; a bare property is a boolean that is never
// TRUE (values are strings). NULL is three-valued logic: a missing property makes '=', '<>',
// '<', BETWEEN, IN NULL, and NULL propagates through NOT/AND/OR as in SQL; CONTAINS and its
// kin are FALSE on a missing property. An evaluation error (a number that does not parse)
// aborts the whole evaluation. A message matches only when the result is TRUE.
//
// Compile once (Parse), evaluate many times: Evaluate() does not allocate and is
// thread-safe on a const expression.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace mq::filter {

// The two subscription expression types, spelled as RocketMQ's ExpressionType.
inline constexpr std::string_view kExpressionTypeTag = "TAG";
inline constexpr std::string_view kExpressionTypeSql92 = "SQL92";
// Longest accepted expression and deepest accepted nesting (bounds evaluation recursion).
inline constexpr size_t kMaxSqlLength = 16 * 1024;
inline constexpr int kMaxSqlDepth = 128;

// Where Evaluate() reads message properties from; returns nullopt for a missing property.
class PropertyLookup {
 public:
  virtual ~PropertyLookup() = default;
  virtual std::optional<std::string_view> Get(std::string_view name) const = 0;
};

// Outcome of one evaluation.
enum class SqlResult { kTrue, kFalse, kNull, kError };

class SqlExpression {
 public:
  // Compiles `text`; InvalidArgument naming line, column and offset of a syntax error and
  // what was expected there, or why an operand is refused (RocketMQ's checks: '<' needs
  // numbers, '=' refuses NULL, IN needs a property, BETWEEN needs low <= high, ...).
  static Result<SqlExpression> Parse(std::string_view text);

  SqlResult Evaluate(const PropertyLookup& properties) const;
  bool Matches(const PropertyLookup& properties) const { return Evaluate(properties) == SqlResult::kTrue; }
  const std::string& text() const { return text_; }

  // Internal representation, built by the parser (sql_parser.cc).
  enum class Op : uint8_t {
    kConst,
    kProperty,
    kNegate,
    kBoolCast,
    kNot,
    kAnd,
    kOr,
    kEqual,
    kGreater,
    kGreaterEqual,
    kLess,
    kLessEqual,
    kIn,
    kContains,
    kStartsWith,
    kEndsWith,
  };
  enum class Kind : uint8_t { kNull, kBool, kLong, kDouble, kString, kError };
  struct Value {
    Kind kind = Kind::kNull;
    bool b = false;
    int64_t l = 0;
    double d = 0;
    std::string_view s;
  };
  struct Node {
    Op op = Op::kConst;
    bool negated = false;  // NOT IN / NOT CONTAINS / NOT STARTSWITH / NOT ENDSWITH
    int32_t left = -1;     // child node indices
    int32_t right = -1;
    Kind const_kind = Kind::kNull;  // kConst
    bool const_bool = false;
    int64_t const_long = 0;
    double const_double = 0;
    std::string text;               // kConst string, property name, or the search string
    std::vector<std::string> list;  // kIn, sorted
  };

 private:
  friend class SqlParser;
  Value Eval(int32_t index, const PropertyLookup& properties) const;

  std::string text_;
  std::vector<Node> nodes_;
  int32_t root_ = -1;
};

}  // namespace mq::filter
