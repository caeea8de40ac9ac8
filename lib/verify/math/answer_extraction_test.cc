#include "lib/verify/math/answer_extraction.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace r1serve::verify {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

ExtractedAnswer Extract(std::string_view response) { return ExtractFinalAnswer(response, {}); }

TEST(AnswerSectionTest, TextAfterTheLastThinkClose) {
  EXPECT_EQ(AnswerSection("a</think>b</think>c"), "c");
  EXPECT_EQ(AnswerSection("no tags"), "no tags");
}

TEST(ExtractFinalAnswerTest, EveryBoxInOrder) {
  ExtractedAnswer found = Extract("x \\boxed{1} y \\fbox{2} z \\framebox{3} \\boxed 4 $");
  EXPECT_EQ(found.method, "boxed");
  EXPECT_THAT(found.candidates, ElementsAre("1", "2", "3", "4"));
}

TEST(ExtractFinalAnswerTest, NestedBracesAndEscapes) {
  EXPECT_THAT(Extract("\\boxed{\\frac{1}{2}}").candidates, ElementsAre("\\frac{1}{2}"));
  EXPECT_THAT(Extract("\\boxed{\\{1, 2\\}}").candidates, ElementsAre("\\{1, 2\\}"));
  EXPECT_THAT(Extract("\\boxed{ 7 }").candidates, ElementsAre("7"));
}

TEST(ExtractFinalAnswerTest, UnclosedBoxIsSkipped) {
  ExtractedAnswer found = Extract("The answer is 5. \\boxed{\\frac{1}{2}");
  EXPECT_NE(found.method, "boxed");
}

TEST(ExtractFinalAnswerTest, BoxedIgnoresSimilarCommands) {
  EXPECT_THAT(Extract("\\boxedx{1} so we get 2").candidates, ElementsAre("2"));
}

TEST(ExtractFinalAnswerTest, OnlyAfterThink) {
  ExtractedAnswer found = Extract("<think>\\boxed{1}</think>The answer is 2.");
  EXPECT_EQ(found.method, "answer phrase");
  EXPECT_THAT(found.candidates, ElementsAre("2"));
}

TEST(ExtractFinalAnswerTest, AnswerPhrases) {
  EXPECT_THAT(Extract("So the answer is 17.").candidates, ElementsAre("17"));
  EXPECT_THAT(Extract("Answer: $x = 3$").candidates, ElementsAre("x = 3"));
  EXPECT_THAT(Extract("The final answer is \\(\\frac{3}{4}\\).").candidates,
              ElementsAre("\\frac{3}{4}"));
  EXPECT_THAT(Extract("**Final Answer:** 73").candidates, ElementsAre("73"));
  EXPECT_THAT(Extract("The answer is 3.5. Next line").candidates, ElementsAre("3.5"));
  // The last phrase wins.
  EXPECT_THAT(Extract("answer is 5\nno wait, the answer is 6").candidates, ElementsAre("6"));
}

TEST(ExtractFinalAnswerTest, Gsm8kHashes) {
  ExtractedAnswer found = Extract("She makes 9 * 2 = 18.\n#### 18");
  EXPECT_EQ(found.method, "####");
  EXPECT_THAT(found.candidates, ElementsAre("18"));
}

TEST(ExtractFinalAnswerTest, MarkdownBold) {
  ExtractedAnswer found = Extract("Adding up, we get **73** apples in total.");
  EXPECT_EQ(found.method, "bold");
  EXPECT_THAT(found.candidates, ElementsAre("73"));
  // Bold text without a digit is not an answer.
  EXPECT_EQ(Extract("**Step one** then 4").method, "last number");
}

TEST(ExtractFinalAnswerTest, BareAnswerAndLastNumber) {
  ExtractedAnswer bare = Extract("\n\\dfrac{9}{7}\n");
  EXPECT_EQ(bare.method, "bare answer");
  EXPECT_THAT(bare.candidates, ElementsAre("\\dfrac{9}{7}"));
  EXPECT_THAT(Extract("We get 3/4 in the end").candidates, ElementsAre("3/4"));
  EXPECT_THAT(Extract("It costs 1,234.50 dollars total.").candidates, ElementsAre("1,234.50"));
  EXPECT_THAT(Extract("It drops to -7 degrees").candidates, ElementsAre("-7"));
}

TEST(ExtractFinalAnswerTest, NothingFound) {
  ExtractedAnswer found = Extract("I do not know how to solve this problem.");
  EXPECT_EQ(found.method, "");
  EXPECT_THAT(found.candidates, IsEmpty());
}

TEST(ExtractFinalAnswerTest, OnlyTheTailIsScanned) {
  std::string response = "\\boxed{1}" + std::string(100, ' ') + "the answer is 2";
  ExtractedAnswer found = ExtractFinalAnswer(response, {.max_tail_bytes = 50});
  EXPECT_THAT(found.candidates, ElementsAre("2"));
}

TEST(ExtractFinalAnswerTest, LongBoxIsCapped) {
  std::string response = "\\boxed{" + std::string(5000, '1') + "} and 3";
  ExtractedAnswer found = ExtractFinalAnswer(response, {.max_answer_bytes = 100});
  EXPECT_NE(found.method, "boxed");
}

TEST(ReadBraceGroupTest, Balanced) {
  std::string_view contents;
  size_t end;
  ASSERT_TRUE(ReadBraceGroup("{a{b}c}d", 0, 100, &contents, &end));
  EXPECT_EQ(contents, "a{b}c");
  EXPECT_EQ(end, 7u);
  EXPECT_FALSE(ReadBraceGroup("{a{b}c", 0, 100, &contents, &end));
  ASSERT_TRUE(ReadBraceGroup("{\\}}", 0, 100, &contents, &end));
  EXPECT_EQ(contents, "\\}");
}

}  // namespace
}  // namespace r1serve::verify
