#include "common/tag_expression.h"

#include <gtest/gtest.h>

namespace mq {
namespace {

using Tags = std::vector<std::string>;

TEST(TagExpressionTest, StarOrBlankMeansEveryMessage) {
  EXPECT_TRUE(ParseTagExpression("*")->empty());
  EXPECT_TRUE(ParseTagExpression(" * ")->empty());
  EXPECT_TRUE(ParseTagExpression("")->empty());
  EXPECT_TRUE(ParseTagExpression(" \t")->empty());
}

TEST(TagExpressionTest, AlternativesAreTrimmed) {
  EXPECT_EQ(*ParseTagExpression("TagA"), Tags{"TagA"});
  EXPECT_EQ(*ParseTagExpression(" TagA ||TagB ||\tTagC "), (Tags{"TagA", "TagB", "TagC"}));
  EXPECT_EQ(*ParseTagExpression("Tag A||B"), (Tags{"Tag A", "B"}));
  EXPECT_EQ(*ParseTagExpression("TagA\r\n|| TagB\n"), (Tags{"TagA", "TagB"}));
}

// Before: refused, where RocketMQ's FilterAPI skips the empty alternatives (a subscription
// built by joining tags with a trailing "||" failed to start on us only).
TEST(TagExpressionTest, EmptyAlternativesAreSkippedAsFilterApiDoes) {
  EXPECT_EQ(*ParseTagExpression("TagA ||"), Tags{"TagA"});
  EXPECT_EQ(*ParseTagExpression("|| TagA"), Tags{"TagA"});
  EXPECT_EQ(*ParseTagExpression("TagA |||| TagB"), (Tags{"TagA", "TagB"}));
  EXPECT_EQ(*ParseTagExpression("TagA || || TagB"), (Tags{"TagA", "TagB"}));
}

TEST(TagExpressionTest, MalformedExpressionsNameTheSubscriptionField) {
  for (const char* bad : {"||", " || ", "TagA | TagB", "TagA || *", "Tag*", "TagA |||"}) {
    auto r = ParseTagExpression(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_TRUE(r.status().IsInvalidArgument()) << bad;
    EXPECT_NE(r.status().message().find("subscription: '"), std::string::npos) << r.status().ToString();
  }
}

}  // namespace
}  // namespace mq
