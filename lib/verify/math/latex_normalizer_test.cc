#include "lib/verify/math/latex_normalizer.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace r1serve::verify {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;

std::string Text(std::string_view raw) { return NormalizeLatexAnswer(raw).text; }

TEST(NormalizeLatexAnswerTest, DelimitersSizesAndSpacing) {
  EXPECT_EQ(Text("$\\left( 3, \\frac{\\pi}{2} \\right)$"), "( 3, \\frac{\\pi}{2} )");
  EXPECT_EQ(Text("\\displaystyle \\Bigl(1\\Bigr)"), "(1)");
  EXPECT_EQ(Text("a\\,b\\;c\\quad d~e"), "a b c d e");
  EXPECT_EQ(Text("\\left.\\frac{1}{2}\\right|"), "\\frac{1}{2}|");
}

TEST(NormalizeLatexAnswerTest, FractionSpellings) {
  EXPECT_EQ(Text("\\dfrac{9}{7}"), "\\frac{9}{7}");
  EXPECT_EQ(Text("\\tfrac12"), "\\frac12");
  EXPECT_EQ(Text("\\dbinom{5}{2}"), "\\binom{5}{2}");
}

TEST(NormalizeLatexAnswerTest, TextWrappers) {
  NormalizedAnswer n = NormalizeLatexAnswer("\\text{Evelyn}");
  EXPECT_EQ(n.text, "Evelyn");
  EXPECT_TRUE(n.text_wrapped);
  EXPECT_FALSE(NormalizeLatexAnswer("\\frac{1}{2}\\text{ cm}").text_wrapped);
  EXPECT_EQ(Text("\\boxed{\\mathbf{5}}"), "5");
}

TEST(NormalizeLatexAnswerTest, Units) {
  NormalizedAnswer n = NormalizeLatexAnswer("864 \\mbox{ inches}^2");
  EXPECT_EQ(n.text, "864");
  EXPECT_THAT(n.notes, Contains("unit 'inches'"));
  EXPECT_EQ(Text("5.4 \\text{ cents}"), "5.4");
  EXPECT_EQ(Text("1.6 \\mathrm{~cm}"), "1.6");
  EXPECT_EQ(Text("12 cm"), "12");
  EXPECT_EQ(Text("20 minutes."), "20");
  EXPECT_EQ(Text("9.6 \\AA"), "9.6");
  // A letter is a unit only inside \text / \mathrm, and a unit needs a value before it.
  EXPECT_EQ(Text("5 m"), "5 m");
  EXPECT_EQ(Text("3 \\mathrm{m}"), "3");
  EXPECT_EQ(Text("cm"), "cm");
}

TEST(NormalizeLatexAnswerTest, Degrees) {
  for (std::string_view raw :
       {"90^\\circ", "90^{\\circ}", "90\\degree", "90°", "90 degrees", "90\\text{ degrees}"}) {
    NormalizedAnswer n = NormalizeLatexAnswer(raw);
    EXPECT_EQ(n.text, "90") << raw;
    EXPECT_TRUE(n.degrees) << raw;
  }
}

TEST(NormalizeLatexAnswerTest, Percent) {
  for (std::string_view raw : {"28\\%", "28%", "28 percent", "28 \\text{percent}"}) {
    NormalizedAnswer n = NormalizeLatexAnswer(raw);
    EXPECT_EQ(n.text, "28") << raw;
    EXPECT_TRUE(n.percent) << raw;
  }
  EXPECT_FALSE(NormalizeLatexAnswer("28").percent);
}

TEST(NormalizeLatexAnswerTest, ThousandsSeparators) {
  EXPECT_EQ(Text("10,\\!080"), "10080");
  EXPECT_EQ(Text("11,\\! 111,\\! 111,\\! 100"), "11111111100");
  EXPECT_EQ(Text("1{,}000"), "1000");
  EXPECT_EQ(Text("58,500"), "58500");
  EXPECT_EQ(Text("10\\,080"), "10080");
  EXPECT_EQ(Text("\\$32,\\!348"), "32348");
  // Lists stay lists.
  EXPECT_EQ(Text("1,-2"), "1,-2");
  EXPECT_EQ(Text("3, 5, 7"), "3, 5, 7");
  EXPECT_EQ(Text("(6,31,-1)"), "(6,31,-1)");
}

TEST(NormalizeLatexAnswerTest, BaseSubscripts) {
  EXPECT_EQ(Text("52_8"), "52");
  EXPECT_EQ(Text("4210_{5}"), "4210");
  EXPECT_EQ(Text("x_1"), "x_1");
}

TEST(NormalizeLatexAnswerTest, MembershipAndPunctuation) {
  EXPECT_EQ(Text("x \\in [-2,7]"), "[-2,7]");
  EXPECT_EQ(Text("42."), "42");
  EXPECT_EQ(Text("42;"), "42");
  EXPECT_EQ(Text("5!"), "5!");
  EXPECT_EQ(Text("x = 3"), "x = 3");  // the other side decides
}

TEST(NormalizeLatexAnswerTest, Conjunctions) {
  EXPECT_EQ(Text("1 \\text{ or } 2"), "1 , 2");
  EXPECT_EQ(Text("1 and 2"), "1, 2");
}

TEST(NormalizeLatexAnswerTest, HeaderExample) {
  NormalizedAnswer n = NormalizeLatexAnswer("\\$32,\\!348.50 \\text{ dollars}.");
  EXPECT_EQ(n.text, "32348.50");
  EXPECT_THAT(n.notes, ElementsAre("dollar sign", "thousands separators", "unit 'dollars'"));
}

TEST(NormalizeLatexAnswerTest, Dollars) {
  NormalizedAnswer n = NormalizeLatexAnswer("\\$18.90");
  EXPECT_EQ(n.text, "18.90");
  EXPECT_THAT(n.notes, Contains("dollar sign"));
}

}  // namespace
}  // namespace r1serve::verify
