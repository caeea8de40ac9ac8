#include "lib/verify/math/math_expression.h"

#include <complex>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "lib/verify/math/exact_form.h"
#include "lib/verify/math/numeric_eval.h"

namespace r1serve::verify {
namespace {

class MathExpressionTest : public ::testing::Test {
 protected:
  ExprPtr Parse(std::string_view latex) {
    absl::StatusOr<ExprPtr> e = ParseMathExpression(latex, options_, &budget_);
    EXPECT_TRUE(e.ok()) << latex << ": " << e.status();
    return e.ok() ? *e : MakeNumber(0);
  }
  std::string Printed(std::string_view latex) { return ExprToString(*Parse(latex)); }
  std::string Exact(std::string_view latex) {
    absl::StatusOr<ExactForm> f = ToExactForm(*Parse(latex), options_, &budget_);
    if (!f.ok()) return std::string(f.status().message());
    return ExactFormToString(*f);
  }
  bool ParseFails(std::string_view latex) {
    return !ParseMathExpression(latex, options_, &budget_).ok();
  }

  MathVerifierOptions options_;
  WorkBudget budget_{absl::Now() + absl::Seconds(10)};
};

TEST_F(MathExpressionTest, Numbers) {
  EXPECT_EQ(Printed("42"), "42");
  EXPECT_EQ(Printed("0.5"), "1/2");
  EXPECT_EQ(Printed(".35"), "7/20");
  EXPECT_EQ(Printed("4.5e3"), "4500");
  EXPECT_EQ(Printed("1e-2"), "1/100");
  ExprPtr e = Parse("0.3330");
  EXPECT_EQ(e->decimal_significant_digits, 4);
  EXPECT_EQ(e->decimal_exponent, -4);
  EXPECT_EQ(Parse("12")->decimal_significant_digits, 0);
}

TEST_F(MathExpressionTest, OperatorsAndPrecedence) {
  EXPECT_EQ(Exact("1+2*3"), "7");
  EXPECT_EQ(Exact("-2^2"), "-4");
  EXPECT_EQ(Exact("2^3^2"), "512");
  EXPECT_EQ(Exact("2^{10}"), "1024");
  EXPECT_EQ(Exact("2^10"), "1024");  // meant as 2^{10}
  EXPECT_EQ(Exact("6/2/3"), "1");
  EXPECT_EQ(Exact("3 \\cdot 4 \\times 5 \\div 2"), "30");
  EXPECT_EQ(Exact("2(3+4)"), "14");
  EXPECT_EQ(Exact("(1+2)(3+4)"), "21");
  EXPECT_EQ(Exact("5!"), "120");
  EXPECT_EQ(Exact("|{-3}|"), "3");
}

TEST_F(MathExpressionTest, LatexConstructs) {
  EXPECT_EQ(Exact("\\frac{3}{4}"), "3/4");
  EXPECT_EQ(Exact("\\frac43"), "4/3");
  EXPECT_EQ(Exact("\\frac 59"), "5/9");
  EXPECT_EQ(Exact("\\frac9{19}"), "9/19");
  EXPECT_EQ(Exact("\\sqrt{12}"), "2*sqrt(3)");
  EXPECT_EQ(Exact("\\sqrt[3]{54}"), "root is irrational");
  EXPECT_EQ(Exact("\\sqrt[3]{27}"), "3");
  EXPECT_EQ(Exact("\\binom{6}{2}"), "15");
  EXPECT_EQ(Exact("1\\frac{4}{5}"), "9/5");
  EXPECT_EQ(Exact("2\\pi r"), "2*pi*r");
  EXPECT_EQ(Exact("\\frac{\\sqrt{3}}{3}"), "1/3*sqrt(3)");
  EXPECT_EQ(Exact("x_1 + x_{1}"), "2*x_1");
  EXPECT_EQ(Exact("\\theta"), "theta");
}

TEST_F(MathExpressionTest, ExactFormsAreCanonical) {
  EXPECT_EQ(Exact("\\sqrt{2}\\sqrt{6}"), "2*sqrt(3)");
  EXPECT_EQ(Exact("\\frac{1}{\\sqrt{2}}"), "1/2*sqrt(2)");
  EXPECT_EQ(Exact("i^2"), "-1");
  EXPECT_EQ(Exact("\\frac{1}{i}"), "-i");
  EXPECT_EQ(Exact("\\sqrt{-9}"), "3*i");
  EXPECT_EQ(Exact("(x+1)^2 - x^2 - 2x"), "1");
  EXPECT_EQ(Exact("\\sqrt{1009^2 \\cdot 2}"), "1009*sqrt(2)");
  EXPECT_EQ(Exact("\\sqrt{0}"), "0");
}

TEST_F(MathExpressionTest, NoExactFormPastCapsOrForFunctions) {
  EXPECT_NE(Exact("\\sin x").find("function"), std::string::npos);
  EXPECT_NE(Exact("2^{100000}").find("cap"), std::string::npos);
  EXPECT_NE(Exact("20000!").find("cap"), std::string::npos);
  EXPECT_NE(Exact("2^x").find("non-constant"), std::string::npos);
}

TEST_F(MathExpressionTest, ExactEqualityDecides) {
  auto form = [&](std::string_view latex) {
    return *ToExactForm(*Parse(latex), options_, &budget_);
  };
  EXPECT_TRUE(*ExactEqual(form("\\frac{1}{1+\\sqrt{2}}"), form("\\sqrt{2}-1"), options_, &budget_));
  EXPECT_FALSE(*ExactEqual(form("\\frac{1}{2004!}"), form("\\frac{1}{2006!}"), options_, &budget_));
  EXPECT_TRUE(*ExactEqual(form("\\frac{x^2-1}{x-1}"), form("x+1"), options_, &budget_));
  EXPECT_TRUE(*ExactProportional(form("2x-y+3"), form("y-2x-3"), options_, &budget_));
  EXPECT_FALSE(*ExactProportional(form("2x-y+3"), form("y-2x+3"), options_, &budget_));
}

TEST_F(MathExpressionTest, Functions) {
  EXPECT_EQ(Printed("\\sin x"), "sin(x)");
  EXPECT_EQ(Printed("\\sin^2 x"), "sin(x)^2");
  EXPECT_EQ(Printed("\\ln(2)"), "ln(2)");
  EXPECT_EQ(Printed("\\log_2 8"), "log(8, 2)");
  EXPECT_EQ(Printed("\\cos 2x"), "cos(2*x)");
  EXPECT_EQ(Printed("sin(x)"), "sin(x)");
  EXPECT_EQ(Printed("\\lfloor x \\rfloor"), "floor(x)");
}

TEST_F(MathExpressionTest, NumericEvaluation) {
  NumericPoint point = {{"x", 2.0}};
  auto eval = [&](std::string_view latex) {
    return *EvaluateNumeric(*Parse(latex), point, &budget_);
  };
  EXPECT_NEAR(eval("\\sin^2 x + \\cos^2 x").real(), 1.0, 1e-12);
  EXPECT_NEAR(eval("e^{i\\pi}").real(), -1.0, 1e-12);
  EXPECT_NEAR(eval("\\sqrt[3]{-8}").real(), -2.0, 1e-12);
  EXPECT_NEAR(eval("\\log_2 8").real(), 3.0, 1e-12);
  EXPECT_NEAR(eval("x^{10}").real(), 1024.0, 1e-9);
  EXPECT_TRUE(NumericallyClose(1.0, 1.0 + 1e-10, 1e-8));
  EXPECT_FALSE(NumericallyClose(3.14, 3.14159, 1e-8));
}

TEST_F(MathExpressionTest, Errors) {
  EXPECT_TRUE(ParseFails(""));
  EXPECT_TRUE(ParseFails("\\frac{1}{"));
  EXPECT_TRUE(ParseFails("(1+2"));
  EXPECT_TRUE(ParseFails("1 +"));
  EXPECT_TRUE(ParseFails("1, 2"));
  EXPECT_TRUE(ParseFails("a = b"));
  EXPECT_TRUE(ParseFails(std::string(300, '(') + "1" + std::string(300, ')')));
  EXPECT_TRUE(ParseFails(std::string(300, '-') + "1"));
  EXPECT_TRUE(ParseFails("1e99999999"));
}

}  // namespace
}  // namespace r1serve::verify
