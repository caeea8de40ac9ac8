// Math expressions: the tree that normalised LaTeX answers parse into, and its parser.
//
//   WorkBudget budget(deadline);
//   absl::StatusOr<ExprPtr> e = ParseMathExpression("\\frac{3\\sqrt{3}}{4}", options, &budget);
//
// The parser reads the LaTeX that NormalizeLatexAnswer writes: numbers (12, 0.5, .35, 4.5e33),
// one-letter variables with optional subscripts (x_1), Greek letters (\theta), constants (\pi,
// e, i, \infty), + - * / \cdot \times \div, implicit products (2\sqrt{3}, 3x, (a+5)(b+2)),
// powers (x^2, x^{n+1}, right-associative), factorials, \frac{a}{b} (and \frac43), \sqrt{x},
// \sqrt[n]{x}, \binom{n}{k}, |x|, functions (\sin x, \ln(x), \log_2 8, \sin^2 x), mixed
// numbers (1\frac{4}{5} is 1 + 4/5) and brackets of any kind as grouping. Commas, "=" and
// set braces belong to the answer's structure (math_answer.h), not to expressions.
// Recursion is capped at options.max_expression_depth; every node costs a budget tick.
#pragma once

#include <gmpxx.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/verify/math/math_verifier_options.h"
#include "lib/verify/math/work_budget.h"

namespace r1serve::verify {

struct Expr;
using ExprPtr = std::shared_ptr<const Expr>;

struct Expr {
  enum class Kind {
    kNumber,     // value
    kSymbol,     // name: a variable, or "pi", "e", "i", "inf"
    kAdd,        // args[0] + args[1] + ...
    kMul,        // args[0] * args[1] * ...
    kPow,        // args[0] ^ args[1]
    kNeg,        // -args[0]
    kFunction,   // name(args...): sqrt, root(x, n), sin, ln, log(x, base), binom(n, k), abs...
    kFactorial,  // args[0]!
  };
  Kind kind;
  mpq_class value;
  // For a number written with a decimal point or an exponent: its significant digits;
  // 0 for an integer or fraction.
  int decimal_significant_digits = 0;
  // ... and the power of ten of its last written digit (-3 for 0.333, 32 for 4.5e33).
  int decimal_exponent = 0;
  std::string name;
  std::vector<ExprPtr> args;
};

ExprPtr MakeNumber(mpq_class value);
ExprPtr MakeSymbol(std::string name);
ExprPtr MakeNode(Expr::Kind kind, std::vector<ExprPtr> args, std::string name = "");

// The expression as plain text, e.g. "3*sqrt(3)/4": for reasons and tests.
std::string ExprToString(const Expr& e);

// The variables of `e` (symbols other than pi, e, i, inf), added to *names.
void CollectVariables(const Expr& e, std::vector<std::string>* names);

absl::StatusOr<ExprPtr> ParseMathExpression(std::string_view latex,
                                            const MathVerifierOptions& options, WorkBudget* budget);

}  // namespace r1serve::verify
