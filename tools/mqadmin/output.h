// Output helpers of mqadmin: aligned text tables and a tiny JSON builder, plus the time and
// boolean formatting the verbs share. Value types, thread-compatible.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace mq::admin {

// Columns are left-aligned and separated by two spaces; the header row comes first.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }
  void Print(std::ostream& out) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// A JSON value built in code and printed compactly on one line. Objects keep insertion order.
class Json {
 public:
  Json() : scalar_("null") {}
  Json(const std::string& s);                       // NOLINT: implicit by design
  Json(const char* s) : Json(std::string(s)) {}     // NOLINT
  Json(int64_t v) : scalar_(std::to_string(v)) {}   // NOLINT
  Json(int32_t v) : scalar_(std::to_string(v)) {}   // NOLINT
  Json(uint32_t v) : scalar_(std::to_string(v)) {}  // NOLINT
  Json(bool v) : scalar_(v ? "true" : "false") {}   // NOLINT
  Json(double v);                                   // NOLINT

  static Json Object();
  static Json Array();
  // Object member (keys are not deduplicated).
  Json& Set(const std::string& key, Json value);
  // Array element.
  Json& Push(Json value);
  std::string Dump() const;

 private:
  enum class Kind { kScalar, kObject, kArray };
  void DumpTo(std::string* out) const;
  Kind kind_ = Kind::kScalar;
  std::string scalar_;  // already rendered
  std::vector<std::pair<std::string, Json>> members_;
  std::vector<Json> items_;
};

// JSON string literal for s (control characters and invalid UTF-8 bytes are \u-escaped).
std::string JsonQuote(const std::string& s);
// "2026-11-27 15:02:29,123" in local time (RocketMQ's UtilAll.timeMillisToHumanString2), "-" for <= 0.
std::string FormatTime(int64_t ms);
// Parses "true"/"false" (case-insensitive) for flag `field`.
Result<bool> ParseBool(const std::string& field, const std::string& value);
// Parses ms since epoch, "now" (-1: the newest offset) or yyyy-MM-dd#HH:mm:ss:SSS (local time).
Result<int64_t> ParseTimestamp(const std::string& field, const std::string& value);
// Prints a JSON document followed by a newline on stdout.
void PrintJson(const Json& doc);

}  // namespace mq::admin
