// Evaluation of a compiled SqlExpression; each case follows the RocketMQ expression class
// named beside it (org.apache.rocketmq.filter.expression).
#include "common/filter/sql_expression.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

namespace mq::filter {
namespace {

using Kind = SqlExpression::Kind;
using Value = SqlExpression::Value;
using Op = SqlExpression::Op;

Value Null() { return {}; }
Value Error() {
  Value v;
  v.kind = Kind::kError;
  return v;
}
Value Bool(bool b) {
  Value v;
  v.kind = Kind::kBool;
  v.b = b;
  return v;
}

// Java Long.valueOf: optional sign, decimal digits, nothing else.
bool ParseJavaLong(std::string_view s, int64_t* out) {
  if (!s.empty() && s[0] == '+') {
    s.remove_prefix(1);
    if (s.empty() || s[0] == '-') return false;
  }
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

// Java Double.valueOf: trims characters <= ' ', optional sign, NaN, Infinity, decimal with an
// optional exponent and an optional f/F/d/D suffix (hexadecimal floats are not accepted).
bool ParseJavaDouble(std::string_view s, double* out) {
  while (!s.empty() && static_cast<unsigned char>(s.front()) <= ' ') s.remove_prefix(1);
  while (!s.empty() && static_cast<unsigned char>(s.back()) <= ' ') s.remove_suffix(1);
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "NaN") {
    *out = std::nan("");
    return true;
  }
  if (s == "Infinity") {
    *out = negative ? -HUGE_VAL : HUGE_VAL;
    return true;
  }
  if (!s.empty() && (s.back() == 'f' || s.back() == 'F' || s.back() == 'd' || s.back() == 'D')) {
    s.remove_suffix(1);
  }
  // from_chars would take "inf"/"nan" spellings and hex digits Java refuses.
  if (s.empty() || !(std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '.')) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.' && c != 'e' && c != 'E' && c != '+' &&
        c != '-') {
      return false;
    }
  }
  double d = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (end != s.data() + s.size()) return false;
  if (ec == std::errc::result_out_of_range) {
    d = std::fabs(d) < 1 ? 0.0 : HUGE_VAL;  // Java rounds to 0 or Infinity
  } else if (ec != std::errc()) {
    return false;
  }
  *out = negative ? -d : d;
  return true;
}

// Java Boolean.valueOf(String).
bool ParseJavaBool(std::string_view s) {
  if (s.size() != 4) return false;
  for (size_t i = 0; i < 4; ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != "true"[i]) return false;
  }
  return true;
}

// Java Double.compare: -0.0 < 0.0 and NaN is above everything and equal to itself.
int CompareDouble(double a, double b) {
  if (a < b) return -1;
  if (a > b) return 1;
  const bool an = std::isnan(a), bn = std::isnan(b);
  if (an || bn) return an == bn ? 0 : (an ? 1 : -1);
  if (a == 0 && b == 0) return std::signbit(a) == std::signbit(b) ? 0 : (std::signbit(a) ? -1 : 1);
  return 0;
}

template <typename T>
int Three(T a, T b) {
  return a < b ? -1 : (a > b ? 1 : 0);
}

constexpr int kIncomparable = -1;  // what RocketMQ's __compare answers for unrelated types
constexpr int kCompareError = 2;   // a string that does not convert

// ComparisonExpression.__compare with convertStringExpressions (always on in RocketMQ):
// numbers widen to double, a string converts to the other side's type.
int Compare(const Value& l, const Value& r) {
  if (l.kind == r.kind) {
    switch (l.kind) {
      case Kind::kBool:
        return Three<int>(l.b, r.b);
      case Kind::kLong:
        return Three(l.l, r.l);
      case Kind::kDouble:
        return CompareDouble(l.d, r.d);
      case Kind::kString: {
        const int c = l.s.compare(r.s);
        return c < 0 ? -1 : (c > 0 ? 1 : 0);
      }
      default:
        return kIncomparable;
    }
  }
  auto as_double = [](const Value& v) { return v.kind == Kind::kLong ? static_cast<double>(v.l) : v.d; };
  const bool l_num = l.kind == Kind::kLong || l.kind == Kind::kDouble;
  const bool r_num = r.kind == Kind::kLong || r.kind == Kind::kDouble;
  if (l_num && r_num) return CompareDouble(as_double(l), as_double(r));
  // One side is a string: convert it to the other side's type.
  const bool string_left = l.kind == Kind::kString;
  const Value& str = string_left ? l : r;
  const Value& other = string_left ? r : l;
  if (str.kind != Kind::kString) return kIncomparable;  // bool vs number
  int c = 0;
  switch (other.kind) {
    case Kind::kBool:
      c = Three<int>(ParseJavaBool(str.s), other.b);
      break;
    case Kind::kLong: {
      int64_t v = 0;
      if (!ParseJavaLong(str.s, &v)) return kCompareError;
      c = Three(v, other.l);
      break;
    }
    case Kind::kDouble: {
      double v = 0;
      if (!ParseJavaDouble(str.s, &v)) return kCompareError;
      c = CompareDouble(v, other.d);
      break;
    }
    default:
      return kIncomparable;
  }
  return string_left ? c : -c;
}

}  // namespace

SqlResult SqlExpression::Evaluate(const PropertyLookup& properties) const {
  if (root_ < 0) return SqlResult::kError;
  const Value v = Eval(root_, properties);
  switch (v.kind) {
    case Kind::kNull:
      return SqlResult::kNull;
    case Kind::kBool:
      return v.b ? SqlResult::kTrue : SqlResult::kFalse;
    default:
      return SqlResult::kError;
  }
}

SqlExpression::Value SqlExpression::Eval(int32_t index, const PropertyLookup& properties) const {
  const Node& n = nodes_[index];
  switch (n.op) {
    case Op::kConst: {  // ConstantExpression
      Value v;
      v.kind = n.const_kind;
      v.b = n.const_bool;
      v.l = n.const_long;
      v.d = n.const_double;
      v.s = n.text;
      return v;
    }
    case Op::kProperty: {  // PropertyExpression: every property is a string
      auto found = properties.Get(n.text);
      if (!found) return Null();
      Value v;
      v.kind = Kind::kString;
      v.s = *found;
      return v;
    }
    case Op::kNegate: {  // UnaryExpression.createNegate: numbers only, else NULL
      Value v = Eval(n.left, properties);
      if (v.kind == Kind::kLong) {
        v.l = static_cast<int64_t>(0 - static_cast<uint64_t>(v.l));  // Java wraps MIN_VALUE
        return v;
      }
      if (v.kind == Kind::kDouble) {
        v.d = -v.d;
        return v;
      }
      return v.kind == Kind::kError ? v : Null();
    }
    case Op::kBoolCast: {  // UnaryExpression.createBooleanCast
      Value v = Eval(n.left, properties);
      if (v.kind == Kind::kNull || v.kind == Kind::kError || v.kind == Kind::kBool) return v;
      return Bool(false);
    }
    case Op::kNot: {  // UnaryExpression.createNOT
      Value v = Eval(n.left, properties);
      if (v.kind == Kind::kBool) v.b = !v.b;
      return v;
    }
    case Op::kAnd: {  // LogicExpression.createAND: FALSE wins over NULL, left first
      Value l = Eval(n.left, properties);
      if (l.kind == Kind::kError || (l.kind == Kind::kBool && !l.b)) return l;
      Value r = Eval(n.right, properties);
      if (r.kind == Kind::kError || (r.kind == Kind::kBool && !r.b)) return r;
      if (l.kind != Kind::kBool || r.kind != Kind::kBool) return Null();
      return Bool(true);
    }
    case Op::kOr: {  // LogicExpression.createOR: TRUE wins over NULL, left first
      Value l = Eval(n.left, properties);
      if (l.kind == Kind::kError || (l.kind == Kind::kBool && l.b)) return l;
      Value r = Eval(n.right, properties);
      if (r.kind == Kind::kError || (r.kind == Kind::kBool && r.b)) return r;
      if (l.kind != Kind::kBool || r.kind != Kind::kBool) return Null();
      return Bool(false);
    }
    case Op::kEqual: {  // ComparisonExpression.doCreateEqual
      Value l = Eval(n.left, properties);
      Value r = Eval(n.right, properties);
      if (l.kind == Kind::kError) return l;
      if (r.kind == Kind::kError) return r;
      const bool ln = l.kind == Kind::kNull, rn = r.kind == Kind::kNull;
      if (ln && rn) return Bool(true);
      if (ln) return Null();
      if (rn) return Bool(false);
      const int c = Compare(l, r);
      if (c == kCompareError) return Error();
      return Bool(c == 0);
    }
    case Op::kGreater:
    case Op::kGreaterEqual:
    case Op::kLess:
    case Op::kLessEqual: {  // ComparisonExpression.evaluate
      Value l = Eval(n.left, properties);
      if (l.kind == Kind::kNull || l.kind == Kind::kError) return l;
      Value r = Eval(n.right, properties);
      if (r.kind == Kind::kNull || r.kind == Kind::kError) return r;
      int c = 0;
      if (l.kind == Kind::kString && r.kind == Kind::kString) {
        double a = 0, b = 0;  // two strings compare as numbers, else it is an error
        if (!ParseJavaDouble(l.s, &a) || !ParseJavaDouble(r.s, &b)) return Error();
        c = CompareDouble(a, b);
      } else {
        c = Compare(l, r);
        if (c == kCompareError) return Error();
      }
      switch (n.op) {
        case Op::kGreater:
          return Bool(c > 0);
        case Op::kGreaterEqual:
          return Bool(c >= 0);
        case Op::kLess:
          return Bool(c < 0);
        default:
          return Bool(c <= 0);
      }
    }
    case Op::kIn: {  // UnaryExpression.createInExpression
      Value v = Eval(n.left, properties);
      if (v.kind != Kind::kString) return v.kind == Kind::kError ? v : Null();
      const bool found = std::binary_search(n.list.begin(), n.list.end(), v.s,
                                            [](std::string_view a, std::string_view b) { return a < b; });
      return Bool(found != n.negated);
    }
    case Op::kContains:
    case Op::kStartsWith:
    case Op::kEndsWith: {  // ComparisonExpression.ContainsExpression and kin
      if (n.text.empty()) return Bool(false);
      Value v = Eval(n.left, properties);
      if (v.kind == Kind::kError) return v;
      if (v.kind != Kind::kString) return Bool(false);
      bool hit = false;
      if (n.op == Op::kContains) {
        hit = v.s.find(n.text) != std::string_view::npos;
      } else if (n.op == Op::kStartsWith) {
        hit = v.s.substr(0, n.text.size()) == n.text;
      } else {
        hit = v.s.size() >= n.text.size() && v.s.substr(v.s.size() - n.text.size()) == n.text;
      }
      return Bool(hit != n.negated);
    }
  }
  return Error();
}

}  // namespace mq::filter
