// Tokenizer of the SQL92 filter language (RocketMQ's SelectorParser.jj token rules).
// Keywords are case-insensitive; identifiers are [A-Za-z_$][A-Za-z0-9_$]* and name message
// properties case-sensitively; numbers are DECIMAL ("0" | [1-9][0-9]* [lL]?) or FLOATING
// ("5.", "5.5", ".5", "5E3", ...); strings are single-quoted with '' for a quote; "--" line and
// "/* */" block comments are skipped. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace mq::filter {

enum class TokenKind {
  kEnd,
  kIdentifier,
  kDecimal,
  kFloat,
  kString,
  kNot,
  kAnd,
  kOr,
  kBetween,
  kIn,
  kTrue,
  kFalse,
  kNull,
  kIs,
  kContains,
  kStartsWith,
  kEndsWith,
  kEq,
  kNe,
  kGt,
  kGe,
  kLt,
  kLe,
  kLParen,
  kRParen,
  kComma,
  kPlus,
  kMinus,
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string_view text;  // as written (views the expression)
  std::string value;      // kString: the decoded literal
  size_t offset = 0;      // byte offset of the first character
};

// "line 1, column 7" (both 1-based, columns count characters) of byte `offset` in `text`.
std::string DescribePosition(std::string_view text, size_t offset);

// Splits `text` into tokens ending with kEnd; InvalidArgument naming the position of an
// unknown character, an unterminated string or comment.
Result<std::vector<Token>> Tokenize(std::string_view text);

}  // namespace mq::filter
