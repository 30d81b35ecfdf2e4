// sql_filter_bench: the broker-side cost of SQL92 filtering per message, without I/O: compile
// time of a selector, and evaluation time over the raw properties of a stored record as
// the pull path sees them (RawPropertiesLookup over "key\x01value\x02...", the CRC trailer
// last), against the tag filter's hash-set lookup for scale.
//
//   sql_filter_bench [--iterations N] [--json]
//
// Prints ns per evaluation (median of 5 rounds of N evaluations each) per selector.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "broker/filter/subscription_filter.h"
#include "broker/store/message_format.h"
#include "broker/store/message_store.h"
#include "common/filter/sql_expression.h"

namespace {

using Clock = std::chrono::steady_clock;

// Properties of a typical producer message as stored: the client's system properties, two
// user properties and the store's trailer.
std::vector<std::string> Records(int count) {
  std::vector<std::string> out;
  for (int i = 0; i < count; ++i) {
    std::string p;
    auto add = [&p](const std::string& k, const std::string& v) {
      p += k + mq::store::kNameValueSeparator + v + mq::store::kPropertySeparator;
    };
    add("TAGS", i % 2 ? "TagA" : "TagB");
    add("KEYS", "order-" + std::to_string(i));
    add("UNIQ_KEY", fmt::format("C0A8000100002A9F0000{:012X}", i));
    add("bench_send_us", std::to_string(1764700000000000LL + i));
    add("bucket", std::to_string(i % 10));
    add("region", i % 3 ? "eu-west" : "us-east");
    add("__CRC32C", "0123456789");
    out.push_back(std::move(p));
  }
  return out;
}

template <typename Fn>
double NanosPerCall(int64_t iterations, const std::vector<std::string>& records, Fn fn, int64_t* matched) {
  std::vector<double> rounds;
  for (int r = 0; r < 5; ++r) {
    int64_t hits = 0;
    auto begin = Clock::now();
    for (int64_t i = 0; i < iterations; ++i) hits += fn(records[static_cast<size_t>(i) % records.size()]);
    auto ns = std::chrono::duration<double, std::nano>(Clock::now() - begin).count();
    rounds.push_back(ns / static_cast<double>(iterations));
    *matched = hits;
  }
  std::sort(rounds.begin(), rounds.end());
  return rounds[2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sql_filter_bench: SQL92 filter compile and evaluation cost per message"};
  int64_t iterations = 1'000'000;
  bool json = false;
  app.add_option("--iterations", iterations, "evaluations per round")
      ->check(CLI::Range(int64_t{1000}, int64_t{1} << 32));
  app.add_flag("--json", json, "one JSON line per selector");
  CLI11_PARSE(app, argc, argv);

  const auto records = Records(1000);
  const std::vector<std::string> selectors = {
      "bucket = 0",
      "TAGS = 'TagA'",
      "bucket = 0 AND region = 'eu-west'",
      "bucket BETWEEN 0 AND 4 OR TAGS IN ('TagA', 'TagC')",
      "region STARTSWITH 'eu' AND NOT (KEYS CONTAINS '99') AND missing IS NULL",
      "bench_send_us > 1764700000000500",
  };
  for (const auto& sql : selectors) {
    auto compile_begin = Clock::now();
    constexpr int kCompiles = 10000;
    for (int i = 0; i < kCompiles; ++i) (void)mq::filter::SqlExpression::Parse(sql);
    const double compile_ns =
        std::chrono::duration<double, std::nano>(Clock::now() - compile_begin).count() / kCompiles;
    auto compiled = mq::filter::SqlExpression::Parse(sql);
    if (!compiled.ok()) {
      std::fprintf(stderr, "%s\n", compiled.status().ToString().c_str());
      return 1;
    }
    int64_t matched = 0;
    const double eval_ns = NanosPerCall(
        iterations, records,
        [&](const std::string& props) {
          return compiled->Matches(mq::broker::RawPropertiesLookup(props)) ? 1 : 0;
        },
        &matched);
    const double share = static_cast<double>(matched) / static_cast<double>(iterations);
    if (json) {
      std::printf("{\"selector\":\"%s\",\"compile_ns\":%.0f,\"eval_ns\":%.1f,\"match_ratio\":%.3f}\n",
                  sql.c_str(), compile_ns, eval_ns, share);
    } else {
      std::printf("%-75s compile %7.0f ns  evaluate %6.1f ns/msg  matches %5.1f%%\n", sql.c_str(), compile_ns,
                  eval_ns, share * 100);
    }
  }
  // For scale: the tag filter, a hash lookup on the consume queue's tag code (no record read).
  auto tags = mq::store::MakeTagFilter({"TagA"});
  std::vector<std::string> codes = {"TagA", "TagB"};
  int64_t matched = 0;
  const double tag_ns = NanosPerCall(
      iterations, codes, [&](const std::string& tag) { return tags(mq::store::TagsCode(tag)) ? 1 : 0; },
      &matched);
  if (json) {
    std::printf("{\"selector\":\"tag TagA\",\"eval_ns\":%.1f}\n", tag_ns);
  } else {
    std::printf("%-75s evaluate %6.1f ns/msg (TagsCode hash included)\n", "tag filter TagA", tag_ns);
  }
  return 0;
}
