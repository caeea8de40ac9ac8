#include "lib/verify/math/math_equivalence.h"

#include <array>
#include <cmath>
#include <complex>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"
#include "lib/verify/math/exact_form.h"
#include "lib/verify/math/numeric_eval.h"

namespace r1serve::verify {
namespace {

using Kind = MathAnswer::Kind;

Equivalence Equal(std::string why) { return {true, std::move(why)}; }
Equivalence Differ(std::string why) { return {false, std::move(why)}; }

// An exact form, or nullopt when the expression has none; DEADLINE_EXCEEDED passes through.
absl::StatusOr<std::optional<ExactForm>> TryExact(const Expr& e, const MathVerifierOptions& options,
                                                  WorkBudget* budget,
                                                  const ExactPoint* point = nullptr) {
  absl::StatusOr<ExactForm> form = ToExactForm(e, options, budget, point);
  if (form.ok()) return std::optional<ExactForm>(*std::move(form));
  if (absl::IsDeadlineExceeded(form.status())) return form.status();
  return std::optional<ExactForm>();
}

// The decimal literal that `e` is (possibly negated), or nullptr.
const Expr* DecimalLiteral(const Expr& e) {
  if (e.kind == Expr::Kind::kNeg) return DecimalLiteral(*e.args[0]);
  return e.kind == Expr::Kind::kNumber && e.decimal_significant_digits > 0 ? &e : nullptr;
}

// Whether `value` rounds to the decimal literal `rounded` (at its last written digit).
bool RoundsTo(const mpq_class& value, const mpq_class& rounded, const Expr& literal) {
  mpz_class power;
  mpz_ui_pow_ui(power.get_mpz_t(), 10,
                static_cast<unsigned long>(std::abs(literal.decimal_exponent)));
  mpq_class ulp = literal.decimal_exponent >= 0 ? mpq_class(power) : mpq_class(1, power);
  return abs(value - rounded) * 2 <= ulp;
}

bool IsSingleVariable(const Expr& e) {
  return e.kind == Expr::Kind::kSymbol && e.name != "pi" && e.name != "e" && e.name != "i" &&
         e.name != "inf";
}

// splitmix64: a fixed, portable stream of points.
uint64_t NextRandom(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

absl::StatusOr<Equivalence> EquivalenceChecker::CompareExpressions(const Expr& answer,
                                                                   const Expr& reference) {
  ASSIGN_OR_RETURN(std::optional<ExactForm> a, TryExact(answer, options_, budget_));
  ASSIGN_OR_RETURN(std::optional<ExactForm> b, TryExact(reference, options_, budget_));
  if (a && b) {
    absl::StatusOr<bool> same = ExactEqual(*a, *b, options_, budget_);
    if (absl::IsDeadlineExceeded(same.status())) return same.status();
    if (same.ok()) {
      std::string forms = absl::StrCat(ExactFormToString(*a), " and ", ExactFormToString(*b));
      if (*same) return Equal("exactly equal: " + forms);
      mpq_class va, vb;
      const Expr* da = DecimalLiteral(answer);
      const Expr* db = DecimalLiteral(reference);
      int min_digits = options_.min_rounding_significant_digits;
      if (min_digits > 0 && a->IsRational(&va) && b->IsRational(&vb)) {
        // The less precise decimal is the rounded one.
        bool answer_rounded = da && da->decimal_significant_digits >= min_digits &&
                              (!db || da->decimal_exponent >= db->decimal_exponent) &&
                              RoundsTo(vb, va, *da);
        bool reference_rounded = db && db->decimal_significant_digits >= min_digits &&
                                 (!da || db->decimal_exponent >= da->decimal_exponent) &&
                                 RoundsTo(va, vb, *db);
        if (answer_rounded || reference_rounded) {
          return Equal("equal after rounding to the decimal's last digit: " + forms);
        }
      }
      return Differ("exact values differ: " + forms);
    }
  }
  ASSIGN_OR_RETURN(std::optional<Equivalence> at_points,
                   CompareAtRationalPoints(answer, reference));
  if (at_points) return *at_points;
  return CompareNumerically(answer, reference, false);
}

absl::StatusOr<std::optional<Equivalence>> EquivalenceChecker::CompareAtRationalPoints(
    const Expr& answer, const Expr& reference) {
  std::vector<std::string> variables;
  CollectVariables(answer, &variables);
  CollectVariables(reference, &variables);
  if (variables.empty()) return std::optional<Equivalence>();
  // p/q in about [0.5, 2.5] with q a prime from 97 to 131: values at which a polynomial
  // identity that fails is unlikely to hold by accident.
  static constexpr std::array<unsigned, 8> kPrimes = {97, 101, 103, 107, 109, 113, 127, 131};
  uint64_t state = 0x9A7105;
  for (int p = 0; p < options_.numeric_points; ++p) {
    ExactPoint point;
    for (const std::string& name : variables) {
      unsigned q = kPrimes[NextRandom(&state) % kPrimes.size()];
      unsigned numerator = q / 2 + static_cast<unsigned>(NextRandom(&state) % (2 * q));
      mpq_class value(numerator, q);
      value.canonicalize();
      point.emplace_back(name, value);
    }
    ASSIGN_OR_RETURN(std::optional<ExactForm> a, TryExact(answer, options_, budget_, &point));
    ASSIGN_OR_RETURN(std::optional<ExactForm> b, TryExact(reference, options_, budget_, &point));
    if (!a || !b) return std::optional<Equivalence>();
    absl::StatusOr<bool> same = ExactEqual(*a, *b, options_, budget_);
    if (absl::IsDeadlineExceeded(same.status())) return same.status();
    if (!same.ok()) return std::optional<Equivalence>();
    if (!*same) {
      return std::optional<Equivalence>(Differ(
          absl::StrCat("exact values differ at a random rational point: ", ExactFormToString(*a),
                       " and ", ExactFormToString(*b))));
    }
  }
  return std::optional<Equivalence>(
      Equal(absl::StrCat("exactly equal at ", options_.numeric_points, " random rational points")));
}

absl::StatusOr<Equivalence> EquivalenceChecker::CompareNumerically(const Expr& answer,
                                                                   const Expr& reference,
                                                                   bool proportional) {
  std::vector<std::string> variables;
  CollectVariables(answer, &variables);
  CollectVariables(reference, &variables);
  int points = variables.empty() ? 1 : options_.numeric_points;
  uint64_t state = 0x5EED;
  int usable = 0;
  std::complex<double> ratio;
  for (int p = 0; p < points; ++p) {
    NumericPoint point;
    for (const std::string& name : variables) {
      // Reals in [0.5, 2.5): positive, away from 0 and 1, where radicals and logs are real.
      double u = static_cast<double>(NextRandom(&state) >> 11) * 0x1.0p-53;
      point.emplace_back(name, 0.5 + 2 * u);
    }
    ASSIGN_OR_RETURN(std::complex<double> va, EvaluateNumeric(answer, point, budget_));
    ASSIGN_OR_RETURN(std::complex<double> vb, EvaluateNumeric(reference, point, budget_));
    auto finite = [](std::complex<double> z) {
      return std::isfinite(z.real()) && std::isfinite(z.imag());
    };
    if (!finite(va) || !finite(vb)) continue;
    ++usable;
    if (proportional) {
      if (std::abs(vb) < 1e-300 || std::abs(va) < 1e-300) {
        if (NumericallyClose(va, vb, options_.relative_tolerance)) continue;
        return Differ("not proportional (one side vanishes)");
      }
      std::complex<double> r = va / vb;
      if (usable == 1) {
        ratio = r;
      } else if (!NumericallyClose(r, ratio, 1e3 * options_.relative_tolerance)) {
        return Differ("not proportional at random points");
      }
      continue;
    }
    if (!NumericallyClose(va, vb, options_.relative_tolerance)) {
      std::string at = variables.empty() ? "" : " at a random point";
      return Differ(absl::StrCat("numerically different", at, ": ", va.real(),
                                 va.imag() != 0 ? absl::StrCat("+", va.imag(), "i") : "", " vs ",
                                 vb.real(),
                                 vb.imag() != 0 ? absl::StrCat("+", vb.imag(), "i") : ""));
    }
  }
  if (usable == 0 || (points > 1 && usable < 2)) {
    return Differ("not comparable: undefined at the test points");
  }
  if (variables.empty()) return Equal(absl::StrCat("numerically equal (", usable, " value)"));
  return Equal(absl::StrCat("numerically equal at ", usable, " random points"));
}

absl::StatusOr<Equivalence> EquivalenceChecker::CompareEquations(const MathAnswer& answer,
                                                                 const MathAnswer& reference) {
  if (IsSingleVariable(*answer.expr) && IsSingleVariable(*reference.expr)) {
    if (answer.expr->name != reference.expr->name) {
      return Differ("equations for different variables");
    }
    ASSIGN_OR_RETURN(Equivalence eq, CompareExpressions(*answer.rhs, *reference.rhs));
    eq.why = "right-hand sides: " + eq.why;
    return eq;
  }
  // lhs - rhs = 0 on both sides, equal up to a constant factor.
  ExprPtr da = MakeNode(Expr::Kind::kAdd, {answer.expr, MakeNode(Expr::Kind::kNeg, {answer.rhs})});
  ExprPtr db =
      MakeNode(Expr::Kind::kAdd, {reference.expr, MakeNode(Expr::Kind::kNeg, {reference.rhs})});
  ASSIGN_OR_RETURN(std::optional<ExactForm> a, TryExact(*da, options_, budget_));
  ASSIGN_OR_RETURN(std::optional<ExactForm> b, TryExact(*db, options_, budget_));
  if (a && b) {
    absl::StatusOr<bool> proportional = ExactProportional(*a, *b, options_, budget_);
    if (absl::IsDeadlineExceeded(proportional.status())) return proportional.status();
    if (proportional.ok()) {
      return *proportional ? Equal("equations are exact multiples of each other")
                           : Differ("equations are not multiples of each other");
    }
  }
  return CompareNumerically(*da, *db, true);
}

absl::StatusOr<Equivalence> EquivalenceChecker::CompareOrdered(
    const std::vector<MathAnswer>& answer, const std::vector<MathAnswer>& reference) {
  if (answer.size() != reference.size()) {
    return Differ(absl::StrCat(answer.size(), " elements, expected ", reference.size()));
  }
  for (size_t k = 0; k < answer.size(); ++k) {
    ASSIGN_OR_RETURN(Equivalence eq, Compare(answer[k], reference[k]));
    if (!eq.equal) return Differ(absl::StrCat("element ", k + 1, " differs: ", eq.why));
  }
  return Equal(absl::StrCat("all ", answer.size(), " elements equal in order"));
}

absl::StatusOr<Equivalence> EquivalenceChecker::CompareUnordered(
    const std::vector<MathAnswer>& answer, const std::vector<MathAnswer>& reference) {
  if (answer.size() != reference.size()) {
    return Differ(absl::StrCat(answer.size(), " elements, expected ", reference.size()));
  }
  std::vector<bool> used(answer.size(), false);
  for (size_t r = 0; r < reference.size(); ++r) {
    bool matched = false;
    for (size_t step = 0; step < answer.size() && !matched; ++step) {
      size_t a = (r + step) % answer.size();  // same position first: lists in order cost O(n)
      if (used[a]) continue;
      ASSIGN_OR_RETURN(Equivalence eq, Compare(answer[a], reference[r]));
      if (eq.equal) used[a] = matched = true;
    }
    if (!matched) {
      return Differ(
          absl::StrCat("reference element ", MathAnswerToString(reference[r]), " has no match"));
    }
  }
  return Equal(absl::StrCat("all ", answer.size(), " elements match in some order"));
}

absl::StatusOr<Equivalence> EquivalenceChecker::Compare(const MathAnswer& answer,
                                                        const MathAnswer& reference) {
  RETURN_IF_ERROR(budget_->Tick());
  const Kind ak = answer.kind, rk = reference.kind;
  if (rk == Kind::kChoice) {
    std::string letter;
    if (ak == Kind::kChoice) letter = answer.text;
    if (ak == Kind::kExpression && answer.expr->kind == Expr::Kind::kSymbol &&
        answer.expr->name.size() == 1) {
      letter = answer.expr->name;
    }
    if (letter.empty()) return Differ("reference is a choice letter; answer is not");
    return letter == reference.text ? Equal("same choice " + letter)
                                    : Differ("choice " + letter + ", expected " + reference.text);
  }
  if (rk == Kind::kText || ak == Kind::kText) {
    if (ak != rk) return Differ("one side is text, the other is not");
    return answer.text == reference.text ? Equal("same text")
                                         : Differ("text \"" + answer.text + "\" differs");
  }
  if (ak == Kind::kEquation && rk == Kind::kEquation) return CompareEquations(answer, reference);
  if (ak == Kind::kEquation) {
    if (!IsSingleVariable(*answer.expr)) return Differ("answer is an equation, reference is not");
    MathAnswer rhs;
    rhs.expr = answer.rhs;
    ASSIGN_OR_RETURN(Equivalence eq, Compare(rhs, reference));
    eq.why = "after dropping \"" + answer.expr->name + " =\": " + eq.why;
    return eq;
  }
  if (rk == Kind::kEquation) {
    if (!IsSingleVariable(*reference.expr)) {
      return Differ("reference is an equation, answer is not");
    }
    MathAnswer rhs;
    rhs.expr = reference.rhs;
    ASSIGN_OR_RETURN(Equivalence eq, Compare(answer, rhs));
    eq.why = "after dropping \"" + reference.expr->name + " =\" from the reference: " + eq.why;
    return eq;
  }
  if (ak == Kind::kExpression && rk == Kind::kExpression) {
    return CompareExpressions(*answer.expr, *reference.expr);
  }
  // A collection of one element against a single value.
  auto single = [](const MathAnswer& a) {
    return (a.kind == Kind::kList || a.kind == Kind::kSet) && a.items.size() == 1;
  };
  if (single(answer) && !single(reference)) return Compare(answer.items[0], reference);
  if (single(reference) && !single(answer)) return Compare(answer, reference.items[0]);
  auto vector_entries = [](const MathAnswer& m, std::vector<MathAnswer>* out) {
    if (m.kind != Kind::kMatrix) return false;
    if (m.items.size() == 1) {
      *out = m.items[0].items;
      return true;
    }
    if (m.items[0].items.size() != 1) return false;
    for (const MathAnswer& row : m.items) out->push_back(row.items[0]);
    return true;
  };
  if (ak == Kind::kMatrix && rk == Kind::kMatrix) {
    if (answer.items.size() != reference.items.size() ||
        answer.items[0].items.size() != reference.items[0].items.size()) {
      return Differ("matrix shapes differ");
    }
    for (size_t r = 0; r < answer.items.size(); ++r) {
      ASSIGN_OR_RETURN(Equivalence eq,
                       CompareOrdered(answer.items[r].items, reference.items[r].items));
      if (!eq.equal) return Differ(absl::StrCat("row ", r + 1, ": ", eq.why));
    }
    return Equal("matrices equal entry by entry");
  }
  if (ak == Kind::kMatrix || rk == Kind::kMatrix) {
    std::vector<MathAnswer> entries;
    const MathAnswer& matrix = ak == Kind::kMatrix ? answer : reference;
    const MathAnswer& other = ak == Kind::kMatrix ? reference : answer;
    if ((other.kind != Kind::kTuple && other.kind != Kind::kList) ||
        !vector_entries(matrix, &entries)) {
      return Differ("a matrix against a non-vector");
    }
    return ak == Kind::kMatrix ? CompareOrdered(entries, other.items)
                               : CompareOrdered(other.items, entries);
  }
  if (ak == Kind::kTuple && rk == Kind::kTuple) {
    if (answer.items.size() == 2 && reference.items.size() == 2 &&
        (answer.open != reference.open || answer.close != reference.close)) {
      return Differ(absl::StrCat("interval ends differ: ", std::string(1, answer.open), "...",
                                 std::string(1, answer.close), " vs ",
                                 std::string(1, reference.open), "...",
                                 std::string(1, reference.close)));
    }
    return CompareOrdered(answer.items, reference.items);
  }
  bool a_collection = ak == Kind::kTuple || ak == Kind::kList || ak == Kind::kSet;
  bool r_collection = rk == Kind::kTuple || rk == Kind::kList || rk == Kind::kSet;
  if (!a_collection || !r_collection) {
    return Differ(absl::StrCat("different kinds of answer: ", MathAnswerToString(answer), " vs ",
                               MathAnswerToString(reference)));
  }
  // A tuple on either side fixes the order.
  if (rk == Kind::kTuple || ak == Kind::kTuple)
    return CompareOrdered(answer.items, reference.items);
  return CompareUnordered(answer.items, reference.items);
}

}  // namespace r1serve::verify
