#include "output.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <iostream>

namespace mq::admin {

void Table::Print(std::ostream& out) const {
  std::vector<size_t> widths(header_.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i)
      widths[i] = std::max(widths[i], row[i].size());
  };
  measure(header_);
  for (const auto& r : rows_) measure(r);
  auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out << line << '\n';
  };
  print(header_);
  for (const auto& r : rows_) print(r);
}

Json::Json(const std::string& s) : scalar_(JsonQuote(s)) {}

Json::Json(double v) : scalar_(fmt::format("{}", v)) {}

Json Json::Object() {
  Json j;
  j.kind_ = Kind::kObject;
  return j;
}

Json Json::Array() {
  Json j;
  j.kind_ = Kind::kArray;
  return j;
}

Json& Json::Set(const std::string& key, Json value) {
  members_.emplace_back(key, std::move(value));
  return *this;
}

Json& Json::Push(Json value) {
  items_.push_back(std::move(value));
  return *this;
}

std::string Json::Dump() const {
  std::string out;
  DumpTo(&out);
  return out;
}

void Json::DumpTo(std::string* out) const {
  switch (kind_) {
    case Kind::kScalar:
      *out += scalar_;
      return;
    case Kind::kObject: {
      *out += '{';
      bool first = true;
      for (const auto& [k, v] : members_) {
        if (!first) *out += ',';
        first = false;
        *out += JsonQuote(k);
        *out += ':';
        v.DumpTo(out);
      }
      *out += '}';
      return;
    }
    case Kind::kArray: {
      *out += '[';
      for (size_t i = 0; i < items_.size(); ++i) {
        if (i > 0) *out += ',';
        items_[i].DumpTo(out);
      }
      *out += ']';
      return;
    }
  }
}

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not valid.
size_t Utf8SequenceLength(const std::string& s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  }
  return n;
}

}  // namespace

std::string JsonQuote(const std::string& s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    char c = s[i];
    size_t n = Utf8SequenceLength(s, i);
    if (n == 0) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
      ++i;
      continue;
    }
    if (n > 1) {
      out.append(s, i, n);
      i += n;
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
    ++i;
  }
  out += '"';
  return out;
}

std::string FormatTime(int64_t ms) {
  if (ms <= 0) return "-";
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02},{:03}", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

Result<bool> ParseBool(const std::string& field, const std::string& value) {
  std::string v = value;
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  if (v == "true") return true;
  if (v == "false") return false;
  return Status::InvalidArgument(fmt::format("{}: expected true or false, got '{}'", field, value));
}

Result<int64_t> ParseTimestamp(const std::string& field, const std::string& value) {
  if (value == "now") return int64_t{-1};
  if (!value.empty() &&
      std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); })) {
    if (value.size() > 18) return Status::InvalidArgument(fmt::format("{}: '{}' is too large", field, value));
    return static_cast<int64_t>(std::stoll(value));
  }
  std::tm tm{};
  int ms = 0;
  char tail = 0;
  int n = std::sscanf(value.c_str(), "%4d-%2d-%2d#%2d:%2d:%2d:%3d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                      &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &tail);
  if (n != 7) {
    return Status::InvalidArgument(
        fmt::format("{}: '{}' is not ms, now or yyyy-MM-dd#HH:mm:ss:SSS", field, value));
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  tm.tm_isdst = -1;
  std::time_t secs = std::mktime(&tm);
  if (secs < 0) return Status::InvalidArgument(fmt::format("{}: '{}' is out of range", field, value));
  return static_cast<int64_t>(secs) * 1000 + ms;
}

void PrintJson(const Json& doc) { std::cout << doc.Dump() << '\n'; }

}  // namespace mq::admin
