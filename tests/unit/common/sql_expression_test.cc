#include "common/filter/sql_expression.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace mq::filter {
namespace {

class MapLookup : public PropertyLookup {
 public:
  MapLookup(std::initializer_list<std::pair<const std::string, std::string>> init) : map_(init) {}
  std::optional<std::string_view> Get(std::string_view name) const override {
    auto it = map_.find(std::string(name));
    if (it == map_.end()) return std::nullopt;
    return std::string_view(it->second);
  }

 private:
  std::map<std::string, std::string> map_;
};

SqlResult Eval(std::string_view sql, const MapLookup& props) {
  auto e = SqlExpression::Parse(sql);
  EXPECT_TRUE(e.ok()) << sql << ": " << e.status().ToString();
  if (!e.ok()) return SqlResult::kError;
  return e->Evaluate(props);
}
bool Match(std::string_view sql, const MapLookup& props) { return Eval(sql, props) == SqlResult::kTrue; }
std::string ParseError(std::string_view sql) {
  auto e = SqlExpression::Parse(sql);
  EXPECT_FALSE(e.ok()) << sql << " parsed";
  if (e.ok()) return "";
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
  return e.status().message();
}

const MapLookup kProps = {{"a", "10"},   {"b", "2.5"},     {"s", "hello"}, {"TAGS", "TagA"},
                          {"neg", "-3"}, {"flag", "true"}, {"e", ""},      {"big", "9223372036854775807"}};

TEST(SqlExpressionTest, ComparisonOperators) {
  EXPECT_TRUE(Match("a = 10", kProps));
  EXPECT_FALSE(Match("a = 11", kProps));
  EXPECT_TRUE(Match("a <> 11", kProps));
  EXPECT_FALSE(Match("a <> 10", kProps));
  EXPECT_TRUE(Match("a > 9", kProps));
  EXPECT_FALSE(Match("a > 10", kProps));
  EXPECT_TRUE(Match("a >= 10", kProps));
  EXPECT_TRUE(Match("a < 11", kProps));
  EXPECT_FALSE(Match("a < 10", kProps));
  EXPECT_TRUE(Match("a <= 10", kProps));
  EXPECT_TRUE(Match("9 < a", kProps));
  EXPECT_TRUE(Match("neg < 0", kProps));
  EXPECT_TRUE(Match("neg = -3", kProps));
  EXPECT_TRUE(Match("big = 9223372036854775807", kProps));
}

TEST(SqlExpressionTest, NumericTypeConversion) {
  // Property strings convert to the literal's type; integers widen to double.
  // "2.5" vs long 2: Long.valueOf("2.5") fails.
  EXPECT_EQ(Eval("b > 2", kProps), SqlResult::kError);
  EXPECT_TRUE(Match("b > 2.0", kProps));
  EXPECT_TRUE(Match("b = 2.5", kProps));
  EXPECT_TRUE(Match("a = 10.0", kProps));  // Double.valueOf("10")
  EXPECT_TRUE(Match("a > 9.5", kProps));
  EXPECT_TRUE(Match("10 = 10.0", kProps));  // long widened to double
  EXPECT_TRUE(Match("1.5E1 > a", kProps));
  EXPECT_TRUE(Match("a = 10L", kProps));
  EXPECT_TRUE(Match(".5 < 1", kProps));
  EXPECT_TRUE(Match("5. = 5", kProps));
  // Two properties compared by '<' etc. are parsed as doubles.
  EXPECT_TRUE(Match("b < a", kProps));
  EXPECT_EQ(Eval("s > a", kProps), SqlResult::kError);
  // A string that does not parse as the literal's type is an evaluation error: no match,
  // for the whole expression (RocketMQ throws out of the evaluation).
  EXPECT_EQ(Eval("s = 1", kProps), SqlResult::kError);
  EXPECT_EQ(Eval("s > 1 OR a = 10", kProps), SqlResult::kError);
  EXPECT_EQ(Eval("a = 10 OR s > 1", kProps), SqlResult::kTrue);  // short-circuit, left first
  // Strings compare as strings with '=' only.
  EXPECT_TRUE(Match("s = 'hello'", kProps));
  EXPECT_FALSE(Match("s = 'Hello'", kProps));
  EXPECT_TRUE(Match("a = '10'", kProps));
  EXPECT_FALSE(Match("a = '10.0'", kProps));
  // Booleans: Boolean.valueOf on the string.
  EXPECT_TRUE(Match("flag = TRUE", kProps));
  EXPECT_TRUE(Match("s = FALSE", kProps));
  EXPECT_FALSE(Match("a = TRUE", kProps));
  EXPECT_FALSE(Match("5 = TRUE", kProps));  // unrelated types are unequal
}

TEST(SqlExpressionTest, JavaNumberParsingRules) {
  EXPECT_EQ(Eval("x = 1", {{"x", " 1"}}), SqlResult::kError);  // Long.valueOf does not trim
  EXPECT_EQ(Eval("x = 1", {{"x", "+1"}}), SqlResult::kTrue);
  EXPECT_EQ(Eval("x = 1", {{"x", "+-1"}}), SqlResult::kError);
  EXPECT_EQ(Eval("x = 1.0", {{"x", " 1 "}}), SqlResult::kTrue);  // Double.valueOf trims
  EXPECT_EQ(Eval("x = 1.0", {{"x", "1d"}}), SqlResult::kTrue);
  EXPECT_EQ(Eval("x > 1.0", {{"x", "Infinity"}}), SqlResult::kTrue);
  EXPECT_EQ(Eval("x > 1.0", {{"x", "inf"}}), SqlResult::kError);
  EXPECT_EQ(Eval("x = 1.0", {{"x", "0x1p0"}}), SqlResult::kError);
  EXPECT_EQ(Eval("x > 1", {{"x", "99999999999999999999"}}), SqlResult::kError);
  EXPECT_EQ(Eval("x > 1.0", {{"x", "NaN"}}), SqlResult::kTrue);    // Double.compare: NaN is greatest
  EXPECT_EQ(Eval("x = 0.0", {{"x", "-0.0"}}), SqlResult::kFalse);  // Double.compare: -0.0 < 0.0
  EXPECT_EQ(Eval("e = 0", kProps), SqlResult::kError);
}

TEST(SqlExpressionTest, BetweenAndNotBetween) {
  EXPECT_TRUE(Match("a BETWEEN 10 AND 20", kProps));
  EXPECT_TRUE(Match("a BETWEEN 0 AND 10", kProps));
  EXPECT_FALSE(Match("a BETWEEN 11 AND 20", kProps));
  EXPECT_TRUE(Match("a NOT BETWEEN 11 AND 20", kProps));
  EXPECT_FALSE(Match("a NOT BETWEEN 5 AND 20", kProps));
  EXPECT_TRUE(Match("b between 2 and 3.0", kProps) == false);  // "2.5" vs long 2: error
  EXPECT_TRUE(Match("b between 2.0 and 3.0", kProps));
  EXPECT_EQ(Eval("missing BETWEEN 1 AND 2", kProps), SqlResult::kNull);
  EXPECT_EQ(Eval("missing NOT BETWEEN 1 AND 2", kProps), SqlResult::kNull);
}

TEST(SqlExpressionTest, InAndNotIn) {
  EXPECT_TRUE(Match("TAGS IN ('TagA', 'TagB')", kProps));
  EXPECT_FALSE(Match("TAGS IN ('TagB', 'TagC', 'TagD', 'TagE', 'TagF')", kProps));
  EXPECT_TRUE(Match("TAGS NOT IN ('TagB')", kProps));
  EXPECT_FALSE(Match("TAGS NOT IN ('TagA')", kProps));
  EXPECT_TRUE(Match("a IN ('10')", kProps));
  EXPECT_EQ(Eval("missing IN ('x')", kProps), SqlResult::kNull);
  EXPECT_EQ(Eval("missing NOT IN ('x')", kProps), SqlResult::kNull);
}

TEST(SqlExpressionTest, StringMatchOperators) {
  EXPECT_TRUE(Match("s CONTAINS 'ell'", kProps));
  EXPECT_FALSE(Match("s CONTAINS 'xyz'", kProps));
  EXPECT_TRUE(Match("s NOT CONTAINS 'xyz'", kProps));
  EXPECT_TRUE(Match("s STARTSWITH 'he'", kProps));
  EXPECT_FALSE(Match("s STARTSWITH 'lo'", kProps));
  EXPECT_TRUE(Match("s NOT STARTSWITH 'lo'", kProps));
  EXPECT_TRUE(Match("s ENDSWITH 'lo'", kProps));
  EXPECT_TRUE(Match("s NOT ENDSWITH 'he'", kProps));
  EXPECT_TRUE(Match("s endswith 'hello'", kProps));
  EXPECT_FALSE(Match("s ENDSWITH 'xhello'", kProps));
  // RocketMQ: an empty search string and a missing property are FALSE, also when negated.
  EXPECT_EQ(Eval("s CONTAINS ''", kProps), SqlResult::kFalse);
  EXPECT_EQ(Eval("s NOT CONTAINS ''", kProps), SqlResult::kFalse);
  EXPECT_EQ(Eval("missing CONTAINS 'x'", kProps), SqlResult::kFalse);
  EXPECT_EQ(Eval("missing NOT CONTAINS 'x'", kProps), SqlResult::kFalse);
  EXPECT_TRUE(Match("'abc' CONTAINS 'b'", kProps));
}

TEST(SqlExpressionTest, NullHandlingIsThreeValued) {
  EXPECT_TRUE(Match("missing IS NULL", kProps));
  EXPECT_FALSE(Match("a IS NULL", kProps));
  EXPECT_TRUE(Match("a IS NOT NULL", kProps));
  EXPECT_FALSE(Match("missing IS NOT NULL", kProps));
  EXPECT_TRUE(Match("e IS NOT NULL", kProps));  // an empty value is present
  EXPECT_EQ(Eval("missing = 'x'", kProps), SqlResult::kNull);
  EXPECT_EQ(Eval("'x' = missing", kProps), SqlResult::kFalse);  // RocketMQ's doCreateEqual asymmetry
  EXPECT_EQ(Eval("missing <> 'x'", kProps), SqlResult::kNull);
  EXPECT_EQ(Eval("missing > 1", kProps), SqlResult::kNull);
  EXPECT_EQ(Eval("NOT (missing > 1)", kProps), SqlResult::kNull);
  EXPECT_EQ(Eval("missing > 1 AND a = 10", kProps), SqlResult::kNull);
  EXPECT_EQ(Eval("missing > 1 AND a = 11", kProps), SqlResult::kFalse);
  EXPECT_EQ(Eval("missing > 1 OR a = 10", kProps), SqlResult::kTrue);
  EXPECT_EQ(Eval("missing > 1 OR a = 11", kProps), SqlResult::kNull);
  EXPECT_EQ(Eval("NULL", kProps), SqlResult::kNull);
  EXPECT_EQ(Eval("-missing IS NULL", kProps), SqlResult::kTrue);
}

TEST(SqlExpressionTest, LogicAndPrecedence) {
  EXPECT_TRUE(Match("TRUE", kProps));
  EXPECT_FALSE(Match("FALSE", kProps));
  EXPECT_TRUE(Match("NOT FALSE", kProps));
  EXPECT_TRUE(Match("a = 10 AND s = 'hello'", kProps));
  EXPECT_FALSE(Match("a = 10 AND s = 'x'", kProps));
  EXPECT_TRUE(Match("a = 1 OR s = 'hello'", kProps));
  // AND binds tighter than OR.
  EXPECT_TRUE(Match("a = 10 OR a = 1 AND s = 'x'", kProps));
  EXPECT_FALSE(Match("(a = 10 OR a = 1) AND s = 'x'", kProps));
  EXPECT_TRUE(Match("NOT (a = 1) AND NOT (s = 'x')", kProps));
  // NOT binds tighter than '=' (RocketMQ's unaryExpr): NOT a = 10 is (NOT a) = 10.
  EXPECT_FALSE(Match("NOT a = 10", kProps));
  EXPECT_TRUE(Match("NOT (a = 11)", kProps));
  // A bare property is a boolean cast of a string: FALSE when present, NULL when missing.
  EXPECT_EQ(Eval("flag", kProps), SqlResult::kFalse);
  EXPECT_EQ(Eval("missing", kProps), SqlResult::kNull);
  EXPECT_EQ(Eval("NOT flag", kProps), SqlResult::kTrue);
  EXPECT_TRUE(Match("-a = -10", kProps) == false);  // negating a string property is NULL
  EXPECT_TRUE(Match("- -10 = 10 AND +5 = 5", kProps));
  EXPECT_TRUE(Match("a = 1 = FALSE", kProps));  // '=' chains left to right
}

TEST(SqlExpressionTest, KeywordsAreCaseInsensitivePropertiesAreNot) {
  EXPECT_TRUE(Match("a between 1 and 20 and TAGS in ('TagA') or false", kProps));
  EXPECT_TRUE(Match("s Is Not Null", kProps));
  EXPECT_TRUE(Match("tags IS NULL", kProps));
  EXPECT_TRUE(Match("$x IS NULL AND _y IS NULL AND a1 IS NULL", kProps));
}

TEST(SqlExpressionTest, StringLiteralsAndComments) {
  EXPECT_TRUE(Match("q = 'it''s'", {{"q", "it's"}}));
  EXPECT_TRUE(Match("q = ''", {{"q", ""}}));
  EXPECT_TRUE(Match("q = 'é€'", {{"q", "é€"}}));
  EXPECT_TRUE(Match("/* block */ a = 10 -- trailing comment", kProps));
  EXPECT_TRUE(Match("a = 10 -- line\n AND s = 'hello'", kProps));
  EXPECT_TRUE(Match("\ta\r\n=\f10", kProps));
}

TEST(SqlExpressionTest, SyntaxErrorsNamePositionAndExpectation) {
  EXPECT_EQ(ParseError("a > "),
            "SQL92 expression: syntax error at line 1, column 5 (offset 4): expected a property, a literal, "
            "'(', NOT, '+' or '-', found the end of the expression");
  EXPECT_EQ(
      ParseError("a = 1 AND AND b = 2"),
      "SQL92 expression: syntax error at line 1, column 11 (offset 10): expected a property, a literal, "
      "'(', NOT, '+' or '-', found 'AND'");
  EXPECT_EQ(ParseError("a = 1\n  OR b ==2"),
            "SQL92 expression: syntax error at line 2, column 9 (offset 14): expected a property, a literal, "
            "'(', NOT, '+' or '-', found '='");
  EXPECT_EQ(ParseError("(a = 1"),
            "SQL92 expression: syntax error at line 1, column 7 (offset 6): expected ')', found the end of "
            "the expression");
  EXPECT_EQ(ParseError("a = 1 b"),
            "SQL92 expression: syntax error at line 1, column 7 (offset 6): expected AND, OR, a comparison "
            "operator or the end of the expression, found 'b'");
  EXPECT_EQ(ParseError("s = 'abc"),
            "SQL92 expression: unterminated string literal at line 1, column 5 (offset 4)");
  EXPECT_EQ(ParseError("a = #"), "SQL92 expression: unexpected character '#' at line 1, column 5 (offset 4)");
  EXPECT_EQ(ParseError("a = 1 /* x"),
            "SQL92 expression: unterminated /* comment at line 1, column 7 (offset 6)");
  EXPECT_NE(ParseError("a BETWEEN 1 2").find("expected AND of BETWEEN"), std::string::npos);
  EXPECT_NE(ParseError("a IN 'x'").find("expected '(' after IN"), std::string::npos);
  EXPECT_NE(ParseError("a IN ('x' 'y')").find("expected ',' or ')'"), std::string::npos);
  EXPECT_NE(ParseError("a IN (1)").find("expected a 'string' literal in the IN list"), std::string::npos);
  EXPECT_NE(ParseError("a IS 1").find("expected NULL or NOT NULL"), std::string::npos);
  EXPECT_NE(ParseError("a NOT b").find("after NOT, found 'b'"), std::string::npos);
  EXPECT_NE(ParseError("s CONTAINS a").find("expected a 'string' literal"), std::string::npos);
  EXPECT_NE(ParseError("a = 05").find("column 6"), std::string::npos);  // no octal: "0" then "5"
  EXPECT_NE(ParseError("a.b = 1").find("unexpected character '.'"), std::string::npos);
  EXPECT_NE(ParseError("").find("empty"), std::string::npos);
  EXPECT_NE(ParseError("  -- only a comment\n").find("empty"), std::string::npos);
}

TEST(SqlExpressionTest, SemanticChecksAsRocketMq) {
  EXPECT_NE(ParseError("a > 'x'").find("cannot be compared by '>'"), std::string::npos);
  EXPECT_NE(ParseError("a < TRUE").find("cannot be compared"), std::string::npos);
  EXPECT_NE(ParseError("(a = 1) > 5").find("cannot be compared"), std::string::npos);
  EXPECT_NE(ParseError("a = NULL").find("use IS NULL"), std::string::npos);
  EXPECT_NE(ParseError("TRUE = 'x'").find("cannot be compared with"), std::string::npos);
  EXPECT_NE(ParseError("'x' IN ('x')").find("IN needs a property"), std::string::npos);
  EXPECT_NE(ParseError("a BETWEEN 5 AND 3").find("low bound must not exceed"), std::string::npos);
  EXPECT_NE(ParseError("a BETWEEN NULL AND 3").find("NULL"), std::string::npos);
  EXPECT_NE(ParseError("5").find("not a condition"), std::string::npos);
  EXPECT_NE(ParseError("a = 1 AND 'x'").find("not a condition"), std::string::npos);
  EXPECT_NE(ParseError("NOT 5").find("not a condition"), std::string::npos);
  EXPECT_NE(ParseError("a = 9223372036854775808").find("64-bit integer range"), std::string::npos);
  EXPECT_NE(ParseError("a = 1e999").find("double range"), std::string::npos);
}

TEST(SqlExpressionTest, BoundsDepthAndLength) {
  std::string deep(200, '(');
  deep += "a = 1" + std::string(200, ')');
  EXPECT_NE(ParseError(deep).find("nests deeper"), std::string::npos);
  std::string chain = "a = 1";
  for (int i = 0; i < 300; ++i) chain += " AND a = 1";
  EXPECT_NE(ParseError(chain).find("nests deeper"), std::string::npos);
  std::string minuses;
  for (int i = 0; i < 300; ++i) minuses += "- ";
  EXPECT_NE(ParseError(minuses + "1 = 1").find("nests deeper"), std::string::npos);
  EXPECT_NE(ParseError(std::string(kMaxSqlLength + 1, ' ')).find("exceed the limit"), std::string::npos);
  std::string ok = "a = 1";
  for (int i = 0; i < 100; ++i) ok += " AND a = 10";
  EXPECT_FALSE(Match(ok, kProps));
  EXPECT_TRUE(Match("(((((((((((a = 10)))))))))))", kProps));
}

}  // namespace
}  // namespace mq::filter
