#include "lib/verify/sandbox/output_compare.h"

#include "gtest/gtest.h"

namespace r1serve::verify {
namespace {

using nlohmann::json;

TEST(CompareStdout, TrailingWhitespaceAndEmptyLinesIgnored) {
  EXPECT_EQ(CompareStdout("1 2\n3\n", "1 2   \n3\t\r\n\n\n"), std::nullopt);
  EXPECT_EQ(CompareStdout("3", "3\n"), std::nullopt);
  EXPECT_EQ(CompareStdout("", "\n\n  \n"), std::nullopt);
}

TEST(CompareStdout, EverythingElseCounts) {
  EXPECT_EQ(CompareStdout("1 2", " 1 2"), "expected \"1 2\" got \" 1 2\" (line 1)");
  EXPECT_EQ(CompareStdout("1\n2", "1\n\n2"), "expected \"2\" got \"\" (line 2)");
  EXPECT_EQ(CompareStdout("1\n2", "1"), "expected \"2\" got end of output (line 2)");
  EXPECT_EQ(CompareStdout("1", "1\n2"), "expected end of output got \"2\" (line 2)");
  EXPECT_EQ(CompareStdout("a\"b", "ab"), "expected \"a\\\"b\" got \"ab\" (line 1)");
}

TEST(CompareJson, NumbersWithinTolerance) {
  EXPECT_TRUE(JsonValuesMatch(json::parse("1.0"), json::parse("1")));
  EXPECT_TRUE(JsonValuesMatch(json::parse("0.3333333333"), json::parse("0.33333334")));
  EXPECT_FALSE(JsonValuesMatch(json::parse("0.3333"), json::parse("0.3334")));
  EXPECT_TRUE(JsonValuesMatch(json::parse("1e20"), json::parse("1.0000001e20")));
  EXPECT_TRUE(JsonValuesMatch(json::parse("0"), json::parse("1e-12")));
  EXPECT_FALSE(JsonValuesMatch(json::parse("9007199254740993"), json::parse("9007199254740992")));
  EXPECT_FALSE(JsonValuesMatch(json::parse("-1"), json::parse("1")));
  EXPECT_TRUE(JsonValuesMatch(json::parse("-5"), json::parse("-5")));
}

TEST(CompareJson, StructureAndTypes) {
  EXPECT_TRUE(JsonValuesMatch(json::parse(R"({"a": [1, 2], "b": null})"),
                              json::parse(R"({"b": null, "a": [1.0, 2]})")));
  EXPECT_FALSE(JsonValuesMatch(json::parse("[1, 2]"), json::parse("[2, 1]")));
  EXPECT_FALSE(JsonValuesMatch(json::parse("[1]"), json::parse("[1, 1]")));
  EXPECT_FALSE(JsonValuesMatch(json::parse("true"), json::parse("1")));
  EXPECT_FALSE(JsonValuesMatch(json::parse("\"1\""), json::parse("1")));
  EXPECT_FALSE(JsonValuesMatch(json::parse(R"({"a": 1})"), json::parse(R"({"a": 1, "b": 2})")));
  EXPECT_EQ(CompareJson(json::parse("[0,1]"), json::parse("[1,0]")), "expected [0,1] got [1,0]");
}

}  // namespace
}  // namespace r1serve::verify
