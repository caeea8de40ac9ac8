// Exact forms: an expression as a ratio of two polynomials with rational coefficients in the
// "atoms" i, sqrt(n) (n squarefree), pi, e, infinity and the variables. Monomials are written
// canonically (i^2 = -1, sqrt(a)*sqrt(b) = g*sqrt(ab/g^2)), and since these atoms are linearly
// independent over Q, two forms are equal exactly when their cross products are: an exact
// decision, with no tolerance. So 1/2004! and 1/2006! differ, sqrt(8) equals 2*sqrt(2), and
// 1/(1+sqrt 2) equals sqrt(2)-1.
//
//   absl::StatusOr<ExactForm> a = ToExactForm(*lhs, options, &budget);
//   absl::StatusOr<ExactForm> b = ToExactForm(*rhs, options, &budget);
//   if (a.ok() && b.ok()) equal = ExactEqual(*a, *b, options, &budget).value();
//
// An expression has no exact form (UNIMPLEMENTED) when it uses functions (sin, ln, ...),
// powers with non-integer exponents other than square roots and exact roots of constants,
// or would grow past the caps (exponent, factorial, bits, terms): the caller then evaluates at
// random rational points (see ExactPoint) or numerically. DEADLINE_EXCEEDED when the budget runs
// out; INVALID_ARGUMENT on division by 0.
#pragma once

#include <gmpxx.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/verify/math/math_expression.h"
#include "lib/verify/math/math_verifier_options.h"
#include "lib/verify/math/work_budget.h"

namespace r1serve::verify {

struct Monomial {
  bool imaginary = false;  // a factor i
  mpz_class radical = 1;   // a factor sqrt(radical); radical squarefree, >= 1
  std::vector<std::pair<std::string, long>> powers;  // atoms and their nonzero powers, sorted

  bool operator<(const Monomial& other) const;
  bool operator==(const Monomial& other) const;
};

using Polynomial = std::map<Monomial, mpq_class>;

struct ExactForm {
  Polynomial numerator;
  Polynomial denominator;  // never zero; {1: 1} for a polynomial

  // The value when it is a rational number.
  bool IsRational(mpq_class* value) const;
};

// Rational values for variables: evaluating at a point keeps a form exact when the symbolic
// one is too large ((x+y+1)^30 has too many terms, its value at x = 3/2, y = 7/5 does not).
using ExactPoint = std::vector<std::pair<std::string, mpq_class>>;

// With `point`, its variables are replaced by their values.
absl::StatusOr<ExactForm> ToExactForm(const Expr& e, const MathVerifierOptions& options,
                                      WorkBudget* budget, const ExactPoint* point = nullptr);

// Whether a = c * b for a nonzero rational constant c: equations a = 0 and b = 0 that are
// multiples of each other.
absl::StatusOr<bool> ExactProportional(const ExactForm& a, const ExactForm& b,
                                       const MathVerifierOptions& options, WorkBudget* budget);

absl::StatusOr<bool> ExactEqual(const ExactForm& a, const ExactForm& b,
                                const MathVerifierOptions& options, WorkBudget* budget);

std::string ExactFormToString(const ExactForm& f);

}  // namespace r1serve::verify
