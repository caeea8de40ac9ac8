// Math equivalence: decides whether a response's answer equals the reference, structure by
// structure, and says why.
//
//   EquivalenceChecker checker(options, &budget);
//   absl::StatusOr<Equivalence> eq = checker.Compare(answer, reference);
//   if (eq.ok() && eq->equal) ...; eq->why explains either way.
//
// Expressions: exact when both sides have exact forms (exact_form.h), with one allowance: a
// decimal literal of at least min_rounding_significant_digits digits equals a rational it
// correctly rounds (0.333 and 1/3); never an irrational (3.14 is not pi). Otherwise, with
// variables, exactly at options.numeric_points random rational values of them (a difference is
// certain, agreement at every point overwhelmingly likely); otherwise numerically in double
// precision at that many seeded random points (the same points every time: scores are
// reproducible). Equations: same left-hand variable and equal right sides, or lhs - rhs
// proportional. "x = 3" equals "3" when the left side is one variable. Tuples and intervals
// compare in order with their brackets; lists and sets without order (a one-to-one matching);
// a column or row matrix equals a tuple of its entries. Text compares its canonical words,
// choices their letters. DEADLINE_EXCEEDED when the budget runs out.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "lib/verify/math/math_answer.h"
#include "lib/verify/math/math_verifier_options.h"
#include "lib/verify/math/work_budget.h"

namespace r1serve::verify {

struct Equivalence {
  bool equal = false;
  std::string why;
};

class EquivalenceChecker {
 public:
  EquivalenceChecker(const MathVerifierOptions& options, WorkBudget* budget)
      : options_(options), budget_(budget) {}

  absl::StatusOr<Equivalence> Compare(const MathAnswer& answer, const MathAnswer& reference);

  absl::StatusOr<Equivalence> CompareExpressions(const Expr& answer, const Expr& reference);

 private:
  absl::StatusOr<Equivalence> CompareEquations(const MathAnswer& answer,
                                               const MathAnswer& reference);
  absl::StatusOr<Equivalence> CompareOrdered(const std::vector<MathAnswer>& answer,
                                             const std::vector<MathAnswer>& reference);
  absl::StatusOr<Equivalence> CompareUnordered(const std::vector<MathAnswer>& answer,
                                               const std::vector<MathAnswer>& reference);
  // Exact comparison at random rational values of the variables, for expressions whose
  // symbolic forms are too large; nullopt when either side has no exact value there.
  absl::StatusOr<std::optional<Equivalence>> CompareAtRationalPoints(const Expr& answer,
                                                                     const Expr& reference);
  absl::StatusOr<Equivalence> CompareNumerically(const Expr& answer, const Expr& reference,
                                                 bool proportional);

  const MathVerifierOptions& options_;
  WorkBudget* budget_;
};

}  // namespace r1serve::verify
