#include "tools/tokenize/json_lines.h"

#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace r1serve::tools {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ParseTextLineTest, DecodesEscapesAndSurrogatePairs) {
  absl::StatusOr<std::string> text = ParseTextLine(R"( "a\tb\u00e9\ud83d\ude00\u0000" )");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, std::string("a\tb\xC3\xA9\xF0\x9F\x98\x80\0", 10));
}

TEST(ParseTextLineTest, AcceptsCrLfLineEnding) {
  absl::StatusOr<std::string> text = ParseTextLine("\"x\"\r");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "x");
}

TEST(ParseTextLineTest, RejectsNonStringsAndBrokenJson) {
  EXPECT_THAT(ParseTextLine("42").status().message(), HasSubstr("expected a JSON string"));
  EXPECT_THAT(ParseTextLine("").status().message(), HasSubstr("not valid JSON"));
  EXPECT_THAT(ParseTextLine("\"open").status().message(), HasSubstr("not valid JSON"));
  // A lone surrogate has no UTF-8 form, so it cannot reach the tokenizer.
  EXPECT_FALSE(ParseTextLine(R"("\ud800")").ok());
  // Nor can raw bytes that are not UTF-8.
  EXPECT_FALSE(ParseTextLine("\"\xFF\"").ok());
}

TEST(ParseIdsLineTest, ReadsIdsAndIgnoresOtherKeys) {
  absl::StatusOr<std::vector<text::TokenId>> ids =
      ParseIdsLine(R"({"ids":[0,7,-1,2147483647],"note":"x"})");
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_THAT(*ids, ElementsAre(0, 7, -1, 2147483647));
  EXPECT_TRUE(ParseIdsLine(R"({"ids":[]})")->empty());
}

TEST(ParseIdsLineTest, RejectsWhatIsNotAnIdList) {
  EXPECT_THAT(ParseIdsLine("[1,2]").status().message(), HasSubstr("expected an object"));
  EXPECT_THAT(ParseIdsLine(R"({"id":[1]})").status().message(), HasSubstr("\"ids\" array"));
  EXPECT_THAT(ParseIdsLine(R"({"ids":[1,2.5]})").status().message(), HasSubstr("ids[1]"));
  EXPECT_THAT(ParseIdsLine(R"({"ids":[2147483648]})").status().message(), HasSubstr("ids[0]"));
  EXPECT_THAT(ParseIdsLine(R"({"ids":["3"]})").status().message(), HasSubstr("ids[0]"));
}

TEST(Utf8Test, AcceptsWellFormedAndRejectsTheRest) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("a\xC3\xA9\xE4\xB8\x80\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF"));
  EXPECT_FALSE(IsValidUtf8("\xC0\x80"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xE4\xB8"));          // truncated
  EXPECT_FALSE(IsValidUtf8("\x80"));              // lone continuation byte
}

TEST(AppendJsonStringTest, EscapesLikeJsonAndRepairsBadBytes) {
  std::string out;
  AppendJsonString(std::string("\"\\\n\r\t\b\f\x01\x7F\xC3\xA9\xE2\x80\xA8", 14), &out);
  EXPECT_EQ(out, "\"\\\"\\\\\\n\\r\\t\\b\\f\\u0001\x7F\xC3\xA9\xE2\x80\xA8\"");
  out.clear();
  AppendJsonString("a\xFF\x62\xE4\xB8", &out);  // \x62 is 'b'
  EXPECT_EQ(out, "\"a\xEF\xBF\xBD\x62\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST(AppendLinesTest, MatchesJsonStringify) {
  std::string out;
  AppendIdsLine({}, &out);
  AppendIdsLine({1, -2, 151667}, &out);
  AppendErrorLine(3, "bad \"x\"", &out);
  EXPECT_EQ(out, "{\"ids\":[]}\n{\"ids\":[1,-2,151667]}\n{\"error\":\"line 3: bad \\\"x\\\"\"}\n");
}

// Feeds `input` through a file so LineReader sees real read() block boundaries.
std::vector<std::string> ReadAllLines(const std::string& input) {
  std::FILE* file = std::tmpfile();
  EXPECT_NE(file, nullptr);
  EXPECT_EQ(std::fwrite(input.data(), 1, input.size(), file), input.size());
  std::fflush(file);
  lseek(fileno(file), 0, SEEK_SET);
  LineReader reader(fileno(file));
  int reads = 0;
  reader.set_before_read([&] { ++reads; });
  std::vector<std::string> lines;
  std::string_view line;
  while (reader.Next(&line)) lines.emplace_back(line);
  std::fclose(file);
  EXPECT_GE(reads, 1);
  EXPECT_TRUE(reader.read_error().empty());
  return lines;
}

TEST(LineReaderTest, SplitsLinesKeepingEmptyOnesAndUnterminatedTail) {
  EXPECT_THAT(ReadAllLines("a\n\nb\r\nc"), ElementsAre("a", "", "b\r", "c"));
  EXPECT_THAT(ReadAllLines("a\n"), ElementsAre("a"));
  EXPECT_THAT(ReadAllLines(""), ElementsAre());
}

TEST(LineReaderTest, HandlesLinesLongerThanOneReadBlock) {
  const std::string long_line(3 << 20, 'x');
  EXPECT_THAT(ReadAllLines("s\n" + long_line + "\nt\n"), ElementsAre("s", long_line, "t"));
}

}  // namespace
}  // namespace r1serve::tools
