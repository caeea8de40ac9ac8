#include "lib/verify/math/math_verifier.h"

#include <atomic>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace r1serve::verify {
namespace {

MathVerdict Check(const std::string& response, const std::string& reference,
                  const MathVerifierOptions& options = {}) {
  return VerifyMathAnswer(response, reference, absl::Now() + absl::Seconds(10), options);
}

// The verdict for `answer` boxed at the end of a typical solution.
MathVerdict Boxed(const std::string& answer, const std::string& reference) {
  return Check("<think>\nreasoning\n</think>\nSo the answer is $\\boxed{" + answer + "}$.",
               reference);
}

#define EXPECT_EQUIVALENT(answer, reference)                                          \
  do {                                                                                \
    MathVerdict v = Boxed(answer, reference);                                         \
    EXPECT_EQ(v.status, MathStatus::kCorrect)                                         \
        << "answer " << (answer) << " reference " << (reference) << ": " << v.reason; \
  } while (0)

#define EXPECT_DIFFERENT(answer, reference)                                           \
  do {                                                                                \
    MathVerdict v = Boxed(answer, reference);                                         \
    EXPECT_EQ(v.status, MathStatus::kWrong)                                           \
        << "answer " << (answer) << " reference " << (reference) << ": " << v.reason; \
  } while (0)

TEST(MathVerifierTest, Integers) {
  EXPECT_EQUIVALENT("42", "42");
  EXPECT_EQUIVALENT("042", "42");
  EXPECT_EQUIVALENT("-7", "-7");
  EXPECT_EQUIVALENT("18.00", "18");
  EXPECT_DIFFERENT("41", "42");
  EXPECT_DIFFERENT("-42", "42");
}

TEST(MathVerifierTest, Decimals) {
  EXPECT_EQUIVALENT("0.5", "\\frac{1}{2}");
  EXPECT_EQUIVALENT(".35625", "0.35625");
  EXPECT_EQUIVALENT("0.333", "\\frac{1}{3}");  // rounds, 3 significant digits
  EXPECT_EQUIVALENT("\\frac{1}{3}", "0.3333");
  EXPECT_DIFFERENT("0.33", "\\frac{1}{3}");   // too few digits to round
  EXPECT_DIFFERENT("0.334", "\\frac{1}{3}");  // rounds to 0.333
  EXPECT_DIFFERENT("1.63", "1.6");
  EXPECT_DIFFERENT("18.0", "18.4");
}

TEST(MathVerifierTest, Fractions) {
  EXPECT_EQUIVALENT("\\frac{14}{3}", "\\frac{14}{3}");
  EXPECT_EQUIVALENT("14/3", "\\frac{14}{3}");
  EXPECT_EQUIVALENT("\\frac43", "\\frac{4}{3}");
  EXPECT_EQUIVALENT("\\frac 59", "5/9");
  EXPECT_EQUIVALENT("\\frac9{19}", "\\frac{9}{19}");
  EXPECT_EQUIVALENT("\\frac{28}{6}", "\\frac{14}{3}");
  EXPECT_EQUIVALENT("-\\frac{35}{9}", "\\frac{-35}{9}");
  EXPECT_DIFFERENT("\\frac{3}{14}", "\\frac{14}{3}");
  EXPECT_DIFFERENT("\\frac{35}{9}", "-\\frac{35}{9}");
}

TEST(MathVerifierTest, MixedNumbers) {
  EXPECT_EQUIVALENT("1\\frac{4}{5}", "\\frac{9}{5}");
  EXPECT_EQUIVALENT("137 \\frac{1}{2}", "137.5");
  EXPECT_EQUIVALENT("9/5", "1\\frac{4}{5}");
  EXPECT_DIFFERENT("\\frac{4}{5}", "1\\frac{4}{5}");
  EXPECT_DIFFERENT("1\\frac{2}{0}", "1");  // no crash on a zero denominator
}

TEST(MathVerifierTest, ScientificNotation) {
  EXPECT_EQUIVALENT("4.5 \\times 10^{33}", "4.5e33");
  EXPECT_EQUIVALENT("4.5\\cdot10^{33}", "4.5e33");
  EXPECT_EQUIVALENT("1e-5", "10^{-5}");
  EXPECT_EQUIVALENT("3.00e8", "3e8");
  EXPECT_DIFFERENT("4.5e32", "4.5e33");
  EXPECT_DIFFERENT("4.6 \\times 10^{33}", "4.5e33");
}

TEST(MathVerifierTest, PiAndRadicals) {
  EXPECT_EQUIVALENT("\\pi", "\\pi");
  EXPECT_EQUIVALENT("2\\pi", "\\pi \\cdot 2");
  EXPECT_EQUIVALENT("\\frac{\\pi}{2}", "\\pi/2");
  EXPECT_EQUIVALENT("3\\sqrt{13}", "\\sqrt{117}");
  EXPECT_EQUIVALENT("11\\sqrt2", "\\sqrt{242}");
  EXPECT_EQUIVALENT("\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}");
  EXPECT_EQUIVALENT("\\sqrt{2}-1", "\\frac{1}{1+\\sqrt{2}}");
  EXPECT_EQUIVALENT("2\\sqrt{5}", "\\sqrt{20}");
  EXPECT_EQUIVALENT("\\sqrt[3]{27}", "3");
  EXPECT_EQUIVALENT("18+2\\pi", "2\\pi + 18");
  EXPECT_EQUIVALENT("\\frac{20000}{\\pi}", "20000\\pi^{-1}");
  EXPECT_DIFFERENT("3\\sqrt{13}", "3\\sqrt{12}");
  EXPECT_DIFFERENT("\\sqrt{2}", "1.41421356");
  EXPECT_DIFFERENT("\\sqrt{2}", "1.414");
}

TEST(MathVerifierTest, ComplexNumbers) {
  EXPECT_EQUIVALENT("6-5i", "6 - 5i");
  EXPECT_EQUIVALENT("-5i+6", "6 - 5i");
  EXPECT_EQUIVALENT("1+2\\sqrt{3} i", "1+\\sqrt{12}i");
  EXPECT_EQUIVALENT("i^2", "-1");
  EXPECT_DIFFERENT("6+5i", "6 - 5i");
}

TEST(MathVerifierTest, Expressions) {
  EXPECT_EQUIVALENT("p-q", "p - q");
  EXPECT_EQUIVALENT("-q+p", "p - q");
  EXPECT_EQUIVALENT("ab+2a+5b+10", "(a+5)(b+2)");
  EXPECT_EQUIVALENT("(x-1)(x^4+x^2+1)", "x^5 - x^4 + x^3 - x^2 + x - 1");
  EXPECT_EQUIVALENT("\\frac{x^2-1}{x-1}", "x+1");
  EXPECT_EQUIVALENT("\\frac{11+9a}{20}", "\\frac{11}{20}+\\frac{9a}{20}");
  EXPECT_EQUIVALENT("2(k+1)", "2k+2");
  EXPECT_EQUIVALENT("\\sin^2 x + \\cos^2 x", "1");
  EXPECT_EQUIVALENT("\\cot x", "\\frac{\\cos x}{\\sin x}");
  EXPECT_EQUIVALENT("e^{t}/3", "\\frac{e^t}{3}");
  EXPECT_EQUIVALENT("\\ln 2 + i\\pi/3", "\\ln(2) + \\frac{\\pi i}{3}");
  // Too many terms to expand: compared exactly at random rational points, never in doubles
  // (where the +1 would be lost).
  EXPECT_EQUIVALENT("(1+w+x+y+z)^{30}", "(x+y+z+w+1)^{30}");
  EXPECT_DIFFERENT("(x+y+z+w+1)^{30}", "(x+y+z+w+1)^{30}+1");
  EXPECT_DIFFERENT("(x+1)^{400}", "(x+1)^{400}-1");
  EXPECT_DIFFERENT("p+q", "p - q");
  EXPECT_DIFFERENT("ab+2a+5b+11", "(a+5)(b+2)");
  EXPECT_DIFFERENT("\\tan x", "\\cot x");
  EXPECT_DIFFERENT("x^2", "y^2");
}

TEST(MathVerifierTest, Equations) {
  EXPECT_EQUIVALENT("y = 2x + 3", "y = 2x + 3");
  EXPECT_EQUIVALENT("y=3+2x", "y = 2x + 3");
  EXPECT_EQUIVALENT("2x - y + 3 = 0", "y = 2x + 3");
  EXPECT_EQUIVALENT("10x - 14y + 22z + 8 = 0", "5x - 7y + 11z + 4 = 0");
  EXPECT_EQUIVALENT("x = 5", "5");  // "x = 3" vs "3"
  EXPECT_EQUIVALENT("5", "x=5");
  EXPECT_DIFFERENT("y = 2x - 3", "y = 2x + 3");
  EXPECT_DIFFERENT("x = 4", "5");
  EXPECT_DIFFERENT("z = 2x + 3", "y = 2x + 3");
}

TEST(MathVerifierTest, TuplesAreOrdered) {
  EXPECT_EQUIVALENT("(6, 31, -1)", "(6,31,-1)");
  EXPECT_EQUIVALENT("\\left( 3, \\frac{\\pi}{2} \\right)", "\\left( 3, \\frac{\\pi}{2} \\right)");
  EXPECT_EQUIVALENT("(3, \\pi/2)", "\\left( 3, \\frac{\\pi}{2} \\right)");
  EXPECT_EQUIVALENT("(1,-16,-4,43)", "(1, -16, -4, 43)");
  EXPECT_DIFFERENT("(31, 6, -1)", "(6,31,-1)");
  EXPECT_DIFFERENT("(6, 31)", "(6,31,-1)");
}

TEST(MathVerifierTest, ListsAndSetsAreUnordered) {
  EXPECT_EQUIVALENT("-2, 1", "1,-2");
  EXPECT_EQUIVALENT("3,5,7", "3, 5, 7");
  EXPECT_EQUIVALENT("7, 3, 5", "3, 5, 7");
  EXPECT_EQUIVALENT("\\{-2, 1+\\sqrt{5}, 1-\\sqrt{5}\\}", "\\{1\\pm\\sqrt{5},-2\\}");
  EXPECT_EQUIVALENT("1+\\sqrt{19}, 1-\\sqrt{19}", "1 \\pm \\sqrt{19}");
  EXPECT_EQUIVALENT("3 \\pm 2\\sqrt{2}", "3 \\pm 2 \\sqrt{2}");
  EXPECT_EQUIVALENT("x=1 \\text{ or } x=-2", "1,-2");
  EXPECT_EQUIVALENT("-2 and 1", "1,-2");
  EXPECT_EQUIVALENT("(1, -2)", "1,-2");
  EXPECT_DIFFERENT("(-2, 1)", "1,-2");  // a tuple fixes the order
  EXPECT_DIFFERENT("1, 2", "1,-2");
  EXPECT_DIFFERENT("1", "1,-2");
  EXPECT_DIFFERENT("1+\\sqrt{19}", "1 \\pm \\sqrt{19}");
}

TEST(MathVerifierTest, Intervals) {
  EXPECT_EQUIVALENT("(3,4]", "(3,4]");
  EXPECT_EQUIVALENT("(-\\infty, 0]", "(-\\infty,0]");
  EXPECT_EQUIVALENT("(2, \\infty)", "(2,\\infty)");
  EXPECT_EQUIVALENT("\\left(\\frac{3}{5},\\frac{8}{3}\\right]", "(0.6, 8/3]");
  EXPECT_EQUIVALENT("(3, \\infty) \\cup (-\\infty, 2)", "(-\\infty, 2) \\cup (3, \\infty)");
  EXPECT_EQUIVALENT("[-2,7]", "x \\in [-2,7]");
  EXPECT_EQUIVALENT("x > 3", "(3, \\infty)");
  EXPECT_EQUIVALENT("x \\geq 3", "[3, \\infty)");
  EXPECT_EQUIVALENT("3 \\ge x", "(-\\infty, 3]");
  EXPECT_EQUIVALENT("-1 < x \\le 2", "(-1, 2]");
  EXPECT_EQUIVALENT("2 \\geq x > -1", "(-1, 2]");
  EXPECT_EQUIVALENT("x \xE2\x89\xA4 2", "(-\\infty, 2]");
  EXPECT_DIFFERENT("x > 3", "[3, \\infty)");
  EXPECT_DIFFERENT("x < 3", "(3, \\infty)");
  EXPECT_DIFFERENT("[3,4]", "(3,4]");
  EXPECT_DIFFERENT("(3,4)", "(3,4]");
  EXPECT_DIFFERENT("(-\\infty, 2) \\cup (4, \\infty)", "(-\\infty, 2) \\cup (3, \\infty)");
  EXPECT_DIFFERENT("(0,9)", "(0,9) \\cup (9,36)");
}

TEST(MathVerifierTest, Matrices) {
  EXPECT_EQUIVALENT("\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}",
                    "\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}");
  EXPECT_EQUIVALENT("\\begin{bmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{bmatrix}",
                    "\\begin{pmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}");
  EXPECT_EQUIVALENT("(-2, -14, -7)", "\\begin{pmatrix} -2 \\\\ -14 \\\\ -7 \\end{pmatrix}");
  EXPECT_EQUIVALENT("\\left(\\begin{array}{cc} -1 & 0 \\\\ 0 & -1 \\end{array}\\right)",
                    "\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}");
  EXPECT_DIFFERENT("\\begin{pmatrix} 0 & -1 \\\\ -1 & 0 \\end{pmatrix}",
                   "\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}");
  EXPECT_DIFFERENT("\\begin{pmatrix} -1 & 0 \\end{pmatrix}",
                   "\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}");
}

TEST(MathVerifierTest, MultipleChoice) {
  EXPECT_EQUIVALENT("\\text{(C)}", "\\text{(C)}");
  EXPECT_EQUIVALENT("C", "\\text{(C)}");
  EXPECT_EQUIVALENT("(C)", "\\text{(C)}");
  EXPECT_EQUIVALENT("\\textbf{(C)}", "\\text{(C)}");
  EXPECT_EQUIVALENT("\\textbf{(C)} 12", "\\text{(C)}");
  EXPECT_EQUIVALENT("C) 12", "\\text{(C)}");
  EXPECT_DIFFERENT("(B)", "\\text{(C)}");
  EXPECT_DIFFERENT("\\textbf{(B)} 12", "\\text{(C)}");
  EXPECT_DIFFERENT("12", "\\text{(C)}");
}

TEST(MathVerifierTest, TextAnswers) {
  EXPECT_EQUIVALENT("\\text{Evelyn}", "\\text{Evelyn}");
  EXPECT_EQUIVALENT("Evelyn", "\\text{Evelyn}");
  EXPECT_EQUIVALENT("\\text{East}", "\\text{east}");
  EXPECT_EQUIVALENT("\\text{an ellipse}", "\\text{ellipse}");
  EXPECT_EQUIVALENT("\\textbf{(809)}", "809");  // a wrapped number is a number
  EXPECT_EQUIVALENT("\\text{5 apples}", "5");
  EXPECT_DIFFERENT("\\text{west}", "\\text{east}");
  EXPECT_DIFFERENT("\\text{odd}", "\\text{even}");
  EXPECT_DIFFERENT("5", "\\text{even}");
}

TEST(MathVerifierTest, UnitsDegreesDollars) {
  EXPECT_EQUIVALENT("90", "90^\\circ");
  EXPECT_EQUIVALENT("90^{\\circ}", "90");
  EXPECT_EQUIVALENT("90 degrees", "90^\\circ");
  EXPECT_EQUIVALENT("\\frac{270}{7}", "\\frac{270}7\\text{ degrees}");
  EXPECT_EQUIVALENT("5.4", "5.4 \\text{ cents}");
  EXPECT_EQUIVALENT("864", "864 \\mbox{ inches}^2");
  EXPECT_EQUIVALENT("15 \\text{ cm}^2", "15\\mbox{ cm}^2");
  EXPECT_EQUIVALENT("1.6 \\mathrm{~cm}", "1.6");
  EXPECT_EQUIVALENT("\\$18.90", "\\$18.90");
  EXPECT_EQUIVALENT("18.9", "\\$18.90");
  EXPECT_EQUIVALENT("18 dollars", "18");
  EXPECT_EQUIVALENT("5 \\text{ apples}", "5");
  EXPECT_EQUIVALENT("x_0 \\cos(\\omega t) + \\dot{x}_0 \\sin(\\omega t)/\\omega",
                    "x_{0} \\cos (\\omega t)+\\dot{x}_{0} \\sin (\\omega t) / \\omega");
  EXPECT_EQUIVALENT("52_8", "52_8");
  EXPECT_EQUIVALENT("52", "52_8");
  EXPECT_DIFFERENT("53_8", "52_8");
  EXPECT_DIFFERENT("91^\\circ", "90^\\circ");
}

TEST(MathVerifierTest, ThousandsSeparators) {
  EXPECT_EQUIVALENT("10080", "10,\\!080");
  EXPECT_EQUIVALENT("11111111100", "11,\\! 111,\\! 111,\\! 100");
  EXPECT_EQUIVALENT("58500", "58,500");
  EXPECT_EQUIVALENT("58,500", "58500");
  EXPECT_EQUIVALENT("32{,}348", "\\$32,\\!348");
  EXPECT_EQUIVALENT("10\\,080", "10080");
  EXPECT_DIFFERENT("58,501", "58500");
}

TEST(MathVerifierTest, UnicodeSymbols) {
  EXPECT_EQUIVALENT(
      "\xE2\x88\x92"
      "5",
      "-5");                                // U+2212 minus sign
  EXPECT_EQUIVALENT("2\xCF\x80", "2\\pi");  // pi
  EXPECT_EQUIVALENT(
      "3\xC3\x97"
      "4",
      "12");                                              // multiplication sign
  EXPECT_EQUIVALENT("90\xC2\xB0", "90^\\circ");           // degree sign
  EXPECT_EQUIVALENT("(2, \xE2\x88\x9E)", "(2,\\infty)");  // infinity
}

TEST(MathVerifierTest, TrailingPunctuation) {
  EXPECT_EQUIVALENT("42.", "42");
  EXPECT_EQUIVALENT("42,", "42");
  EXPECT_EQUIVALENT("\\frac{1}{2}.", "1/2");
}

TEST(MathVerifierTest, Percent) {
  EXPECT_EQUIVALENT("28\\%", "28");  // 28 percent is 28%
  EXPECT_EQUIVALENT("28", "28\\%");
  EXPECT_EQUIVALENT("28 percent", "28\\%");
  EXPECT_EQUIVALENT("0.28", "28\\%");  // reference is a percentage
  EXPECT_DIFFERENT("0.28", "28");      // no scaling without a percentage
  EXPECT_DIFFERENT("5", "500");
  EXPECT_DIFFERENT("5", "0.05");
  EXPECT_DIFFERENT("500", "5");
  EXPECT_DIFFERENT("0.05", "5");
}

// Known grader failures, each a regression.
TEST(MathVerifierRegressionTest, ExactWhenBothSidesAreExact) {
  EXPECT_DIFFERENT("\\frac{1}{2004!}", "\\frac{1}{2006!}");
  EXPECT_EQUIVALENT("\\frac{1}{2006!}", "\\frac{1}{2006!}");
  EXPECT_EQUIVALENT("\\frac{2005 \\cdot 2006}{2006!}", "\\frac{1}{2004!}");
  EXPECT_DIFFERENT("\\frac{1}{2^{99}}", "\\frac{1}{2^{98}}");
  EXPECT_DIFFERENT("1/2^99", "1/2^98");
  EXPECT_EQUIVALENT("2^{-99}", "\\frac{1}{2^{99}}");
  EXPECT_DIFFERENT("2^{100}+1", "2^{100}");
}

TEST(MathVerifierRegressionTest, PiIsNever314) {
  EXPECT_DIFFERENT("3.14", "\\pi");
  EXPECT_DIFFERENT("\\pi", "3.14");
  EXPECT_DIFFERENT("3.14159265358979", "\\pi");
  EXPECT_DIFFERENT("6.28", "2\\pi");
}

TEST(MathVerifierRegressionTest, RepeatedBoxIsOneAnswer) {
  MathVerdict v = Check("The answer is \\boxed{840}. Again: \\boxed{840}", "840");
  EXPECT_EQ(v.status, MathStatus::kCorrect) << v.reason;
  EXPECT_EQ(v.extracted_answer, "840");
  v = Check("\\boxed{840} \\boxed{840}", "840840");
  EXPECT_EQ(v.status, MathStatus::kWrong) << v.reason;
  v = Check("\\boxed{0.5} and so \\boxed{\\frac{1}{2}}", "1/2");
  EXPECT_EQ(v.status, MathStatus::kCorrect) << v.reason;
}

TEST(MathVerifierRegressionTest, MarkdownBoldIsFound) {
  MathVerdict v = Check("<think>hmm</think>\nAdding them up gives **73**.", "73");
  EXPECT_EQ(v.status, MathStatus::kCorrect) << v.reason;
  EXPECT_EQ(v.extracted_answer, "73");
  v = Check("</think>**Final answer:** 73", "73");
  EXPECT_EQ(v.status, MathStatus::kCorrect) << v.reason;
}

TEST(MathVerifierRegressionTest, BareDfracParses) {
  MathVerdict v = Check("</think>\n\\dfrac{9}{7}", "\\frac{9}{7}");
  EXPECT_EQ(v.status, MathStatus::kCorrect) << v.reason;
  EXPECT_EQUIVALENT("\\dfrac{9}{7}", "\\frac{9}{7}");
  EXPECT_EQUIVALENT("\\tfrac{9}{7}", "9/7");
  EXPECT_EQUIVALENT("\\frac{9}{7}", "\\dfrac{9}{7}");
}

TEST(MathVerifierRegressionTest, HedgingIsWrong) {
  MathVerdict v = Check("It is either \\boxed{3} or \\boxed{5}.", "3");
  EXPECT_EQ(v.status, MathStatus::kWrong) << v.reason;
  EXPECT_NE(v.reason.find("hedging"), std::string::npos) << v.reason;
  v = Check("\\boxed{3} \\boxed{5} \\boxed{7}", "7");
  EXPECT_EQ(v.status, MathStatus::kWrong) << v.reason;
  // Boxing each value of a list answer separately is not hedging.
  v = Check("The roots are \\boxed{1} and \\boxed{-2}.", "1,-2");
  EXPECT_EQ(v.status, MathStatus::kCorrect) << v.reason;
}

TEST(MathVerifierTest, ExtractionForms) {
  EXPECT_EQ(Check("</think>The answer is 17.", "17").status, MathStatus::kCorrect);
  EXPECT_EQ(Check("</think>Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.",
                  "0.5")
                .status,
            MathStatus::kCorrect);
  EXPECT_EQ(Check("Janet sells 9 eggs.\n#### 18", "18").status, MathStatus::kCorrect);
  EXPECT_EQ(Check("She makes 9 * 2 = 18 dollars every day.", "18").status, MathStatus::kCorrect);
  EXPECT_EQ(Check("</think>\\fbox{204} minutes", "204").status, MathStatus::kCorrect);
  EXPECT_EQ(Check("$\\framebox{204}$", "204").status, MathStatus::kCorrect);
  // Only the text after the last </think> counts.
  EXPECT_EQ(Check("\\boxed{5}</think>The answer is 6.", "5").status, MathStatus::kWrong);
}

TEST(MathVerifierTest, NoAnswer) {
  MathVerdict v = Check("<think>I am not sure.</think>I cannot solve this.", "5");
  EXPECT_EQ(v.status, MathStatus::kNoAnswer) << v.reason;
  EXPECT_EQ(v.extracted_answer, "");
  v = Check("", "5");
  EXPECT_EQ(v.status, MathStatus::kNoAnswer);
  // Reasoning cut off before "</think>": the whole text is read, and here holds no answer.
  v = Check("<think>Let me think about the problem", "5");
  EXPECT_EQ(v.status, MathStatus::kNoAnswer);
}

TEST(MathVerifierTest, UnparseableReference) {
  MathVerdict v = Boxed("5", "\\frac{1}{");
  EXPECT_EQ(v.status, MathStatus::kUnparseableReference) << v.reason;
  v = Boxed("5", "");
  EXPECT_EQ(v.status, MathStatus::kUnparseableReference) << v.reason;
  // The same unparseable text is still recognised as the same answer.
  v = Boxed("np.arcsin(10/13)", "np.arcsin(10/13)");
  EXPECT_EQ(v.status, MathStatus::kCorrect) << v.reason;
}

TEST(MathVerifierTest, UnparseableAnswerIsWrong) {
  MathVerdict v = Boxed("\\frac{1}{", "5");
  EXPECT_EQ(v.status, MathStatus::kWrong) << v.reason;
  EXPECT_NE(v.reason.find("could not be parsed"), std::string::npos) << v.reason;
}

TEST(MathVerifierTest, ReasonTellsTheStory) {
  MathVerdict v = Boxed("\\dfrac{3}{4}", "0.75");
  ASSERT_EQ(v.status, MathStatus::kCorrect);
  EXPECT_EQ(v.extracted_answer, "\\dfrac{3}{4}");
  EXPECT_NE(v.reason.find("extracted"), std::string::npos) << v.reason;
  EXPECT_NE(v.reason.find("\\frac{3}{4}"), std::string::npos) << v.reason;
  EXPECT_NE(v.reason.find("0.75"), std::string::npos) << v.reason;
  EXPECT_NE(v.reason.find("equal"), std::string::npos) << v.reason;
}

TEST(MathVerifierTest, PastDeadlineIsTimeout) {
  MathVerdict v = VerifyMathAnswer("\\boxed{5}", "5", absl::Now() - absl::Seconds(1));
  EXPECT_EQ(v.status, MathStatus::kTimeout);
  EXPECT_NE(v.reason.find("deadline"), std::string::npos);
}

TEST(MathVerifierTest, HeavyWorkTimesOutInsteadOfHanging) {
  // A product of many sums expands into a huge polynomial; with a tiny deadline it must stop.
  std::string big;
  for (int k = 0; k < 40; ++k) big += "(a+b+c+d+" + std::to_string(k) + ")";
  MathVerifierOptions options;
  options.max_polynomial_terms = 1 << 20;
  absl::Time start = absl::Now();
  MathVerdict v = VerifyMathAnswer("\\boxed{" + big + "}", big + "+1",
                                   absl::Now() + absl::Milliseconds(50), options);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_EQ(v.status, MathStatus::kTimeout) << v.reason;
}

TEST(MathVerifierTest, CapsBoundTheWork) {
  absl::Time start = absl::Now();
  // Past the caps: no exact form, and the numeric comparison cannot tell; judged wrong, fast.
  MathVerdict v = Boxed("10^{1000000000}", "10^{1000000000}+1");
  EXPECT_EQ(v.status, MathStatus::kWrong) << v.reason;
  v = Boxed("100000!", "100000! + 1");
  EXPECT_EQ(v.status, MathStatus::kWrong) << v.reason;
  std::string deep(500, '(');
  deep += "1";
  deep += std::string(500, ')');
  v = Boxed(deep, "1");
  EXPECT_EQ(v.status, MathStatus::kWrong) << v.reason;
  std::string long_answer(100000, '1');
  v = Boxed(long_answer, "1");
  EXPECT_NE(v.status, MathStatus::kCorrect);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

TEST(MathVerifierTest, LongResponseScansOnlyTheTail) {
  std::string response(5 << 20, 'x');
  response += " so the answer is \\boxed{12}.";
  absl::Time start = absl::Now();
  MathVerdict v = Check(response, "12");
  EXPECT_EQ(v.status, MathStatus::kCorrect) << v.reason;
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500));
}

TEST(MathVerifierTest, DeterministicAndThreadSafe) {
  const std::vector<std::pair<std::string, std::string>> items = {
      {"\\boxed{(x+y+z+w+1)^{30}}", "(1+w+x+y+z)^{30}"},
      {"\\boxed{\\sin^2 x + \\cos^2 x}", "1"},
      {"\\boxed{\\frac{1}{2004!}}", "\\frac{1}{2006!}"},
      {"the answer is 0.333", "\\frac13"}};
  std::vector<MathVerdict> expected;
  for (const auto& [response, reference] : items) expected.push_back(Check(response, reference));
  std::vector<std::thread> threads;
  std::atomic<int> mismatches = 0;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < 50; ++round) {
        for (size_t k = 0; k < items.size(); ++k) {
          MathVerdict v = Check(items[k].first, items[k].second);
          if (v.status != expected[k].status || v.reason != expected[k].reason) ++mismatches;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(mismatches, 0);
}

TEST(MathVerifierTest, StatusNames) {
  EXPECT_STREQ(MathStatusName(MathStatus::kCorrect), "correct");
  EXPECT_STREQ(MathStatusName(MathStatus::kUnparseableReference), "unparseable reference");
  EXPECT_STREQ(MathStatusName(MathStatus::kTimeout), "timeout");
}

}  // namespace
}  // namespace r1serve::verify
