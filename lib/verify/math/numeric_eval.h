// Numeric evaluation of expressions in complex double precision, for the comparisons that have
// no exact form (functions, symbolic roots, variables under roots) and for equations.
//
//   NumericPoint point = {{"x", 1.37}, {"y", 0.81}};
//   absl::StatusOr<std::complex<double>> v = EvaluateNumeric(*expr, point, &budget);
//
// Constants: pi, e, i; "inf" evaluates as a large finite number so that intervals with
// infinite ends still compare. A variable missing from `point` is an error (the caller gives
// every variable of both sides a value). Non-finite results are returned as such.
#pragma once

#include <complex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/verify/math/math_expression.h"
#include "lib/verify/math/work_budget.h"

namespace r1serve::verify {

using NumericPoint = std::vector<std::pair<std::string, std::complex<double>>>;

absl::StatusOr<std::complex<double>> EvaluateNumeric(const Expr& e, const NumericPoint& point,
                                                     WorkBudget* budget);

// Whether a and b agree within `relative_tolerance` (with a small absolute floor for values
// near zero).
bool NumericallyClose(std::complex<double> a, std::complex<double> b, double relative_tolerance);

}  // namespace r1serve::verify
