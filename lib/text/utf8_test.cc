#include "lib/text/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace r1serve::text {
namespace {

TEST(Utf8LossyTest, ReplacesEachMaximalInvalidSubpart) {
  // Expected strings follow Rust's String::from_utf8_lossy (Unicode's "maximal subpart"
  // practice); HF tokenizers 0.22.2's decode of the same bytes agrees.
  struct Case {
    std::string bytes;
    std::string text;
  };
  const std::string r = "\uFFFD";
  const Case cases[] = {
      {"", ""},
      {"plain ascii", "plain ascii"},
      {"caf\xC3\xA9 \xF0\x9F\x98\x80", "caf\u00E9 \U0001F600"},
      {"\xF0\x9F\x98", r},  // truncated 4-byte sequence: one subpart
      {"\xF0\x9F\x98"
       "a",
       r + "a"},
      {"\xE2\x82", r},  // truncated at the end
      {"\x80", r},      // lone continuation byte
      {"\x80\x80", r + r},
      {"\xC0\xAF", r + r},  // overlong lead byte: never valid
      {"\xC1\xBF", r + r},
      {"\xE0\x80\x80", r + r + r},          // E0 needs A0..BF next
      {"\xED\xA0\x80", r + r + r},          // a surrogate
      {"\xF4\x90\x80\x80", r + r + r + r},  // above U+10FFFF
      {"\xF5\x80", r + r},
      {"\xFF", r},
      {"a\xE2\x82\xAC"
       "b",
       "a\u20ACb"},
      {"\xE2\x82"
       "a\xE2",
       r + "a" + r},
      {"\xF0\x90\x80"
       "\xF0\x90\x80\x80",
       r + "\U00010000"},
  };
  for (const Case& c : cases) EXPECT_EQ(Utf8Lossy(c.bytes), c.text) << c.text;
}

TEST(Utf8Test, ValidPrefixAndAscii) {
  EXPECT_EQ(ValidUtf8Prefix("abc"), 3u);
  EXPECT_EQ(ValidUtf8Prefix("abcdefghijkl\xC3\xA9xyz\xFF!"), 17u);
  EXPECT_EQ(ValidUtf8Prefix("\xE2\x82"), 0u);
  EXPECT_TRUE(IsAscii("0123456789abcdefghij"));
  EXPECT_FALSE(IsAscii("0123456789abcdefghi\x80"));
  EXPECT_FALSE(IsAscii("\xC3\xA9"));
  EXPECT_TRUE(IsAscii(""));
}

TEST(Utf8Test, EncodeDecodeRoundTrip) {
  for (char32_t cp : {0x0, 0x41, 0x7F, 0x80, 0x7FF, 0x800, 0xFFFF, 0x10000, 0x10FFFF}) {
    std::string s;
    AppendUtf8(cp, &s);
    size_t length = 0;
    EXPECT_EQ(DecodeUtf8(s, &length), cp);
    EXPECT_EQ(length, s.size());
    size_t subpart = 0;
    EXPECT_EQ(WellFormedSequenceLength(s, &subpart), s.size());
  }
}

}  // namespace
}  // namespace r1serve::text
