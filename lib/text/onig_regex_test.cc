// OnigRegex: Oniguruma meanings that differ from PCRE2's, and the Unicode version of \p{..}.
// Facts about Oniguruma's behaviour were checked against HF tokenizers 0.22.2 (its Split
// pre-tokenizer runs Oniguruma with Unicode 16.0 tables).
#include "lib/text/onig_regex.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "lib/text/utf8.h"

namespace r1serve::text {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// All matches of `pattern` in `subject` (valid UTF-8), left to right, as substrings.
std::vector<std::string> Matches(const std::string& pattern, const std::string& subject) {
  absl::StatusOr<std::unique_ptr<const OnigRegex>> re = OnigRegex::Compile(pattern);
  EXPECT_TRUE(re.ok()) << re.status();
  std::vector<std::string> found;
  if (!re.ok()) return found;
  size_t begin, end;
  for (size_t at = 0; at <= subject.size();) {
    absl::Status error;
    const bool matched = (*re)->Find(subject, at, IsAscii(subject), &begin, &end, &error);
    EXPECT_TRUE(error.ok()) << error;
    if (!matched) break;
    found.push_back(subject.substr(begin, end - begin));
    at = end > begin ? end : end + 1;
  }
  return found;
}

std::string U(char32_t cp) {
  std::string s;
  AppendUtf8(cp, &s);
  return s;
}

TEST(OnigRegexTest, WhiteSpaceIsTheUnicodeProperty) {
  // U+0085 and U+3000 are White_Space; U+180E and U+200B are not (PCRE2's \s differs).
  EXPECT_THAT(Matches("\\s", "a" + U(0x85) + U(0x180E) + U(0x200B) + U(0x3000) + "\t"),
              ElementsAre(U(0x85), U(0x3000), "\t"));
  EXPECT_THAT(Matches("\\S+", "a" + U(0x180E) + " b"), ElementsAre("a" + U(0x180E), "b"));
}

TEST(OnigRegexTest, CategoriesAreUnicode16) {
  // Kawi (Unicode 15.0) and U+1C89 (16.0) are letters to HF; U+10940 (Sidetic, 17.0) is not
  // yet. Garay digits (16.0) are numbers.
  EXPECT_THAT(Matches("\\p{L}+", "x" + U(0x11F04) + U(0x1C89) + U(0x10940) + "y"),
              ElementsAre("x" + U(0x11F04) + U(0x1C89), "y"));
  EXPECT_THAT(Matches("\\p{N}{1,3}", "1" + U(0x10D40) + "23"),
              ElementsAre("1" + U(0x10D40) + "2", "3"));
  EXPECT_THAT(Matches("[^\\s\\p{L}\\p{N}]+", "a" + U(0x11F04) + "!?" + U(0x10940) + " b"),
              ElementsAre("!?" + U(0x10940)));
}

TEST(OnigRegexTest, OnigurumaEscapes) {
  EXPECT_THAT(Matches("\\h+", "xyz09afAFg"), ElementsAre("09afAF"));  // hex digit, not space
  EXPECT_THAT(Matches("\\v", "a\x0B\n"), ElementsAre("\x0B"));        // VT only
  EXPECT_THAT(Matches("\\u00e9", "caf\u00e9"), ElementsAre("\u00e9"));
  EXPECT_THAT(Matches("a{,2}", "aaa"), ElementsAre("aa", "a", ""));
  EXPECT_THAT(Matches("\\d+", "x" + U(0x0663) + "4" + U(0x00B2)), ElementsAre(U(0x0663) + "4"));
  EXPECT_THAT(Matches("[\\-\\]a]+", "b-]a"), ElementsAre("-]a"));
  EXPECT_THAT(Matches("x{a", "x{a"), ElementsAre("x{a"));
  EXPECT_THAT(Matches("^a", "a\na"), ElementsAre("a", "a"));  // Ruby: anchors are per line
}

TEST(OnigRegexTest, CaseInsensitiveContractions) {
  // Oniguruma folds U+017F LONG S to 's' (HF splits "'ſ" as one contraction).
  EXPECT_THAT(Matches("(?i:'s|'t)", "'S 't '" + U(0x17F) + " 'x"),
              ElementsAre("'S", "'t", "'" + U(0x17F)));
}

TEST(OnigRegexTest, AsciiProgramAgreesWithTheGeneralOne) {
  const std::string pattern =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  absl::StatusOr<std::unique_ptr<const OnigRegex>> re = OnigRegex::Compile(pattern);
  ASSERT_TRUE(re.ok()) << re.status();
  std::mt19937 rng(7);
  const std::string alphabet = "aZ09 \t\r\n'.,!$\\{}_-sStTmM\x01\x7F";
  for (int i = 0; i < 500; ++i) {
    std::string s;
    for (int n = rng() % 24; n > 0; --n) s += alphabet[rng() % alphabet.size()];
    for (size_t at = 0; at < s.size(); ++at) {
      size_t b1 = 0, e1 = 0, b2 = 0, e2 = 0;
      absl::Status error;
      const bool f1 = (*re)->Find(s, at, false, &b1, &e1, &error);
      const bool f2 = (*re)->Find(s, at, true, &b2, &e2, &error);
      ASSERT_TRUE(error.ok()) << s;
      ASSERT_EQ(f1, f2) << s;
      ASSERT_EQ(b1, b2) << s;
      ASSERT_EQ(e1, e2) << s;
    }
  }
}

TEST(OnigRegexTest, LongRunsMatchWhole) {
  const std::string spaces(200000, ' ');
  EXPECT_THAT(Matches("\\s+", spaces + "x"), ElementsAre(spaces));
  const std::string punct(200000, '!');
  EXPECT_THAT(Matches("[^\\s\\p{L}\\p{N}]+", punct + U(0x4E00) + punct), ElementsAre(punct, punct));
}

TEST(OnigRegexTest, RepeatedGroupsOverLongSubjectsMatchWhole) {
  // Each repetition of the group costs backtracking state: a million of them outgrew the old
  // 4 MiB JIT stack, and Find then reported no match, so the text became one wrong gap.
  std::string abs;
  for (int i = 0; i < 1000000; ++i) abs += "ab";
  EXPECT_THAT(Matches("(?:ab)+|c", abs + "cab"), ElementsAre(abs, "c", "ab"));
}

// Runs `body` on a thread of its own whose Find uses `limits`.
template <typename Body>
void WithMatchLimits(const OnigRegex::MatchLimits& limits, Body body) {
  std::thread thread([&] {
    OnigRegex::SetThreadMatchLimitsForTesting(limits);
    body();
  });
  thread.join();
}

TEST(OnigRegexTest, InterpreterTakesOverWhenTheJitStackRunsOut) {
  absl::StatusOr<std::unique_ptr<const OnigRegex>> re = OnigRegex::Compile("(?:ab)+|c");
  ASSERT_TRUE(re.ok()) << re.status();
  std::string abs;
  for (int i = 0; i < 20000; ++i) abs += "ab";
  const std::string subject = abs + "cab";
  OnigRegex::MatchLimits limits;
  limits.jit_stack_bytes = 64 << 10;  // 20000 repetitions need about 160 KiB
  WithMatchLimits(limits, [&] {
    size_t begin, end;
    absl::Status error;
    EXPECT_TRUE((*re)->Find(subject, 0, true, &begin, &end, &error));
    EXPECT_TRUE(error.ok()) << error;
    EXPECT_EQ(begin, 0u);
    EXPECT_EQ(end, abs.size());
  });
  // With too little heap for the interpreter as well, Find fails instead of missing the match
  // (which also shows that the match above came from the interpreter).
  limits.interpreter_heap_kib = 1 << 10;
  WithMatchLimits(limits, [&] {
    size_t begin, end;
    absl::Status error;
    EXPECT_FALSE((*re)->Find(subject, 0, true, &begin, &end, &error));
    EXPECT_EQ(error.code(), absl::StatusCode::kResourceExhausted);
    EXPECT_THAT(std::string(error.message()), HasSubstr("(?:ab)+|c"));
  });
}

TEST(OnigRegexTest, RunawayBacktrackingIsAnErrorNotANonMatch) {
  absl::StatusOr<std::unique_ptr<const OnigRegex>> re = OnigRegex::Compile("(?:a|aa)+$");
  ASSERT_TRUE(re.ok()) << re.status();
  const std::string subject = std::string(60, 'a') + "!";
  for (bool ascii : {true, false}) {
    size_t begin, end;
    absl::Status error;
    EXPECT_FALSE((*re)->Find(subject, 0, ascii, &begin, &end, &error));
    EXPECT_EQ(error.code(), absl::StatusCode::kResourceExhausted);
    EXPECT_THAT(std::string(error.message()), HasSubstr("limit"));
  }
}

TEST(OnigRegexTest, UnsupportedConstructsAreErrors) {
  for (const char* pattern : {"\\w+", "\\bx", "(a)\\1", "[[:alpha:]]", "[a-z&&[^aeiou]]", "(?x) a",
                              "\\p{Greek}", "a{1,2}+", "[a", "(a", "a)", "\\"}) {
    absl::StatusOr<std::unique_ptr<const OnigRegex>> re = OnigRegex::Compile(pattern);
    EXPECT_EQ(re.status().code(), absl::StatusCode::kInvalidArgument) << pattern;
    EXPECT_THAT(std::string(re.status().message()), HasSubstr("regex")) << pattern;
  }
  EXPECT_FALSE(OnigRegex::Compile("\xFF").ok());
}

TEST(OnigRegexTest, Literal) {
  absl::StatusOr<std::unique_ptr<const OnigRegex>> re = OnigRegex::Literal("a.b(");
  ASSERT_TRUE(re.ok());
  size_t begin, end;
  absl::Status error;
  ASSERT_TRUE((*re)->Find("axb(a.b(", 0, true, &begin, &end, &error));
  EXPECT_EQ(begin, 4u);
  EXPECT_EQ(end, 8u);
}

}  // namespace
}  // namespace r1serve::text
