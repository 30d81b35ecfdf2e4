#include "common/filter/sql_lexer.h"

#include <fmt/format.h>

#include <array>
#include <utility>

namespace mq::filter {
namespace {

constexpr std::array<std::pair<std::string_view, TokenKind>, 12> kKeywords = {{
    {"NOT", TokenKind::kNot},
    {"AND", TokenKind::kAnd},
    {"OR", TokenKind::kOr},
    {"BETWEEN", TokenKind::kBetween},
    {"IN", TokenKind::kIn},
    {"TRUE", TokenKind::kTrue},
    {"FALSE", TokenKind::kFalse},
    {"NULL", TokenKind::kNull},
    {"IS", TokenKind::kIs},
    {"CONTAINS", TokenKind::kContains},
    {"STARTSWITH", TokenKind::kStartsWith},
    {"ENDSWITH", TokenKind::kEndsWith},
}};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$'; }
bool IsIdPart(char c) { return IsIdStart(c) || IsDigit(c); }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 'a' + 'A');
    if (x != b[i]) return false;
  }
  return true;
}

// Length of an exponent ("E" [+-]? digits) at text[i], 0 if there is none.
size_t ExponentLength(std::string_view text, size_t i) {
  if (i >= text.size() || (text[i] != 'e' && text[i] != 'E')) return 0;
  size_t j = i + 1;
  if (j < text.size() && (text[j] == '+' || text[j] == '-')) ++j;
  if (j >= text.size() || !IsDigit(text[j])) return 0;
  while (j < text.size() && IsDigit(text[j])) ++j;
  return j - i;
}

Status LexError(std::string_view text, size_t offset, std::string_view what) {
  return Status::InvalidArgument(
      fmt::format("SQL92 expression: {} at {} (offset {})", what, DescribePosition(text, offset), offset));
}

}  // namespace

std::string DescribePosition(std::string_view text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {  // not a UTF-8 continuation
      ++column;
    }
  }
  return fmt::format("line {}, column {}", line, column);
}

Result<std::vector<Token>> Tokenize(std::string_view text) {
  std::vector<Token> tokens;
  size_t i = 0;
  const size_t n = text.size();
  while (true) {
    while (i < n && IsSpace(text[i])) ++i;
    if (i + 1 < n && text[i] == '-' && text[i + 1] == '-') {
      while (i < n && text[i] != '\n' && text[i] != '\r') ++i;
      continue;
    }
    if (i + 1 < n && text[i] == '/' && text[i + 1] == '*') {
      size_t close = text.find("*/", i + 2);
      if (close == std::string_view::npos) return LexError(text, i, "unterminated /* comment");
      i = close + 2;
      continue;
    }
    Token t;
    t.offset = i;
    if (i >= n) {
      t.kind = TokenKind::kEnd;
      tokens.push_back(std::move(t));
      return tokens;
    }
    const char c = text[i];
    size_t len = 1;
    if (IsIdStart(c)) {
      while (i + len < n && IsIdPart(text[i + len])) ++len;
      t.kind = TokenKind::kIdentifier;
      for (const auto& [word, kind] : kKeywords) {
        if (EqualsIgnoreCase(text.substr(i, len), word)) t.kind = kind;
      }
    } else if (IsDigit(c) || (c == '.' && i + 1 < n && IsDigit(text[i + 1]))) {
      size_t digits = 0;
      while (i + digits < n && IsDigit(text[i + digits])) ++digits;
      if (i + digits < n && text[i + digits] == '.') {
        len = digits + 1;
        while (i + len < n && IsDigit(text[i + len])) ++len;
        len += ExponentLength(text, i + len);
        t.kind = TokenKind::kFloat;
      } else if (size_t e = ExponentLength(text, i + digits); e > 0) {
        len = digits + e;
        t.kind = TokenKind::kFloat;
      } else if (c == '0') {
        len = 1;  // "05" is "0" followed by "5", as in RocketMQ (no octal literals)
        t.kind = TokenKind::kDecimal;
      } else {
        len = digits;
        if (i + len < n && (text[i + len] == 'l' || text[i + len] == 'L')) ++len;
        t.kind = TokenKind::kDecimal;
      }
    } else if (c == '\'') {
      size_t j = i + 1;
      while (true) {
        if (j >= n) return LexError(text, i, "unterminated string literal");
        if (text[j] == '\'') {
          if (j + 1 < n && text[j + 1] == '\'') {
            t.value.push_back('\'');
            j += 2;
            continue;
          }
          break;
        }
        t.value.push_back(text[j++]);
      }
      len = j + 1 - i;
      t.kind = TokenKind::kString;
    } else {
      const char next = i + 1 < n ? text[i + 1] : '\0';
      switch (c) {
        case '=':
          t.kind = TokenKind::kEq;
          break;
        case '<':
          if (next == '>') {
            t.kind = TokenKind::kNe, len = 2;
          } else if (next == '=') {
            t.kind = TokenKind::kLe, len = 2;
          } else {
            t.kind = TokenKind::kLt;
          }
          break;
        case '>':
          if (next == '=') {
            t.kind = TokenKind::kGe, len = 2;
          } else {
            t.kind = TokenKind::kGt;
          }
          break;
        case '(':
          t.kind = TokenKind::kLParen;
          break;
        case ')':
          t.kind = TokenKind::kRParen;
          break;
        case ',':
          t.kind = TokenKind::kComma;
          break;
        case '+':
          t.kind = TokenKind::kPlus;
          break;
        case '-':
          t.kind = TokenKind::kMinus;
          break;
        default: {
          const auto u = static_cast<unsigned char>(c);
          return LexError(text, i,
                          u >= 0x20 && u < 0x7F ? fmt::format("unexpected character '{}'", c)
                                                : fmt::format("unexpected byte 0x{:02X}", u));
        }
      }
    }
    t.text = text.substr(i, len);
    tokens.push_back(std::move(t));
    i += len;
  }
}

}  // namespace mq::filter
