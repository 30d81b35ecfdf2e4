// Fuzz target: an SQL92 subscription selector (a consumer's text, compiled by the broker and
// the client) evaluated on a stored record's properties.
// Input: the selector, a 0x00 byte, then raw properties ("key 0x01 value 0x02 ..."); without
// a 0x00 byte everything is the selector and the properties are empty.
// Checks: a refusal explains itself and names an offset inside the text; compiling is
// deterministic; an accepted selector evaluates (twice, the same) on any properties, and
// the broker's predicate agrees with the evaluation.
#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "broker/filter/subscription_filter.h"
#include "common/filter/sql_expression.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t split = input.find('\0');
  std::string_view sql = input.substr(0, split);
  std::string_view props = split == std::string_view::npos ? std::string_view() : input.substr(split + 1);

  auto compiled = mq::filter::SqlExpression::Parse(sql);
  auto again = mq::filter::SqlExpression::Parse(sql);
  MQ_FUZZ_CHECK(compiled.ok() == again.ok(), "compiling the same text twice disagrees");
  if (!compiled.ok()) {
    mq::fuzz::CheckClearError(compiled.status(), "SqlExpression::Parse");
    const std::string& msg = compiled.status().message();
    MQ_FUZZ_CHECK(msg == again.status().message(), "two compilations give different errors");
    if (size_t at = msg.find("(offset "); at != std::string::npos) {
      const size_t offset = std::stoul(msg.substr(at + 8));
      MQ_FUZZ_CHECK(offset <= sql.size(),
                    fmt::format("error offset {} beyond the text ({})", offset, sql.size()));
    }
    return 0;
  }
  mq::broker::RawPropertiesLookup lookup(props);
  const mq::filter::SqlResult first = compiled->Evaluate(lookup);
  MQ_FUZZ_CHECK(first == compiled->Evaluate(lookup), "evaluation is not deterministic");
  MQ_FUZZ_CHECK(first == again->Evaluate(lookup), "two compilations evaluate differently");

  mq::broker::SqlFilterCache cache(4);
  auto filter = mq::broker::MakeSubscriptionFilter("SQL92", sql, true, &cache, "broker-a");
  MQ_FUZZ_CHECK(filter.ok() && filter->properties, "an accepted selector is refused by the broker");
  MQ_FUZZ_CHECK(filter->properties(props) == (first == mq::filter::SqlResult::kTrue),
                "the broker's predicate disagrees with the evaluation");
  return 0;
}
