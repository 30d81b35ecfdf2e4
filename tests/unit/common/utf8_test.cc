#include "common/utf8.h"

#include <gtest/gtest.h>

namespace mq {
namespace {

TEST(Utf8Test, WellFormedTextIsValidAndComesBackUnchanged) {
  for (const char* s : {"", "plain ASCII", "caf\xc3\xa9", "\xe4\xb8\xad\xe6\x96\x87", "\xf0\x9f\x98\x80",
                        "\xed\x9f\xbf", "\xf4\x8f\xbf\xbf"}) {
    EXPECT_TRUE(IsValidUtf8(s)) << s;
    EXPECT_EQ(EscapeInvalidUtf8(s), s);
  }
}

TEST(Utf8Test, MalformedBytesAreInvalidAndEscapedOneByOne) {
  const struct {
    const char* in;
    const char* escaped;
  } cases[] = {
      {"a\xff"
       "b",
       "a\\xffb"},
      {"\xc3", "\\xc3"},                             // truncated
      {"\xc3\x28", "\\xc3("},                        // bad continuation
      {"\xc0\xaf", "\\xc0\\xaf"},                    // overlong '/'
      {"\xe0\x80\xaf", "\\xe0\\x80\\xaf"},           // overlong, three bytes
      {"\xed\xa0\x80", "\\xed\\xa0\\x80"},           // a surrogate
      {"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"},  // past U+10FFFF
      {"ok \xe4\xb8\xad \x80", "ok \xe4\xb8\xad \\x80"},
  };
  for (const auto& c : cases) {
    EXPECT_FALSE(IsValidUtf8(c.in)) << c.escaped;
    const std::string escaped = EscapeInvalidUtf8(c.in);
    EXPECT_EQ(escaped, c.escaped);
    EXPECT_TRUE(IsValidUtf8(escaped));
  }
}

TEST(Utf8Test, ClipTextKeepsShortTextAndCutsLongTextBeforeACharacter) {
  EXPECT_EQ(ClipText("broker-a", 128), "broker-a");
  EXPECT_EQ(ClipText(std::string(200, 'x'), 4), "xxxx...(200 bytes)");
  // "a" then three 3-byte characters: a cut at 5 bytes would split the second one.
  const std::string text = "a\xe4\xb8\xad\xe6\x96\x87\xe5\xad\x97";
  EXPECT_EQ(ClipText(text, 5), "a\xe4\xb8\xad...(10 bytes)");
  EXPECT_TRUE(IsValidUtf8(ClipText(text, 5)));
}

}  // namespace
}  // namespace mq
