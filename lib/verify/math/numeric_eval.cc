#include "lib/verify/math/numeric_eval.h"

#include <cmath>
#include <numbers>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"

namespace r1serve::verify {
namespace {

using Complex = std::complex<double>;

bool IsReal(Complex z) { return z.imag() == 0; }

Complex Power(Complex base, Complex exponent) {
  if (IsReal(exponent) && std::abs(exponent.real()) <= 1024 &&
      exponent.real() == std::round(exponent.real())) {
    int n = static_cast<int>(exponent.real());
    Complex result = 1;
    Complex square = base;
    for (int k = std::abs(n); k > 0; k >>= 1) {
      if (k & 1) result *= square;
      square *= square;
    }
    return n < 0 ? Complex(1) / result : result;
  }
  if (base == Complex(0)) return exponent.real() > 0 ? Complex(0) : Complex(INFINITY);
  return std::pow(base, exponent);
}

Complex Function(const std::string& name, const std::vector<Complex>& args) {
  Complex x = args[0];
  if (name == "sqrt") return std::sqrt(x);
  if (name == "root") {
    Complex n = args[1];
    if (IsReal(x) && IsReal(n) && x.real() < 0 && std::fmod(std::abs(n.real()), 2.0) == 1.0) {
      return -std::pow(-x.real(), 1.0 / n.real());  // odd root of a negative number
    }
    return Power(x, Complex(1) / n);
  }
  if (name == "sin") return std::sin(x);
  if (name == "cos") return std::cos(x);
  if (name == "tan") return std::tan(x);
  if (name == "cot") return Complex(1) / std::tan(x);
  if (name == "sec") return Complex(1) / std::cos(x);
  if (name == "csc") return Complex(1) / std::sin(x);
  if (name == "arcsin") return std::asin(x);
  if (name == "arccos") return std::acos(x);
  if (name == "arctan") return std::atan(x);
  if (name == "arccot") return std::atan(Complex(1) / x);
  if (name == "arcsec") return std::acos(Complex(1) / x);
  if (name == "arccsc") return std::asin(Complex(1) / x);
  if (name == "sinh") return std::sinh(x);
  if (name == "cosh") return std::cosh(x);
  if (name == "tanh") return std::tanh(x);
  if (name == "exp") return std::exp(x);
  if (name == "ln") return std::log(x);
  if (name == "log") return args.size() > 1 ? std::log(x) / std::log(args[1]) : std::log(x);
  if (name == "log10") return std::log10(x);
  if (name == "abs") return std::abs(x);
  if (name == "floor") return std::floor(x.real());
  if (name == "ceil") return std::ceil(x.real());
  if (name == "binom") {
    double n = x.real(), k = args[1].real();
    return std::exp(std::lgamma(n + 1) - std::lgamma(k + 1) - std::lgamma(n - k + 1));
  }
  return Complex(NAN, NAN);
}

}  // namespace

absl::StatusOr<Complex> EvaluateNumeric(const Expr& e, const NumericPoint& point,
                                        WorkBudget* budget) {
  RETURN_IF_ERROR(budget->Tick());
  switch (e.kind) {
    case Expr::Kind::kNumber:
      return Complex(e.value.get_d());
    case Expr::Kind::kSymbol:
      if (e.name == "pi") return Complex(std::numbers::pi);
      if (e.name == "e") return Complex(std::numbers::e);
      if (e.name == "i") return Complex(0, 1);
      if (e.name == "inf") return Complex(1e150);
      for (const auto& [name, value] : point) {
        if (name == e.name) return value;
      }
      return absl::InternalError(absl::StrCat("no value for variable ", e.name));
    case Expr::Kind::kAdd: {
      Complex sum = 0;
      for (const ExprPtr& arg : e.args) {
        ASSIGN_OR_RETURN(Complex v, EvaluateNumeric(*arg, point, budget));
        sum += v;
      }
      return sum;
    }
    case Expr::Kind::kMul: {
      Complex product = 1;
      for (const ExprPtr& arg : e.args) {
        ASSIGN_OR_RETURN(Complex v, EvaluateNumeric(*arg, point, budget));
        product *= v;
      }
      return product;
    }
    case Expr::Kind::kPow: {
      ASSIGN_OR_RETURN(Complex base, EvaluateNumeric(*e.args[0], point, budget));
      ASSIGN_OR_RETURN(Complex exponent, EvaluateNumeric(*e.args[1], point, budget));
      return Power(base, exponent);
    }
    case Expr::Kind::kNeg: {
      ASSIGN_OR_RETURN(Complex v, EvaluateNumeric(*e.args[0], point, budget));
      return -v;
    }
    case Expr::Kind::kFactorial: {
      ASSIGN_OR_RETURN(Complex v, EvaluateNumeric(*e.args[0], point, budget));
      return Complex(std::tgamma(v.real() + 1));
    }
    case Expr::Kind::kFunction: {
      std::vector<Complex> args;
      for (const ExprPtr& arg : e.args) {
        ASSIGN_OR_RETURN(Complex v, EvaluateNumeric(*arg, point, budget));
        args.push_back(v);
      }
      return Function(e.name, args);
    }
  }
  return absl::InternalError("unknown expression node");
}

bool NumericallyClose(Complex a, Complex b, double relative_tolerance) {
  double diff = std::abs(a - b);
  double scale = std::max(std::abs(a), std::abs(b));
  return diff <= relative_tolerance * scale || diff <= 1e-12;
}

}  // namespace r1serve::verify
