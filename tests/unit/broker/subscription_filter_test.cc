#include "broker/filter/subscription_filter.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "broker/store/message_format.h"

namespace mq::broker {
namespace {

std::string RawProperties(const std::vector<std::pair<std::string, std::string>>& kv) {
  std::string out;
  for (const auto& [k, v] : kv) out += k + store::kNameValueSeparator + v + store::kPropertySeparator;
  return out;
}

TEST(RawPropertiesLookupTest, FindsValuesHidesTheCrcTrailer) {
  const std::string raw =
      RawProperties({{"TAGS", "TagA"}, {"a", "1"}, {"empty", ""}, {"ab", "2"}, {"__CRC32C", "0123456789"}});
  RawPropertiesLookup lookup(raw);
  EXPECT_EQ(lookup.Get("TAGS"), "TagA");
  EXPECT_EQ(lookup.Get("a"), "1");
  EXPECT_EQ(lookup.Get("ab"), "2");
  EXPECT_EQ(lookup.Get("empty"), "");
  EXPECT_FALSE(lookup.Get("b").has_value());
  EXPECT_FALSE(lookup.Get("__CRC32C").has_value());
  EXPECT_FALSE(RawPropertiesLookup("").Get("a").has_value());
  EXPECT_EQ(RawPropertiesLookup("a\x01x").Get("a"), "x");  // unterminated last pair
  EXPECT_FALSE(RawPropertiesLookup("novalue\x02").Get("novalue").has_value());
}

TEST(SubscriptionFilterTest, TagSqlAndRefusals) {
  SqlFilterCache cache;
  auto tag = MakeSubscriptionFilter("", "TagA || TagB", false, &cache, "b");
  ASSERT_TRUE(tag.ok());
  EXPECT_TRUE(tag->tags);
  EXPECT_FALSE(tag->properties);
  auto all = MakeSubscriptionFilter("TAG", "*", false, &cache, "b");
  ASSERT_TRUE(all.ok());
  EXPECT_FALSE(all->tags);

  auto off = MakeSubscriptionFilter("SQL92", "a > 1", false, &cache, "broker-x");
  EXPECT_EQ(off.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(off.status().message().find("broker broker-x"), std::string::npos);
  EXPECT_NE(off.status().message().find("enablePropertyFilter=false"), std::string::npos);
  auto bad = MakeSubscriptionFilter("SQL92", "a >", true, &cache, "b");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("column 4"), std::string::npos);
  EXPECT_EQ(MakeSubscriptionFilter("sql92", "a > 1", true, &cache, "b").status().code(),
            StatusCode::kInvalidArgument);

  auto sql = MakeSubscriptionFilter("SQL92", "a > 1 AND TAGS = 'TagA'", true, &cache, "b");
  ASSERT_TRUE(sql.ok());
  EXPECT_FALSE(sql->tags);
  ASSERT_TRUE(sql->properties);
  EXPECT_TRUE(sql->properties(RawProperties({{"TAGS", "TagA"}, {"a", "2"}})));
  EXPECT_FALSE(sql->properties(RawProperties({{"TAGS", "TagA"}, {"a", "1"}})));
  EXPECT_FALSE(sql->properties(RawProperties({{"TAGS", "TagA"}})));
  EXPECT_FALSE(sql->properties(RawProperties({{"TAGS", "TagA"}, {"a", "x"}})));  // evaluation error
}

TEST(SqlFilterCacheTest, CompilesOnceEvictsLeastRecentlyUsedNeverCachesErrors) {
  SqlFilterCache cache(2);
  auto a1 = cache.Get("a = 1");
  auto a2 = cache.Get("a = 1");
  ASSERT_TRUE(a1.ok() && a2.ok());
  EXPECT_EQ(a1->get(), a2->get());  // the same compiled expression
  EXPECT_FALSE(cache.Get("a = ").ok());
  EXPECT_EQ(cache.size(), 1u);
  ASSERT_TRUE(cache.Get("b = 1").ok());
  ASSERT_TRUE(cache.Get("a = 1").ok());  // a is now the most recent
  ASSERT_TRUE(cache.Get("c = 1").ok());  // evicts b
  EXPECT_EQ(cache.size(), 2u);
  auto again = cache.Get("a = 1");
  EXPECT_EQ(again->get(), a1->get());
  // Concurrent users share entries and keep the bound.
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, t] {
      for (int i = 0; i < 200; ++i) {
        auto e = cache.Get("x = " + std::to_string((i * 7 + t) % 5));
        ASSERT_TRUE(e.ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(cache.size(), 2u);
}

}  // namespace
}  // namespace mq::broker
