// Recursive-descent compiler of SqlExpression (grammar and checks: sql_expression.h).
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>

#include "common/filter/sql_expression.h"
#include "common/filter/sql_lexer.h"

namespace mq::filter {

using Op = SqlExpression::Op;
using Kind = SqlExpression::Kind;
using Node = SqlExpression::Node;

class SqlParser {
 public:
  SqlParser(std::string_view text, std::vector<Token> tokens) : text_(text), tokens_(std::move(tokens)) {}

  Result<SqlExpression> Run() {
    MQ_ASSIGN_OR_RETURN(int32_t root, ParseOr());
    if (Peek().kind != TokenKind::kEnd) {
      return Expected("AND, OR, a comparison operator or the end of the expression");
    }
    MQ_ASSIGN_OR_RETURN(root, AsBoolean(root, tokens_.front()));
    SqlExpression e;
    e.text_ = std::string(text_);
    e.nodes_ = std::move(nodes_);
    e.root_ = root;
    return e;
  }

 private:
  const Token& Peek(size_t ahead = 0) const { return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)]; }
  const Token& Next() { return tokens_[std::min(pos_++, tokens_.size() - 1)]; }
  bool Accept(TokenKind kind) {
    if (Peek().kind != kind) return false;
    ++pos_;
    return true;
  }

  std::string Where(const Token& t) const {
    return fmt::format("{} (offset {})", DescribePosition(text_, t.offset), t.offset);
  }
  static std::string Describe(const Token& t) {
    if (t.kind == TokenKind::kEnd) return "the end of the expression";
    std::string_view shown = t.text.substr(0, 32);
    return fmt::format("'{}'{}", shown, shown.size() < t.text.size() ? "..." : "");
  }
  Status Expected(std::string_view what) const {
    const Token& t = Peek();
    return Status::InvalidArgument(fmt::format("SQL92 expression: syntax error at {}: expected {}, found {}",
                                               Where(t), what, Describe(t)));
  }
  Status Refused(const Token& at, std::string_view why) const {
    return Status::InvalidArgument(fmt::format("SQL92 expression: at {}: {}", Where(at), why));
  }

  // --- node construction -----------------------------------------------------------------
  Result<int32_t> Add(Node node, const Token& at) {
    int depth = 1;
    if (node.left >= 0) depth = std::max(depth, depth_[node.left] + 1);
    if (node.right >= 0) depth = std::max(depth, depth_[node.right] + 1);
    if (depth > kMaxSqlDepth) {
      return Refused(at, fmt::format("the expression nests deeper than {} operators", kMaxSqlDepth));
    }
    nodes_.push_back(std::move(node));
    depth_.push_back(depth);
    return static_cast<int32_t>(nodes_.size() - 1);
  }
  Result<int32_t> Binary(Op op, int32_t left, int32_t right, const Token& at) {
    Node n;
    n.op = op;
    n.left = left;
    n.right = right;
    return Add(std::move(n), at);
  }
  Result<int32_t> Unary(Op op, int32_t child, const Token& at) { return Binary(op, child, -1, at); }
  Result<int32_t> Constant(Kind kind, const Token& at) {
    Node n;
    n.const_kind = kind;
    return Add(std::move(n), at);
  }

  const Node& N(int32_t i) const { return nodes_[i]; }
  bool IsConst(int32_t i) const { return N(i).op == Op::kConst; }
  bool IsBooleanExpression(int32_t i) const {
    const Node& n = N(i);
    if (n.op == Op::kConst) return n.const_kind == Kind::kBool || n.const_kind == Kind::kNull;
    return n.op != Op::kProperty && n.op != Op::kNegate;
  }
  std::string Show(int32_t i) const {
    const Node& n = N(i);
    switch (n.op) {
      case Op::kProperty:
        return n.text;
      case Op::kConst:
        switch (n.const_kind) {
          case Kind::kNull:
            return "NULL";
          case Kind::kBool:
            return n.const_bool ? "TRUE" : "FALSE";
          case Kind::kLong:
            return std::to_string(n.const_long);
          case Kind::kDouble:
            return fmt::format("{}", n.const_double);
          default:
            return fmt::format("'{}'", n.text);
        }
      default:
        return "a condition";
    }
  }

  // RocketMQ's asBooleanExpression: conditions pass, a property becomes a boolean cast.
  Result<int32_t> AsBoolean(int32_t i, const Token& at) {
    if (IsBooleanExpression(i)) return i;
    if (N(i).op == Op::kProperty) return Unary(Op::kBoolCast, i, at);
    return Refused(at, fmt::format("{} is not a condition (it will not result in a boolean value)", Show(i)));
  }
  // checkLessThanOperand: numbers, properties and negations only.
  Status CheckOrdered(int32_t i, const Token& op) const {
    if ((IsConst(i) && N(i).const_kind != Kind::kLong && N(i).const_kind != Kind::kDouble) ||
        (!IsConst(i) && IsBooleanExpression(i))) {
      return Refused(op, fmt::format("{} cannot be compared by {}: it needs numbers or properties", Show(i),
                                     Describe(op)));
    }
    return Status::OK();
  }
  // checkEqualOperand + checkEqualOperandCompatability.
  Status CheckEqual(int32_t l, int32_t r, const Token& op) const {
    for (int32_t i : {l, r}) {
      if (IsConst(i) && N(i).const_kind == Kind::kNull) {
        return Refused(op, "NULL cannot be compared with = or <>: use IS NULL or IS NOT NULL");
      }
    }
    if (IsConst(l) && IsConst(r) && IsBooleanExpression(l) && !IsBooleanExpression(r)) {
      return Refused(op, fmt::format("{} cannot be compared with {}", Show(l), Show(r)));
    }
    return Status::OK();
  }
  Result<int32_t> Ordered(Op op, int32_t l, int32_t r, const Token& at) {
    MQ_RETURN_IF_ERROR(CheckOrdered(l, at));
    MQ_RETURN_IF_ERROR(CheckOrdered(r, at));
    return Binary(op, l, r, at);
  }

  // --- grammar -----------------------------------------------------------------------------
  Result<int32_t> ParseOr() {
    MQ_ASSIGN_OR_RETURN(int32_t left, ParseAnd());
    while (Peek().kind == TokenKind::kOr) {
      const Token& op = Next();
      MQ_ASSIGN_OR_RETURN(int32_t right, ParseAnd());
      MQ_ASSIGN_OR_RETURN(left, AsBoolean(left, op));
      MQ_ASSIGN_OR_RETURN(right, AsBoolean(right, op));
      MQ_ASSIGN_OR_RETURN(left, Binary(Op::kOr, left, right, op));
    }
    return left;
  }

  Result<int32_t> ParseAnd() {
    MQ_ASSIGN_OR_RETURN(int32_t left, ParseEquality());
    while (Peek().kind == TokenKind::kAnd) {
      const Token& op = Next();
      MQ_ASSIGN_OR_RETURN(int32_t right, ParseEquality());
      MQ_ASSIGN_OR_RETURN(left, AsBoolean(left, op));
      MQ_ASSIGN_OR_RETURN(right, AsBoolean(right, op));
      MQ_ASSIGN_OR_RETURN(left, Binary(Op::kAnd, left, right, op));
    }
    return left;
  }

  Result<int32_t> ParseEquality() {
    MQ_ASSIGN_OR_RETURN(int32_t left, ParseComparison());
    while (true) {
      const Token& op = Peek();
      if (op.kind == TokenKind::kEq || op.kind == TokenKind::kNe) {
        Next();
        MQ_ASSIGN_OR_RETURN(int32_t right, ParseComparison());
        MQ_RETURN_IF_ERROR(CheckEqual(left, right, op));
        MQ_ASSIGN_OR_RETURN(left, Binary(Op::kEqual, left, right, op));
        if (op.kind == TokenKind::kNe) {
          MQ_ASSIGN_OR_RETURN(left, Unary(Op::kNot, left, op));
        }
      } else if (op.kind == TokenKind::kIs) {
        Next();
        const bool negated = Accept(TokenKind::kNot);
        if (!Accept(TokenKind::kNull)) return Expected(negated ? "NULL" : "NULL or NOT NULL");
        MQ_ASSIGN_OR_RETURN(int32_t null_const, Constant(Kind::kNull, op));
        MQ_ASSIGN_OR_RETURN(left, Binary(Op::kEqual, left, null_const, op));
        if (negated) {
          MQ_ASSIGN_OR_RETURN(left, Unary(Op::kNot, left, op));
        }
      } else {
        return left;
      }
    }
  }

  Result<int32_t> ParseComparison() {
    MQ_ASSIGN_OR_RETURN(int32_t left, ParseUnary());
    while (true) {
      const Token& op = Peek();
      Op relational = Op::kConst;
      switch (op.kind) {
        case TokenKind::kGt:
          relational = Op::kGreater;
          break;
        case TokenKind::kGe:
          relational = Op::kGreaterEqual;
          break;
        case TokenKind::kLt:
          relational = Op::kLess;
          break;
        case TokenKind::kLe:
          relational = Op::kLessEqual;
          break;
        default:
          break;
      }
      if (relational != Op::kConst) {
        Next();
        MQ_ASSIGN_OR_RETURN(int32_t right, ParseUnary());
        MQ_ASSIGN_OR_RETURN(left, Ordered(relational, left, right, op));
        continue;
      }
      bool negated = false;
      if (op.kind == TokenKind::kNot) {
        const TokenKind k = Peek(1).kind;
        if (k != TokenKind::kBetween && k != TokenKind::kIn && k != TokenKind::kContains &&
            k != TokenKind::kStartsWith && k != TokenKind::kEndsWith) {
          ++pos_;
          return Expected("BETWEEN, IN, CONTAINS, STARTSWITH or ENDSWITH after NOT");
        }
        Next();
        negated = true;
      }
      const Token& keyword = Peek();
      switch (keyword.kind) {
        case TokenKind::kBetween: {
          Next();
          MQ_ASSIGN_OR_RETURN(int32_t low, ParseUnary());
          if (!Accept(TokenKind::kAnd)) return Expected("AND of BETWEEN ... AND ...");
          MQ_ASSIGN_OR_RETURN(int32_t high, ParseUnary());
          MQ_ASSIGN_OR_RETURN(left, Between(left, low, high, negated, keyword));
          break;
        }
        case TokenKind::kIn: {
          Next();
          MQ_ASSIGN_OR_RETURN(left, In(left, negated, keyword));
          break;
        }
        case TokenKind::kContains:
        case TokenKind::kStartsWith:
        case TokenKind::kEndsWith: {
          Next();
          if (Peek().kind != TokenKind::kString) return Expected("a 'string' literal");
          Node n;
          n.op = keyword.kind == TokenKind::kContains     ? Op::kContains
                 : keyword.kind == TokenKind::kStartsWith ? Op::kStartsWith
                                                          : Op::kEndsWith;
          n.negated = negated;
          n.left = left;
          n.text = Next().value;
          MQ_ASSIGN_OR_RETURN(left, Add(std::move(n), keyword));
          break;
        }
        default:
          return left;
      }
    }
  }

  Result<int32_t> Between(int32_t value, int32_t low, int32_t high, bool negated, const Token& at) {
    if (negated) {
      MQ_ASSIGN_OR_RETURN(int32_t below, Ordered(Op::kLess, value, low, at));
      MQ_ASSIGN_OR_RETURN(int32_t above, Ordered(Op::kGreater, value, high, at));
      return Binary(Op::kOr, below, above, at);
    }
    if (IsConst(low) && IsConst(high)) {
      if (N(low).const_kind == Kind::kNull || N(high).const_kind == Kind::kNull) {
        return Refused(at, "BETWEEN bounds cannot be NULL");
      }
      const Node &l = N(low), &h = N(high);
      const bool numbers = (l.const_kind == Kind::kLong || l.const_kind == Kind::kDouble) &&
                           (h.const_kind == Kind::kLong || h.const_kind == Kind::kDouble);
      if (numbers) {
        const bool reversed =
            l.const_kind == Kind::kLong && h.const_kind == Kind::kLong
                ? l.const_long > h.const_long
                : (l.const_kind == Kind::kLong ? static_cast<double>(l.const_long) : l.const_double) >
                      (h.const_kind == Kind::kLong ? static_cast<double>(h.const_long) : h.const_double);
        if (reversed) {
          return Refused(at, fmt::format("BETWEEN {} AND {}: the low bound must not exceed the high bound",
                                         Show(low), Show(high)));
        }
      }
    }
    MQ_ASSIGN_OR_RETURN(int32_t from, Ordered(Op::kGreaterEqual, value, low, at));
    MQ_ASSIGN_OR_RETURN(int32_t to, Ordered(Op::kLessEqual, value, high, at));
    return Binary(Op::kAnd, from, to, at);
  }

  Result<int32_t> In(int32_t left, bool negated, const Token& at) {
    if (N(left).op != Op::kProperty) {
      return Refused(at, fmt::format("IN needs a property on its left, not {}", Show(left)));
    }
    if (!Accept(TokenKind::kLParen)) return Expected("'(' after IN");
    Node n;
    n.op = Op::kIn;
    n.negated = negated;
    n.left = left;
    do {
      if (Peek().kind != TokenKind::kString) return Expected("a 'string' literal in the IN list");
      n.list.push_back(Next().value);
    } while (Accept(TokenKind::kComma));
    if (!Accept(TokenKind::kRParen)) return Expected("',' or ')' in the IN list");
    std::sort(n.list.begin(), n.list.end());
    return Add(std::move(n), at);
  }

  Result<int32_t> ParseUnary() {
    if (++nesting_ > kMaxSqlDepth) {
      return Refused(Peek(), fmt::format("the expression nests deeper than {} levels", kMaxSqlDepth));
    }
    Result<int32_t> r = ParseUnaryInner();
    --nesting_;
    return r;
  }

  Result<int32_t> ParseUnaryInner() {
    const Token& t = Peek();
    if (Accept(TokenKind::kPlus)) return ParseUnary();
    if (Accept(TokenKind::kMinus)) {
      MQ_ASSIGN_OR_RETURN(int32_t operand, ParseUnary());
      return Unary(Op::kNegate, operand, t);
    }
    if (Accept(TokenKind::kNot)) {
      MQ_ASSIGN_OR_RETURN(int32_t operand, ParseUnary());
      MQ_ASSIGN_OR_RETURN(operand, AsBoolean(operand, t));
      return Unary(Op::kNot, operand, t);
    }
    return ParsePrimary();
  }

  Result<int32_t> ParsePrimary() {
    const Token& t = Peek();
    Node n;
    switch (t.kind) {
      case TokenKind::kLParen: {
        Next();
        MQ_ASSIGN_OR_RETURN(int32_t inner, ParseOr());
        if (!Accept(TokenKind::kRParen)) return Expected("')'");
        return inner;
      }
      case TokenKind::kIdentifier:
        n.op = Op::kProperty;
        n.text = std::string(t.text);
        break;
      case TokenKind::kString:
        n.const_kind = Kind::kString;
        n.text = t.value;
        break;
      case TokenKind::kTrue:
      case TokenKind::kFalse:
        n.const_kind = Kind::kBool;
        n.const_bool = t.kind == TokenKind::kTrue;
        break;
      case TokenKind::kNull:
        n.const_kind = Kind::kNull;
        break;
      case TokenKind::kDecimal: {
        std::string_view digits = t.text;
        if (digits.back() == 'l' || digits.back() == 'L') digits.remove_suffix(1);
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n.const_long);
        if (ec != std::errc() || end != digits.data() + digits.size()) {
          return Refused(t, fmt::format("{} is outside the 64-bit integer range", Describe(t)));
        }
        n.const_kind = Kind::kLong;
        break;
      }
      case TokenKind::kFloat: {
        const std::string literal(t.text);
        char* end = nullptr;
        n.const_double = std::strtod(literal.c_str(), &end);
        if (!std::isfinite(n.const_double)) {
          return Refused(t, fmt::format("{} is outside the double range", Describe(t)));
        }
        n.const_kind = Kind::kDouble;
        break;
      }
      default:
        return Expected("a property, a literal, '(', NOT, '+' or '-'");
    }
    Next();
    return Add(std::move(n), t);
  }

  std::string_view text_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int nesting_ = 0;
  std::vector<Node> nodes_;
  std::vector<int> depth_;  // per node: height of its subtree
};

Result<SqlExpression> SqlExpression::Parse(std::string_view text) {
  if (text.size() > kMaxSqlLength) {
    return Status::InvalidArgument(
        fmt::format("SQL92 expression: {} bytes exceed the limit of {}", text.size(), kMaxSqlLength));
  }
  MQ_ASSIGN_OR_RETURN(auto tokens, Tokenize(text));
  if (tokens.front().kind == TokenKind::kEnd) {
    return Status::InvalidArgument("SQL92 expression: empty (write TRUE to accept every message)");
  }
  return SqlParser(text, std::move(tokens)).Run();
}

}  // namespace mq::filter
