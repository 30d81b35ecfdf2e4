#include "broker/schedule/delay_levels.h"

#include <fmt/format.h>

#include <charconv>

namespace mq::schedule {

Result<DelayLevels> DelayLevels::Parse(std::string_view text, std::string_view key) {
  DelayLevels out;
  size_t pos = 0;
  while (pos < text.size()) {
    if (text[pos] == ' ' || text[pos] == '\t') {
      ++pos;
      continue;
    }
    size_t end = text.find_first_of(" \t", pos);
    std::string_view token =
        text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    pos = end == std::string_view::npos ? text.size() : end;
    auto bad = [&](std::string_view why) {
      return Status::InvalidArgument(fmt::format(
          "{}: level {} '{}' {} (expected a positive number with unit s, m, h or d, e.g. '1s 5s 1m')", key,
          out.millis_.size() + 1, token, why));
    };
    if (token.size() < 2) return bad("is not a duration");
    int64_t unit = 0;
    switch (token.back()) {
      case 's':
        unit = 1000;
        break;
      case 'm':
        unit = 60'000;
        break;
      case 'h':
        unit = 3'600'000;
        break;
      case 'd':
        unit = 86'400'000;
        break;
      default:
        return bad("has an unknown unit");
    }
    int64_t n = 0;
    std::string_view digits = token.substr(0, token.size() - 1);
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec != std::errc() || ptr != digits.data() + digits.size() || n <= 0)
      return bad("is not a positive number");
    if (n > INT64_MAX / unit / 1000) return bad("is too large");
    out.millis_.push_back(n * unit);
  }
  if (out.millis_.empty()) return Status::InvalidArgument(fmt::format("{}: needs at least one level", key));
  return out;
}

void ToScheduled(int32_t level, store::MessageInput* in) {
  in->properties[std::string(kPropertyDelay)] = std::to_string(level);
  in->properties[std::string(kPropertyRealTopic)] = in->topic;
  in->properties[std::string(kPropertyRealQueueId)] = std::to_string(in->queue_id);
  in->topic = std::string(kScheduleTopic);
  in->queue_id = level - 1;
}

int64_t DeliverTimestamp(const DelayLevels& levels, const store::RecordView& record) {
  std::string_view delay = store::FindProperty(record.properties, kPropertyDelay);
  int32_t level = 0;
  auto [ptr, ec] = std::from_chars(delay.data(), delay.data() + delay.size(), level);
  if (ec != std::errc() || level <= 0) return record.store_timestamp;
  return record.store_timestamp + levels.DelayMillis(levels.Clamp(level));
}

}  // namespace mq::schedule
