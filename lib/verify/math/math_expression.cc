#include "lib/verify/math/math_expression.h"

#include <algorithm>
#include <array>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"
#include "lib/verify/math/ascii_text.h"

namespace r1serve::verify {
namespace {

using ascii::IsAlpha;
using ascii::IsDigit;
using ascii::IsSpace;
using ascii::Trim;


// Functions of one argument, with or without a backslash.
constexpr std::array<std::string_view, 22> kFunctions = {
    "sin",  "cos", "tan", "cot", "sec",  "csc", "arcsin", "arccos", "arctan", "sinh", "cosh",
    "tanh", "ln",  "log", "exp", "sqrt", "det", "arcsec", "arccsc", "arccot", "lg",   "abs"};

bool IsFunctionName(std::string_view name) {
  return std::find(kFunctions.begin(), kFunctions.end(), name) != kFunctions.end();
}

// Commands that are operators or closers: they never start a factor.
bool IsOperatorCommand(std::string_view name) {
  static constexpr std::array<std::string_view, 24> kOperators = {
      "cdot", "times", "div",    "pm",  "mp",     "cup",   "cap",    "setminus",
      "le",   "leq",   "ge",     "geq", "lt",     "gt",    "neq",    "ne",
      "to",   "in",    "approx", "end", "rfloor", "rceil", "rangle", "right"};
  return std::find(kOperators.begin(), kOperators.end(), name) != kOperators.end();
}

// Debian's Abseil has its own string_view type.
absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

class Parser {
 public:
  Parser(std::string_view text, const MathVerifierOptions& options, WorkBudget* budget)
      : s_(text), options_(options), budget_(budget) {}

  absl::StatusOr<ExprPtr> ParseAll() {
    ASSIGN_OR_RETURN(ExprPtr e, ParseSum());
    SkipSpaces();
    if (pos_ != s_.size()) return Error("unexpected text");
    return e;
  }

 private:
  absl::Status Error(std::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat(AbslView(what), " at byte ", pos_, " of \"", AbslView(s_), "\""));
  }

  void SkipSpaces() {
    while (pos_ < s_.size() && IsSpace(s_[pos_])) ++pos_;
  }
  bool AtEnd() const { return pos_ >= s_.size(); }
  char Peek() const { return AtEnd() ? '\0' : s_[pos_]; }

  // The name of the command at pos_ ("frac" for "\frac"), or "" when none.
  std::string_view CommandAt(size_t at) const {
    if (at >= s_.size() || s_[at] != '\\') return {};
    size_t k = at + 1;
    while (k < s_.size() && IsAlpha(s_[k])) ++k;
    return s_.substr(at + 1, k - at - 1);
  }
  bool ConsumeCommand(std::string_view name) {
    if (CommandAt(pos_) != name) return false;
    pos_ += name.size() + 1;
    return true;
  }

  // Enters one level of recursion.
  absl::Status Enter() {
    if (++depth_ > options_.max_expression_depth) {
      return absl::ResourceExhaustedError(
          absl::StrCat("expression nested deeper than ", options_.max_expression_depth));
    }
    return budget_->Tick();
  }

  absl::StatusOr<ExprPtr> ParseSum() {
    RETURN_IF_ERROR(Enter());
    std::vector<ExprPtr> terms;
    SkipSpaces();
    bool negate = false;
    if (Peek() == '-' || Peek() == '+') {
      negate = Peek() == '-';
      ++pos_;
    }
    for (;;) {
      ASSIGN_OR_RETURN(ExprPtr term, ParseProduct());
      terms.push_back(negate ? MakeNode(Expr::Kind::kNeg, {term}) : term);
      SkipSpaces();
      if (Peek() == '+' || Peek() == '-') {
        negate = Peek() == '-';
        ++pos_;
        continue;
      }
      break;
    }
    --depth_;
    return terms.size() == 1 ? terms[0] : MakeNode(Expr::Kind::kAdd, std::move(terms));
  }

  bool StartsFactor() {
    SkipSpaces();
    char c = Peek();
    if (IsDigit(c) || c == '.' || IsAlpha(c) || c == '(' || c == '[' || c == '{') return true;
    if (c == '\\') {
      std::string_view name = CommandAt(pos_);
      return !name.empty() && !IsOperatorCommand(name);
    }
    return false;
  }

  absl::StatusOr<ExprPtr> ParseProduct() {
    ASSIGN_OR_RETURN(ExprPtr first, ParseSigned());
    std::vector<ExprPtr> factors = {first};
    for (;;) {
      SkipSpaces();
      if (Peek() == '*' || ConsumeCommand("cdot") || ConsumeCommand("times")) {
        if (Peek() == '*') ++pos_;
        ASSIGN_OR_RETURN(ExprPtr f, ParseSigned());
        factors.push_back(f);
      } else if (Peek() == '/' || ConsumeCommand("div")) {
        if (Peek() == '/') ++pos_;
        ASSIGN_OR_RETURN(ExprPtr f, ParseSigned());
        factors.push_back(MakeNode(Expr::Kind::kPow, {f, MakeNumber(-1)}));
      } else if (StartsFactor()) {
        ASSIGN_OR_RETURN(ExprPtr f, ParsePower());
        factors.push_back(f);
      } else {
        break;
      }
    }
    return factors.size() == 1 ? factors[0] : MakeNode(Expr::Kind::kMul, std::move(factors));
  }

  absl::StatusOr<ExprPtr> ParseSigned() {
    SkipSpaces();
    if (Peek() == '-' || Peek() == '+') {
      bool negate = Peek() == '-';
      ++pos_;
      RETURN_IF_ERROR(Enter());
      ASSIGN_OR_RETURN(ExprPtr e, ParseSigned());
      --depth_;
      return negate ? MakeNode(Expr::Kind::kNeg, {e}) : e;
    }
    return ParsePower();
  }

  absl::StatusOr<ExprPtr> ParsePower() {
    ASSIGN_OR_RETURN(ExprPtr base, ParsePostfix());
    SkipSpaces();
    if (Peek() == '^') {
      ++pos_;
      ASSIGN_OR_RETURN(ExprPtr exponent, ParseExponent());
      base = MakeNode(Expr::Kind::kPow, {base, exponent});
      SkipSpaces();
      while (Peek() == '!') {
        ++pos_;
        base = MakeNode(Expr::Kind::kFactorial, {base});
      }
    }
    return base;
  }

  // The exponent after '^': a braced group, or one signed atom (a whole number: "2^10" is
  // meant as 2^{10}); right-associative.
  absl::StatusOr<ExprPtr> ParseExponent() {
    RETURN_IF_ERROR(Enter());
    SkipSpaces();
    ExprPtr e;
    if (Peek() == '-' || Peek() == '+') {
      bool negate = Peek() == '-';
      ++pos_;
      ASSIGN_OR_RETURN(e, ParseExponent());
      --depth_;
      return negate ? MakeNode(Expr::Kind::kNeg, {e}) : e;
    }
    ASSIGN_OR_RETURN(e, ParsePrimary());
    SkipSpaces();
    if (Peek() == '^') {
      ++pos_;
      ASSIGN_OR_RETURN(ExprPtr up, ParseExponent());
      e = MakeNode(Expr::Kind::kPow, {e, up});
    }
    --depth_;
    return e;
  }

  absl::StatusOr<ExprPtr> ParsePostfix() {
    ASSIGN_OR_RETURN(ExprPtr e, ParsePrimary());
    for (;;) {
      SkipSpaces();
      if (Peek() != '!') break;
      ++pos_;
      e = MakeNode(Expr::Kind::kFactorial, {e});
    }
    return e;
  }

  absl::StatusOr<ExprPtr> ParseGroup(char close) {
    ASSIGN_OR_RETURN(ExprPtr e, ParseSum());
    SkipSpaces();
    if (Peek() != close) return Error(absl::StrCat("expected '", std::string(1, close), "'"));
    ++pos_;
    return e;
  }

  absl::StatusOr<ExprPtr> ParseNumber() {
    std::string digits;
    int fraction_digits = 0;
    bool decimal = false;
    while (IsDigit(Peek())) digits += s_[pos_++];
    if (Peek() == '.' && pos_ + 1 < s_.size() && IsDigit(s_[pos_ + 1])) {
      decimal = true;
      ++pos_;
      while (IsDigit(Peek())) {
        digits += s_[pos_++];
        ++fraction_digits;
      }
    } else if (Peek() == '.' && !digits.empty() &&
               (pos_ + 1 >= s_.size() || !IsAlpha(s_[pos_ + 1]))) {
      ++pos_;  // "3." is 3
    }
    if (digits.empty()) return Error("expected a number");
    long exponent = 0;
    if ((Peek() == 'e' || Peek() == 'E') && pos_ + 1 < s_.size()) {
      size_t k = pos_ + 1;
      bool negative = false;
      if (s_[k] == '+' || s_[k] == '-') negative = s_[k++] == '-';
      size_t exp_start = k;
      while (k < s_.size() && IsDigit(s_[k]) && k - exp_start < 9) ++k;
      if (k > exp_start && (k >= s_.size() || !IsAlpha(s_[k]))) {
        exponent = std::stol(std::string(s_.substr(exp_start, k - exp_start)));
        if (negative) exponent = -exponent;
        decimal = true;
        pos_ = k;
      }
    }
    if (digits.size() > static_cast<size_t>(options_.max_exact_bits / 3)) {
      return absl::ResourceExhaustedError("number too long");
    }
    long scale = exponent - fraction_digits;
    if (std::labs(scale) > options_.max_exponent) {
      return absl::ResourceExhaustedError(absl::StrCat("exponent ", scale, " too large"));
    }
    mpz_class mantissa(digits, 10);
    mpz_class power;
    mpz_ui_pow_ui(power.get_mpz_t(), 10, static_cast<unsigned long>(std::labs(scale)));
    mpq_class value = scale >= 0 ? mpq_class(mantissa * power) : mpq_class(mantissa, power);
    value.canonicalize();
    auto node = std::make_shared<Expr>();
    node->kind = Expr::Kind::kNumber;
    node->value = value;
    if (decimal) {
      size_t first = digits.find_first_not_of('0');
      node->decimal_significant_digits =
          first == std::string::npos ? 1 : static_cast<int>(digits.size() - first);
      node->decimal_exponent = static_cast<int>(scale);
    }
    return ExprPtr(node);
  }

  // A symbol's subscript: "_1", "_{12}", "_n".
  absl::StatusOr<std::string> ParseSubscript() {
    if (Peek() != '_') return std::string();
    ++pos_;
    if (Peek() == '{') {
      size_t close = s_.find('}', pos_);
      if (close == std::string_view::npos) return Error("unclosed subscript");
      std::string sub(s_.substr(pos_ + 1, close - pos_ - 1));
      std::erase(sub, ' ');
      pos_ = close + 1;
      return "_" + sub;
    }
    if (IsDigit(Peek()) || IsAlpha(Peek())) return "_" + std::string(1, s_[pos_++]);
    return Error("bad subscript");
  }

  // One argument of \frac, \sqrt, \binom: a braced group, or one digit, letter or command.
  absl::StatusOr<ExprPtr> ParseArgument() {
    SkipSpaces();
    if (Peek() == '{') {
      ++pos_;
      return ParseGroup('}');
    }
    if (IsDigit(Peek())) return MakeNumber(mpq_class(s_[pos_++] - '0'));
    if (IsAlpha(Peek())) return MakeSymbol(std::string(1, s_[pos_++]));
    if (Peek() == '\\') return ParsePrimary();
    return Error("expected an argument");
  }

  // The argument of a function written without parentheses: \sin 2x, \ln 2.
  absl::StatusOr<ExprPtr> ParseFunctionArgument() {
    SkipSpaces();
    if (Peek() == '(') {
      ++pos_;
      return ParseGroup(')');
    }
    ASSIGN_OR_RETURN(ExprPtr first, ParsePower());
    std::vector<ExprPtr> factors = {first};
    for (;;) {
      SkipSpaces();
      if (!(IsDigit(Peek()) || IsAlpha(Peek()))) break;
      ASSIGN_OR_RETURN(ExprPtr f, ParsePower());
      factors.push_back(f);
    }
    return factors.size() == 1 ? factors[0] : MakeNode(Expr::Kind::kMul, std::move(factors));
  }

  // name [^power] [_base] argument.
  absl::StatusOr<ExprPtr> ParseFunction(std::string name) {
    RETURN_IF_ERROR(Enter());
    ExprPtr power;
    ExprPtr base;
    for (int k = 0; k < 2; ++k) {
      SkipSpaces();
      if (Peek() == '^' && !power) {
        ++pos_;
        ASSIGN_OR_RETURN(power, ParseExponent());
      } else if (Peek() == '_' && !base && name == "log") {
        ++pos_;
        ASSIGN_OR_RETURN(base, ParseArgument());
      }
    }
    ASSIGN_OR_RETURN(ExprPtr arg, ParseFunctionArgument());
    if (name == "lg") name = "log10";
    std::vector<ExprPtr> args = {arg};
    if (base) args.push_back(base);
    ExprPtr e = MakeNode(Expr::Kind::kFunction, std::move(args), name);
    if (power) e = MakeNode(Expr::Kind::kPow, {e, power});
    --depth_;
    return e;
  }

  absl::StatusOr<ExprPtr> ParseCommand() {
    std::string_view name = CommandAt(pos_);
    if (name.empty()) return Error("unexpected character after '\\'");
    pos_ += name.size() + 1;
    if (name == "frac") {
      ASSIGN_OR_RETURN(ExprPtr num, ParseArgument());
      ASSIGN_OR_RETURN(ExprPtr den, ParseArgument());
      return MakeNode(Expr::Kind::kMul, {num, MakeNode(Expr::Kind::kPow, {den, MakeNumber(-1)})});
    }
    if (name == "sqrt") {
      SkipSpaces();
      ExprPtr index;
      if (Peek() == '[') {
        ++pos_;
        ASSIGN_OR_RETURN(index, ParseGroup(']'));
      }
      ASSIGN_OR_RETURN(ExprPtr arg, ParseArgument());
      if (index) return MakeNode(Expr::Kind::kFunction, {arg, index}, "root");
      return MakeNode(Expr::Kind::kFunction, {arg}, "sqrt");
    }
    if (name == "binom" || name == "choose") {
      ASSIGN_OR_RETURN(ExprPtr n, ParseArgument());
      ASSIGN_OR_RETURN(ExprPtr k, ParseArgument());
      return MakeNode(Expr::Kind::kFunction, {n, k}, "binom");
    }
    if (name == "dot" || name == "ddot" || name == "hat" || name == "bar" || name == "vec" ||
        name == "tilde" || name == "overline") {
      // A decorated variable (\dot{x}_0): one symbol named after both.
      SkipSpaces();
      size_t start = pos_;
      ASSIGN_OR_RETURN(ExprPtr inner, ParseArgument());
      if (inner->kind != Expr::Kind::kSymbol) {
        pos_ = start;
        return Error("decoration of a non-symbol");
      }
      ASSIGN_OR_RETURN(std::string sub, ParseSubscript());
      return MakeSymbol(absl::StrCat(AbslView(name), "(", inner->name, ")", sub));
    }
    if (name == "pi") return MakeSymbol("pi");
    if (name == "infty" || name == "infin") return MakeSymbol("inf");
    if (name == "lfloor" || name == "lceil") {
      ASSIGN_OR_RETURN(ExprPtr arg, ParseSum());
      SkipSpaces();
      if (!ConsumeCommand(name == "lfloor" ? "rfloor" : "rceil")) return Error("unclosed floor");
      return MakeNode(Expr::Kind::kFunction, {arg}, name == "lfloor" ? "floor" : "ceil");
    }
    if (name == "exp" || IsFunctionName(name)) return ParseFunction(std::string(name));
    if (IsOperatorCommand(name) || name == "begin" || name == "text") {
      return Error(absl::StrCat("unexpected \\", AbslView(name)));
    }
    // Greek letters and other named symbols.
    std::string symbol(name);
    ASSIGN_OR_RETURN(std::string sub, ParseSubscript());
    return MakeSymbol(symbol + sub);
  }

  absl::StatusOr<ExprPtr> ParsePrimary() {
    RETURN_IF_ERROR(Enter());
    SkipSpaces();
    char c = Peek();
    ExprPtr e;
    if (IsDigit(c) || c == '.') {
      ASSIGN_OR_RETURN(e, ParseNumber());
      ASSIGN_OR_RETURN(e, MaybeMixedNumber(e));
    } else if (IsAlpha(c)) {
      size_t k = pos_;
      while (k < s_.size() && IsAlpha(s_[k])) ++k;
      std::string_view word = s_.substr(pos_, k - pos_);
      if (word.size() > 1 && IsFunctionName(word)) {
        pos_ = k;
        ASSIGN_OR_RETURN(e, ParseFunction(std::string(word)));
      } else {
        std::string name(1, s_[pos_++]);
        ASSIGN_OR_RETURN(std::string sub, ParseSubscript());
        e = MakeSymbol(name + sub);
      }
    } else if (c == '(') {
      ++pos_;
      ASSIGN_OR_RETURN(e, ParseGroup(')'));
    } else if (c == '[') {
      ++pos_;
      ASSIGN_OR_RETURN(e, ParseGroup(']'));
    } else if (c == '{') {
      ++pos_;
      ASSIGN_OR_RETURN(e, ParseGroup('}'));
    } else if (c == '|') {
      ++pos_;
      ASSIGN_OR_RETURN(ExprPtr inner, ParseGroup('|'));
      e = MakeNode(Expr::Kind::kFunction, {inner}, "abs");
    } else if (c == '\\') {
      ASSIGN_OR_RETURN(e, ParseCommand());
    } else if (AtEnd()) {
      return Error("unexpected end");
    } else {
      return Error(absl::StrCat("unexpected '", std::string(1, c), "'"));
    }
    --depth_;
    return e;
  }

  // "1\frac{4}{5}" and "137 \frac{1}{2}": an integer directly followed by a fraction of
  // integers is a mixed number.
  absl::StatusOr<ExprPtr> MaybeMixedNumber(ExprPtr whole) {
    if (whole->decimal_significant_digits != 0 || whole->value.get_den() != 1) return whole;
    size_t save = pos_;
    SkipSpaces();
    if (CommandAt(pos_) != "frac") {
      pos_ = save;
      return whole;
    }
    ASSIGN_OR_RETURN(ExprPtr frac, ParseCommand());
    const Expr& mul = *frac;
    bool integers =
        mul.args.size() == 2 && mul.args[0]->kind == Expr::Kind::kNumber &&
        mul.args[1]->args.size() == 2 && mul.args[1]->args[0]->kind == Expr::Kind::kNumber &&
        mul.args[0]->value.get_den() == 1 && mul.args[1]->args[0]->value.get_den() == 1 &&
        mul.args[0]->decimal_significant_digits == 0 &&
        mul.args[1]->args[0]->decimal_significant_digits == 0 && mul.args[1]->args[0]->value != 0;
    if (!integers) return MakeNode(Expr::Kind::kMul, {whole, frac});
    mpq_class part = mul.args[0]->value / mul.args[1]->args[0]->value;
    return MakeNumber(whole->value + part);
  }

  std::string_view s_;
  const MathVerifierOptions& options_;
  WorkBudget* budget_;
  size_t pos_ = 0;
  int depth_ = 0;
};

void Print(const Expr& e, std::string* out);

void PrintArg(const Expr& e, std::string* out) {
  bool atom = e.kind == Expr::Kind::kNumber || e.kind == Expr::Kind::kSymbol ||
              e.kind == Expr::Kind::kFunction;
  if (atom && !(e.kind == Expr::Kind::kNumber && (e.value < 0 || e.value.get_den() != 1))) {
    Print(e, out);
    return;
  }
  *out += '(';
  Print(e, out);
  *out += ')';
}

void Print(const Expr& e, std::string* out) {
  switch (e.kind) {
    case Expr::Kind::kNumber:
      *out += e.value.get_str();
      return;
    case Expr::Kind::kSymbol:
      *out += e.name;
      return;
    case Expr::Kind::kAdd:
      for (size_t k = 0; k < e.args.size(); ++k) {
        if (k > 0) *out += e.args[k]->kind == Expr::Kind::kNeg ? " " : " + ";
        Print(*e.args[k], out);
      }
      return;
    case Expr::Kind::kMul: {
      bool first = true;
      for (const ExprPtr& arg : e.args) {  // a * b^-1 as a/b
        bool inverse = arg->kind == Expr::Kind::kPow && arg->args[1]->kind == Expr::Kind::kNumber &&
                       arg->args[1]->value == -1;
        if (inverse) {
          *out += first ? "1/" : "/";
          PrintArg(*arg->args[0], out);
        } else {
          if (!first) *out += '*';
          PrintArg(*arg, out);
        }
        first = false;
      }
      return;
    }
    case Expr::Kind::kPow:
      PrintArg(*e.args[0], out);
      *out += '^';
      PrintArg(*e.args[1], out);
      return;
    case Expr::Kind::kNeg:
      *out += "- ";
      PrintArg(*e.args[0], out);
      return;
    case Expr::Kind::kFunction:
      *out += e.name;
      *out += '(';
      for (size_t k = 0; k < e.args.size(); ++k) {
        if (k > 0) *out += ", ";
        Print(*e.args[k], out);
      }
      *out += ')';
      return;
    case Expr::Kind::kFactorial:
      PrintArg(*e.args[0], out);
      *out += '!';
      return;
  }
}

}  // namespace

ExprPtr MakeNumber(mpq_class value) {
  auto e = std::make_shared<Expr>();
  e->kind = Expr::Kind::kNumber;
  e->value = std::move(value);
  return e;
}

ExprPtr MakeSymbol(std::string name) {
  auto e = std::make_shared<Expr>();
  e->kind = Expr::Kind::kSymbol;
  e->name = std::move(name);
  return e;
}

ExprPtr MakeNode(Expr::Kind kind, std::vector<ExprPtr> args, std::string name) {
  auto e = std::make_shared<Expr>();
  e->kind = kind;
  e->args = std::move(args);
  e->name = std::move(name);
  return e;
}

std::string ExprToString(const Expr& e) {
  std::string out;
  Print(e, &out);
  return out;
}

void CollectVariables(const Expr& e, std::vector<std::string>* names) {
  if (e.kind == Expr::Kind::kSymbol) {
    if (e.name != "pi" && e.name != "e" && e.name != "i" && e.name != "inf" &&
        std::find(names->begin(), names->end(), e.name) == names->end()) {
      names->push_back(e.name);
    }
    return;
  }
  for (const ExprPtr& arg : e.args) CollectVariables(*arg, names);
}

absl::StatusOr<ExprPtr> ParseMathExpression(std::string_view latex,
                                            const MathVerifierOptions& options,
                                            WorkBudget* budget) {
  if (latex.size() > options.max_answer_bytes) {
    return absl::ResourceExhaustedError("expression longer than max_answer_bytes");
  }
  Parser parser(latex, options, budget);
  return parser.ParseAll();
}

}  // namespace r1serve::verify
