#include "lib/verify/math/exact_form.h"

#include <algorithm>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"

namespace r1serve::verify {
namespace {

absl::Status NoExactForm(const std::string& why) { return absl::UnimplementedError(why); }

long BitsOf(const mpq_class& q) {
  return static_cast<long>(mpz_sizeinbase(q.get_num_mpz_t(), 2) +
                           mpz_sizeinbase(q.get_den_mpz_t(), 2));
}

const Monomial& One() {
  static const Monomial* one = new Monomial();
  return *one;
}

Polynomial Constant(const mpq_class& c) {
  Polynomial p;
  if (c != 0) p.emplace(One(), c);
  return p;
}

// m1 * m2, with the rational factor that canonical form pulls out multiplied into *coef.
Monomial MulMonomials(const Monomial& a, const Monomial& b, mpq_class* coef) {
  Monomial m;
  m.imaginary = a.imaginary != b.imaginary;
  if (a.imaginary && b.imaginary) *coef = -*coef;
  if (a.radical == 1) {
    m.radical = b.radical;
  } else if (b.radical == 1) {
    m.radical = a.radical;
  } else {
    mpz_class g;
    mpz_gcd(g.get_mpz_t(), a.radical.get_mpz_t(), b.radical.get_mpz_t());
    m.radical = (a.radical / g) * (b.radical / g);
    *coef *= g;
  }
  size_t i = 0, j = 0;
  while (i < a.powers.size() || j < b.powers.size()) {
    if (j == b.powers.size() || (i < a.powers.size() && a.powers[i].first < b.powers[j].first)) {
      m.powers.push_back(a.powers[i++]);
    } else if (i == a.powers.size() || b.powers[j].first < a.powers[i].first) {
      m.powers.push_back(b.powers[j++]);
    } else {
      long sum = a.powers[i].second + b.powers[j].second;
      if (sum != 0) m.powers.emplace_back(a.powers[i].first, sum);
      ++i;
      ++j;
    }
  }
  return m;
}

class Builder {
 public:
  Builder(const MathVerifierOptions& options, WorkBudget* budget, const ExactPoint* point = nullptr)
      : options_(options), budget_(budget), point_(point) {}

  absl::Status CheckSize(const Polynomial& p) {
    if (static_cast<int>(p.size()) > options_.max_polynomial_terms) {
      return NoExactForm("too many terms");
    }
    for (const auto& [m, c] : p) {
      if (BitsOf(c) > options_.max_exact_bits) return NoExactForm("number too large");
      for (const auto& [atom, power] : m.powers) {
        if (power > options_.max_exponent || power < -options_.max_exponent) {
          return NoExactForm("power too large");
        }
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Polynomial> Add(const Polynomial& a, const Polynomial& b, bool subtract) {
    Polynomial sum = a;
    for (const auto& [m, c] : b) {
      RETURN_IF_ERROR(budget_->Tick());
      mpq_class& slot = sum[m];
      if (subtract) {
        slot -= c;
      } else {
        slot += c;
      }
      if (slot == 0) sum.erase(m);
    }
    RETURN_IF_ERROR(CheckSize(sum));
    return sum;
  }

  absl::StatusOr<Polynomial> Mul(const Polynomial& a, const Polynomial& b) {
    if (static_cast<int64_t>(a.size()) * static_cast<int64_t>(b.size()) >
        static_cast<int64_t>(options_.max_polynomial_terms) * 8) {
      return NoExactForm("product too large");
    }
    Polynomial product;
    for (const auto& [ma, ca] : a) {
      for (const auto& [mb, cb] : b) {
        RETURN_IF_ERROR(budget_->Tick());
        mpq_class coef = ca * cb;
        Monomial m = MulMonomials(ma, mb, &coef);
        mpq_class& slot = product[m];
        slot += coef;
        if (slot == 0) product.erase(m);
      }
    }
    RETURN_IF_ERROR(CheckSize(product));
    return product;
  }

  // Folds a one-term denominator into the numerator.
  absl::StatusOr<ExactForm> Normalize(ExactForm f) {
    if (f.numerator.empty()) {
      f.denominator = Constant(1);
      return f;
    }
    if (f.denominator.size() != 1) return f;
    const auto& [m, c] = *f.denominator.begin();
    Monomial inverse;
    mpq_class coef = 1 / c;
    inverse.imaginary = m.imaginary;  // 1/i = -i
    if (m.imaginary) coef = -coef;
    inverse.radical = m.radical;  // 1/sqrt(r) = sqrt(r)/r
    coef /= m.radical;
    for (const auto& [atom, power] : m.powers) inverse.powers.emplace_back(atom, -power);
    Polynomial factor;
    factor.emplace(inverse, coef);
    ASSIGN_OR_RETURN(f.numerator, Mul(f.numerator, factor));
    f.denominator = Constant(1);
    return f;
  }

  absl::StatusOr<ExactForm> Sum(const ExactForm& a, const ExactForm& b, bool subtract) {
    ExactForm f;
    if (a.denominator == b.denominator) {
      ASSIGN_OR_RETURN(f.numerator, Add(a.numerator, b.numerator, subtract));
      f.denominator = a.denominator;
    } else {
      ASSIGN_OR_RETURN(Polynomial left, Mul(a.numerator, b.denominator));
      ASSIGN_OR_RETURN(Polynomial right, Mul(b.numerator, a.denominator));
      ASSIGN_OR_RETURN(f.numerator, Add(left, right, subtract));
      ASSIGN_OR_RETURN(f.denominator, Mul(a.denominator, b.denominator));
    }
    return Normalize(std::move(f));
  }

  absl::StatusOr<ExactForm> Product(const ExactForm& a, const ExactForm& b) {
    ExactForm f;
    ASSIGN_OR_RETURN(f.numerator, Mul(a.numerator, b.numerator));
    if (f.numerator.empty()) {
      f.denominator = Constant(1);
      return f;
    }
    ASSIGN_OR_RETURN(f.denominator, Mul(a.denominator, b.denominator));
    return Normalize(std::move(f));
  }

  absl::StatusOr<ExactForm> Inverse(const ExactForm& a) {
    if (a.numerator.empty()) return absl::InvalidArgumentError("division by zero");
    return Normalize(ExactForm{a.denominator, a.numerator});
  }

  absl::StatusOr<ExactForm> PowInt(const ExactForm& base, long n) {
    if (n > options_.max_exponent || n < -options_.max_exponent) {
      return NoExactForm(absl::StrCat("exponent ", n, " above the cap"));
    }
    mpq_class value;
    if (base.IsRational(&value) && value != 0 &&
        BitsOf(value) * std::labs(n) > 2 * options_.max_exact_bits) {
      return NoExactForm("power too large");
    }
    ExactForm result{Constant(1), Constant(1)};
    ExactForm square = base;
    for (long k = std::labs(n); k > 0; k >>= 1) {
      if (k & 1) {
        ASSIGN_OR_RETURN(result, Product(result, square));
      }
      if (k > 1) {
        ASSIGN_OR_RETURN(square, Product(square, square));
      }
    }
    if (n < 0) return Inverse(result);
    return result;
  }

  // sqrt(q) for a rational q, as s * sqrt(r) (times i when q < 0).
  absl::StatusOr<ExactForm> SqrtRational(const mpq_class& q) {
    if (q == 0) return ExactForm{Polynomial(), Constant(1)};
    mpz_class n = abs(q.get_num()) * q.get_den();
    mpz_class square = 1;
    mpz_class radical = 1;
    if (mpz_perfect_square_p(n.get_mpz_t())) {
      mpz_sqrt(square.get_mpz_t(), n.get_mpz_t());
    } else {
      constexpr unsigned long kTrialLimit = 200000;
      unsigned long p = 2;
      for (; mpz_cmp_ui(n.get_mpz_t(), p * p * p) >= 0 || p <= 7; p += (p == 2 ? 1 : 2)) {
        if (p > kTrialLimit) return NoExactForm("radicand too large to factor");
        RETURN_IF_ERROR(budget_->Tick());
        if (!mpz_divisible_ui_p(n.get_mpz_t(), p)) continue;
        unsigned long pp = p * p;
        while (mpz_divisible_ui_p(n.get_mpz_t(), pp)) {
          mpz_divexact_ui(n.get_mpz_t(), n.get_mpz_t(), pp);
          square *= p;
        }
        if (mpz_divisible_ui_p(n.get_mpz_t(), p)) {
          mpz_divexact_ui(n.get_mpz_t(), n.get_mpz_t(), p);
          radical *= p;
        }
        if (n == 1) break;
      }
      // What is left has no prime factor below its cube root: 1, a prime, a product of two
      // distinct primes, or the square of a prime.
      if (mpz_perfect_square_p(n.get_mpz_t())) {
        mpz_class root;
        mpz_sqrt(root.get_mpz_t(), n.get_mpz_t());
        square *= root;
      } else {
        radical *= n;
      }
    }
    Monomial m;
    m.imaginary = q < 0;
    m.radical = radical;
    Polynomial p;
    mpq_class coef(square, q.get_den());
    coef.canonicalize();
    p.emplace(m, coef);
    return ExactForm{p, Constant(1)};
  }

  // base^(p/d) for rational constants.
  absl::StatusOr<ExactForm> RationalPower(const ExactForm& base, const mpq_class& exponent) {
    if (exponent.get_den() == 1) {
      if (!exponent.get_num().fits_slong_p()) return NoExactForm("exponent too large");
      return PowInt(base, exponent.get_num().get_si());
    }
    mpq_class b;
    if (!base.IsRational(&b)) return NoExactForm("fractional power of a non-constant");
    if (!exponent.get_den().fits_ulong_p() || !exponent.get_num().fits_slong_p()) {
      return NoExactForm("exponent too large");
    }
    unsigned long d = exponent.get_den().get_ui();
    long p = exponent.get_num().get_si();
    ExactForm root;
    if (d == 2) {
      ASSIGN_OR_RETURN(root, SqrtRational(b));
    } else {
      if (b < 0 && d % 2 == 0) return NoExactForm("even root of a negative number");
      mpz_class num = abs(b.get_num()), den = b.get_den(), rn, rd;
      if (d > 64 || !mpz_root(rn.get_mpz_t(), num.get_mpz_t(), d) ||
          !mpz_root(rd.get_mpz_t(), den.get_mpz_t(), d)) {
        return NoExactForm("root is irrational");
      }
      mpq_class r(rn, rd);
      if (b < 0) r = -r;
      root = ExactForm{Constant(r), Constant(1)};
    }
    return PowInt(root, p);
  }

  absl::StatusOr<mpz_class> SmallNaturalArgument(const Expr& e, const char* what) {
    ASSIGN_OR_RETURN(ExactForm f, Build(e));
    mpq_class v;
    if (!f.IsRational(&v) || v.get_den() != 1 || v < 0) {
      return NoExactForm(absl::StrCat(what, " of a non-natural number"));
    }
    if (v > options_.max_factorial) return NoExactForm(absl::StrCat(what, " above the cap"));
    return v.get_num();
  }

  absl::StatusOr<ExactForm> Build(const Expr& e) {
    RETURN_IF_ERROR(budget_->Tick());
    switch (e.kind) {
      case Expr::Kind::kNumber:
        return ExactForm{Constant(e.value), Constant(1)};
      case Expr::Kind::kSymbol: {
        if (point_ != nullptr) {
          for (const auto& [name, value] : *point_) {
            if (name == e.name) return ExactForm{Constant(value), Constant(1)};
          }
        }
        Monomial m;
        if (e.name == "i") {
          m.imaginary = true;
        } else {
          m.powers.emplace_back(e.name, 1);
        }
        Polynomial p;
        p.emplace(m, 1);
        return ExactForm{p, Constant(1)};
      }
      case Expr::Kind::kAdd: {
        ExactForm sum{Polynomial(), Constant(1)};
        for (const ExprPtr& arg : e.args) {
          ASSIGN_OR_RETURN(ExactForm term, Build(*arg));
          ASSIGN_OR_RETURN(sum, Sum(sum, term, false));
        }
        return sum;
      }
      case Expr::Kind::kMul: {
        ExactForm product{Constant(1), Constant(1)};
        for (const ExprPtr& arg : e.args) {
          ASSIGN_OR_RETURN(ExactForm factor, Build(*arg));
          ASSIGN_OR_RETURN(product, Product(product, factor));
        }
        return product;
      }
      case Expr::Kind::kNeg: {
        ASSIGN_OR_RETURN(ExactForm f, Build(*e.args[0]));
        for (auto& [m, c] : f.numerator) c = -c;
        return f;
      }
      case Expr::Kind::kPow: {
        ASSIGN_OR_RETURN(ExactForm exponent, Build(*e.args[1]));
        mpq_class q;
        if (!exponent.IsRational(&q)) return NoExactForm("non-constant exponent");
        ASSIGN_OR_RETURN(ExactForm base, Build(*e.args[0]));
        return RationalPower(base, q);
      }
      case Expr::Kind::kFactorial: {
        ASSIGN_OR_RETURN(mpz_class n, SmallNaturalArgument(*e.args[0], "factorial"));
        mpz_class f;
        mpz_fac_ui(f.get_mpz_t(), n.get_ui());
        return ExactForm{Constant(mpq_class(f)), Constant(1)};
      }
      case Expr::Kind::kFunction:
        return Function(e);
    }
    return NoExactForm("unknown node");
  }

  absl::StatusOr<ExactForm> Function(const Expr& e) {
    if (e.name == "sqrt") {
      ASSIGN_OR_RETURN(ExactForm arg, Build(*e.args[0]));
      return RationalPower(arg, mpq_class(1, 2));
    }
    if (e.name == "root") {
      ASSIGN_OR_RETURN(ExactForm index, Build(*e.args[1]));
      mpq_class n;
      if (!index.IsRational(&n) || n == 0) return NoExactForm("root of a non-constant index");
      ASSIGN_OR_RETURN(ExactForm arg, Build(*e.args[0]));
      mpq_class inverse = 1 / n;
      return RationalPower(arg, inverse);
    }
    if (e.name == "binom") {
      ASSIGN_OR_RETURN(mpz_class n, SmallNaturalArgument(*e.args[0], "binomial"));
      ASSIGN_OR_RETURN(mpz_class k, SmallNaturalArgument(*e.args[1], "binomial"));
      mpz_class b;
      mpz_bin_uiui(b.get_mpz_t(), n.get_ui(), k.get_ui());
      return ExactForm{Constant(mpq_class(b)), Constant(1)};
    }
    if (e.name == "abs") {
      ASSIGN_OR_RETURN(ExactForm arg, Build(*e.args[0]));
      mpq_class v;
      if (!arg.IsRational(&v)) return NoExactForm("abs of a non-rational");
      return ExactForm{Constant(abs(v)), Constant(1)};
    }
    return NoExactForm(absl::StrCat("function ", e.name));
  }

  const MathVerifierOptions& options_;
  WorkBudget* budget_;
  const ExactPoint* point_;
};

void AppendNumber(const mpq_class& q, std::string* out) {
  std::string s = q.get_str();
  if (s.size() > 40) {
    *out += absl::StrCat("<", mpz_sizeinbase(q.get_num_mpz_t(), 10), "-digit / ",
                         mpz_sizeinbase(q.get_den_mpz_t(), 10), "-digit fraction>");
  } else {
    *out += s;
  }
}

void AppendPolynomial(const Polynomial& p, std::string* out) {
  if (p.empty()) {
    *out += "0";
    return;
  }
  bool first = true;
  for (const auto& [m, c] : p) {
    if (!first) *out += c < 0 ? " - " : " + ";
    std::string factors;
    if (m.imaginary) factors += "*i";
    if (m.radical != 1) factors += "*sqrt(" + m.radical.get_str() + ")";
    for (const auto& [atom, power] : m.powers) {
      factors += "*" + atom;
      if (power != 1) factors += absl::StrCat("^", power);
    }
    mpq_class shown = first ? c : abs(c);
    first = false;
    if (factors.empty()) {
      AppendNumber(shown, out);
    } else if (shown == 1 || shown == -1) {
      if (shown == -1) *out += "-";
      *out += factors.substr(1);
    } else {
      AppendNumber(shown, out);
      *out += factors;
    }
  }
}

}  // namespace

bool Monomial::operator<(const Monomial& other) const {
  if (imaginary != other.imaginary) return imaginary < other.imaginary;
  int c = cmp(radical, other.radical);
  if (c != 0) return c < 0;
  return powers < other.powers;
}

bool Monomial::operator==(const Monomial& other) const {
  return imaginary == other.imaginary && radical == other.radical && powers == other.powers;
}

bool ExactForm::IsRational(mpq_class* value) const {
  if (denominator.size() != 1 || !(denominator.begin()->first == One())) return false;
  if (numerator.empty()) {
    *value = 0;
    return true;
  }
  if (numerator.size() != 1 || !(numerator.begin()->first == One())) return false;
  *value = numerator.begin()->second / denominator.begin()->second;
  return true;
}

absl::StatusOr<ExactForm> ToExactForm(const Expr& e, const MathVerifierOptions& options,
                                      WorkBudget* budget, const ExactPoint* point) {
  Builder builder(options, budget, point);
  return builder.Build(e);
}

absl::StatusOr<bool> ExactEqual(const ExactForm& a, const ExactForm& b,
                                const MathVerifierOptions& options, WorkBudget* budget) {
  if (a.denominator == b.denominator) return a.numerator == b.numerator;
  Builder builder(options, budget);
  ASSIGN_OR_RETURN(Polynomial left, builder.Mul(a.numerator, b.denominator));
  ASSIGN_OR_RETURN(Polynomial right, builder.Mul(b.numerator, a.denominator));
  return left == right;
}

absl::StatusOr<bool> ExactProportional(const ExactForm& a, const ExactForm& b,
                                       const MathVerifierOptions& options, WorkBudget* budget) {
  Builder builder(options, budget);
  ASSIGN_OR_RETURN(Polynomial left, builder.Mul(a.numerator, b.denominator));
  ASSIGN_OR_RETURN(Polynomial right, builder.Mul(b.numerator, a.denominator));
  if (left.empty() || right.empty()) return left.empty() && right.empty();
  if (left.size() != right.size()) return false;
  const auto& [m, cl] = *left.begin();
  auto it = right.find(m);
  if (it == right.end()) return false;
  mpq_class ratio = cl / it->second;
  for (const auto& [mr, cr] : right) {
    RETURN_IF_ERROR(budget->Tick());
    auto found = left.find(mr);
    if (found == left.end() || found->second != ratio * cr) return false;
  }
  return true;
}

std::string ExactFormToString(const ExactForm& f) {
  std::string out;
  AppendPolynomial(f.numerator, &out);
  if (!(f.denominator.size() == 1 && f.denominator.begin()->first == One() &&
        f.denominator.begin()->second == 1)) {
    out = "(" + out + ")/(";
    AppendPolynomial(f.denominator, &out);
    out += ")";
  }
  return out;
}

}  // namespace r1serve::verify
