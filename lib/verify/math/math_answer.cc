#include "lib/verify/math/math_answer.h"

#include <algorithm>
#include <array>
#include <cctype>

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



bool IsOpen(char c) { return c == '(' || c == '[' || c == '{'; }
bool IsClose(char c) { return c == ')' || c == ']' || c == '}'; }

// Splits `s` at top-level (bracket depth 0) occurrences of `separator`.
std::vector<std::string_view> SplitTopLevel(std::string_view s, std::string_view separator) {
  std::vector<std::string_view> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (IsOpen(c)) {
      ++depth;
    } else if (IsClose(c)) {
      --depth;
    } else if (depth == 0 && s.substr(i, separator.size()) == separator &&
               !(separator[0] == '\\' && i + separator.size() < s.size() &&
                 IsAlpha(s[i + separator.size()]))) {
      parts.push_back(s.substr(start, i - start));
      i += separator.size() - 1;
      start = i + 1;
      continue;
    }
    if (c == '\\' && i + 1 < s.size() && !IsAlpha(s[i + 1]) && s[i + 1] != '{' && s[i + 1] != '}') {
      ++i;  // "\," and the like; "\{" and "\}" count as brackets
    }
  }
  parts.push_back(s.substr(start));
  return parts;
}

// The index of the bracket that closes the one at s[open], or npos.
size_t MatchingClose(std::string_view s, size_t open) {
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    if (IsOpen(s[i])) {
      ++depth;
    } else if (IsClose(s[i]) && --depth == 0) {
      return i;
    }
  }
  return std::string_view::npos;
}

bool IsFunctionWord(std::string_view w) {
  static constexpr std::array<std::string_view, 14> kWords = {
      "sin", "cos",  "tan",  "cot",  "sec",  "csc",    "log",
      "exp", "sqrt", "sinh", "cosh", "tanh", "arcsin", "arctan"};
  return std::find(kWords.begin(), kWords.end(), w) != kWords.end();
}

// Plain words: letters, spaces and hyphens, with a word of three or more letters that is not a
// function name.
bool IsWords(std::string_view s) {
  bool long_word = false;
  size_t i = 0;
  while (i < s.size()) {
    if (IsAlpha(s[i])) {
      size_t j = i;
      while (j < s.size() && IsAlpha(s[j])) ++j;
      if (j - i >= 3 && !IsFunctionWord(s.substr(i, j - i))) long_word = true;
      i = j;
    } else if (IsSpace(s[i]) || s[i] == '-' || s[i] == '\'') {
      ++i;
    } else {
      return false;
    }
  }
  return long_word;
}

// "(C)" or, when wrapped in \text, "C": a choice letter A-E.
char ChoiceLetter(std::string_view s, bool text_wrapped) {
  if (s.size() == 3 && s[0] == '(' && s[2] == ')' && s[1] >= 'A' && s[1] <= 'E') return s[1];
  if (text_wrapped && s.size() == 1 && s[0] >= 'A' && s[0] <= 'E') return s[0];
  return 0;
}

// One part of an inequality chain "a < x \le b": the text and the relation that follows it.
struct Inequality {
  std::string_view text;
  bool less = false;    // the relation after `text` is < or \le (else > or \ge)
  bool strict = false;  // < or >
};

// Splits at top-level <, >, \lt, \gt, \le, \leq, \ge, \geq (one part when there are none).
std::vector<Inequality> SplitInequalities(std::string_view s) {
  std::vector<Inequality> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (IsOpen(c)) {
      ++depth;
      continue;
    }
    if (IsClose(c)) {
      --depth;
      continue;
    }
    if (depth != 0) continue;
    size_t length = 0;
    bool less = false, strict = false;
    if (c == '<' || c == '>') {
      length = 1;
      less = c == '<';
      strict = true;
    } else if (c == '\\') {
      size_t k = i + 1;
      while (k < s.size() && IsAlpha(s[k])) ++k;
      std::string_view name = s.substr(i + 1, k - i - 1);
      if (name == "lt" || name == "gt" || name == "le" || name == "leq" || name == "ge" ||
          name == "geq") {
        length = k - i;
        less = name[0] == 'l';
        strict = name.size() == 2 && name[1] == 't';
      } else if (k > i + 1) {
        i = k - 1;
        continue;
      } else {
        ++i;  // "\{" and the like
        continue;
      }
    }
    if (length == 0) continue;
    parts.push_back({s.substr(start, i - start), less, strict});
    i += length - 1;
    start = i + 1;
  }
  parts.push_back({s.substr(start), false, false});
  return parts;
}

ExprPtr Infinity(bool negative) {
  ExprPtr inf = MakeSymbol("inf");
  return negative ? MakeNode(Expr::Kind::kNeg, {inf}) : inf;
}

class AnswerParser {
 public:
  AnswerParser(const MathVerifierOptions& options, WorkBudget* budget)
      : options_(options), budget_(budget) {}

  absl::StatusOr<MathAnswer> Parse(std::string_view s, bool text_wrapped, int depth) {
    RETURN_IF_ERROR(budget_->Tick());
    if (depth > options_.max_expression_depth) {
      return absl::ResourceExhaustedError("answer nested too deeply");
    }
    s = Trim(s);
    if (s.empty()) return absl::InvalidArgumentError("empty answer");
    MathAnswer answer;
    if (s.substr(0, 7) == "\\begin{") return ParseMatrix(s, depth);
    if ((s[0] == '(' || s[0] == '[') && MatchingClose(s, 0) == s.size() - 1 &&
        Trim(s.substr(1, s.size() - 2)).substr(0, 7) == "\\begin{") {
      return Parse(s.substr(1, s.size() - 2), false, depth + 1);  // \left( \begin{array} \right)
    }
    if (std::vector<std::string_view> parts = SplitTopLevel(s, "\\cup"); parts.size() > 1) {
      answer.kind = MathAnswer::Kind::kSet;
      for (std::string_view part : parts) {
        ASSIGN_OR_RETURN(MathAnswer item, Parse(part, false, depth + 1));
        answer.items.push_back(std::move(item));
      }
      return answer;
    }
    if (char letter = ChoiceLetter(s, text_wrapped); letter != 0) {
      answer.kind = MathAnswer::Kind::kChoice;
      answer.text = std::string(1, letter);
      return answer;
    }
    // Text: plain words, or \text{...} with letters and no math ("\textbf{(809)}" is 809).
    if (IsWords(s) || (text_wrapped && std::any_of(s.begin(), s.end(), IsAlpha) &&
                       s.find_first_of("\\^_{}=+*/") == std::string_view::npos)) {
      answer.kind = MathAnswer::Kind::kText;
      answer.text = CanonicalText(s);
      return answer;
    }
    if (s == "\\emptyset" || s == "\\varnothing" || s == "\\{\\}") {
      answer.kind = MathAnswer::Kind::kSet;
      return answer;
    }
    if (s.size() >= 4 && s.substr(0, 2) == "\\{" && MatchingClose(s, 1) == s.size() - 1 &&
        s[s.size() - 2] == '\\') {
      answer.kind = MathAnswer::Kind::kSet;
      RETURN_IF_ERROR(ParseItems(s.substr(2, s.size() - 4), depth, &answer.items));
      return answer;
    }
    if ((s[0] == '(' || s[0] == '[') && MatchingClose(s, 0) == s.size() - 1 &&
        (s.back() == ')' || s.back() == ']')) {
      std::string_view inner = s.substr(1, s.size() - 2);
      if (SplitTopLevel(inner, ",").size() > 1) {
        answer.kind = MathAnswer::Kind::kTuple;
        answer.open = s[0];
        answer.close = s.back();
        for (std::string_view part : SplitTopLevel(inner, ",")) {
          ASSIGN_OR_RETURN(MathAnswer item, Parse(part, false, depth + 1));
          answer.items.push_back(std::move(item));
        }
        return answer;
      }
    }
    if (SplitTopLevel(s, ",").size() > 1 || HasPlusMinus(s)) {
      answer.kind = MathAnswer::Kind::kList;
      RETURN_IF_ERROR(ParseItems(s, depth, &answer.items));
      if (answer.items.size() == 1) return answer.items[0];
      return answer;
    }
    if (std::vector<Inequality> chain = SplitInequalities(s); chain.size() > 1) {
      return InequalityAsInterval(chain);
    }
    if (std::vector<std::string_view> sides = SplitTopLevel(s, "="); sides.size() > 1) {
      answer.kind = MathAnswer::Kind::kEquation;
      ASSIGN_OR_RETURN(answer.expr, ParseMathExpression(Trim(sides.front()), options_, budget_));
      ASSIGN_OR_RETURN(answer.rhs, ParseMathExpression(Trim(sides.back()), options_, budget_));
      return answer;
    }
    ASSIGN_OR_RETURN(answer.expr, ParseMathExpression(s, options_, budget_));
    return answer;
  }

 private:
  // "x > 3" -> (3, inf); "3 \ge x" -> (-inf, 3]; "-1 < x \le 2" -> (-1, 2]: one variable
  // compared with bounds, as an interval.
  absl::StatusOr<MathAnswer> InequalityAsInterval(const std::vector<Inequality>& chain) {
    if (chain.size() > 3) return absl::InvalidArgumentError("inequality chain too long");
    std::vector<ExprPtr> sides;
    for (const Inequality& part : chain) {
      ASSIGN_OR_RETURN(ExprPtr e, ParseMathExpression(Trim(part.text), options_, budget_));
      sides.push_back(e);
    }
    auto is_variable = [](const ExprPtr& e) {
      return e->kind == Expr::Kind::kSymbol && e->name != "pi" && e->name != "e" &&
             e->name != "i" && e->name != "inf";
    };
    MathAnswer interval;
    interval.kind = MathAnswer::Kind::kTuple;
    ExprPtr lower, upper;
    bool lower_open = true, upper_open = true;
    // Bound `b` on the side of the variable given by `b_is_left` with relation `rel`.
    auto bound = [&](const ExprPtr& b, bool b_is_left, const Inequality& rel) {
      bool b_is_lower = b_is_left == rel.less;  // b < x or x > b
      (b_is_lower ? lower : upper) = b;
      (b_is_lower ? lower_open : upper_open) = rel.strict;
    };
    if (chain.size() == 3 && is_variable(sides[1]) && chain[0].less == chain[1].less) {
      bound(sides[0], true, chain[0]);
      bound(sides[2], false, chain[1]);
    } else if (chain.size() == 2 && is_variable(sides[0])) {
      bound(sides[1], false, chain[0]);
    } else if (chain.size() == 2 && is_variable(sides[1])) {
      bound(sides[0], true, chain[0]);
    } else {
      return absl::InvalidArgumentError("inequality is not a bound on one variable");
    }
    if (!lower) lower = Infinity(true);
    if (!upper) upper = Infinity(false);
    interval.open = lower_open ? '(' : '[';
    interval.close = upper_open ? ')' : ']';
    for (const ExprPtr& end : {lower, upper}) {
      MathAnswer item;
      item.expr = end;
      interval.items.push_back(std::move(item));
    }
    return interval;
  }

  static bool HasPlusMinus(std::string_view s) {
    for (std::string_view sign : {"\\pm", "\\mp"}) {
      size_t at = s.find(sign);
      if (at != std::string_view::npos && (at + 3 >= s.size() || !IsAlpha(s[at + 3]))) {
        return true;
      }
    }
    return false;
  }

  // Comma-separated items, each with its \pm expanded into two.
  absl::Status ParseItems(std::string_view s, int depth, std::vector<MathAnswer>* items) {
    if (Trim(s).empty()) return absl::OkStatus();
    for (std::string_view part : SplitTopLevel(s, ",")) {
      std::vector<std::string> variants = {std::string(Trim(part))};
      for (int n = 0; n <= options_.max_plus_minus; ++n) {
        std::vector<std::string> next;
        bool expanded = false;
        for (const std::string& v : variants) {
          size_t pm = v.find("\\pm"), mp = v.find("\\mp");
          size_t at = std::min(pm, mp);
          if (at == std::string::npos || (at + 3 < v.size() && IsAlpha(v[at + 3]))) {
            next.push_back(v);
            continue;
          }
          expanded = true;
          bool minus_first = at == mp;
          std::string head = v.substr(0, at), tail = v.substr(at + 3);
          next.push_back(head + (minus_first ? "-" : "+") + tail);
          next.push_back(head + (minus_first ? "+" : "-") + tail);
        }
        variants = std::move(next);
        if (!expanded) break;
        if (n == options_.max_plus_minus) {
          return absl::ResourceExhaustedError("too many \\pm signs");
        }
      }
      for (const std::string& v : variants) {
        ASSIGN_OR_RETURN(MathAnswer item, Parse(v, false, depth + 1));
        items->push_back(std::move(item));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<MathAnswer> ParseMatrix(std::string_view s, int depth) {
    size_t name_end = s.find('}');
    if (name_end == std::string_view::npos) return absl::InvalidArgumentError("bad \\begin");
    std::string_view env = s.substr(7, name_end - 7);
    std::string end_tag = absl::StrCat("\\end{", absl::string_view(env.data(), env.size()), "}");
    if (s.size() < end_tag.size() || s.substr(s.size() - end_tag.size()) != end_tag ||
        (env.find("matrix") == std::string_view::npos && env != "array")) {
      return absl::InvalidArgumentError("unsupported environment");
    }
    size_t body_start = name_end + 1;
    if (env == "array") {  // \begin{array}{cc}: skip the column specification
      size_t open = body_start;
      while (open < s.size() && IsSpace(s[open])) ++open;
      size_t close = open < s.size() && s[open] == '{' ? MatchingClose(s, open) : open - 1;
      if (close == std::string_view::npos) return absl::InvalidArgumentError("bad array");
      body_start = close + 1;
    }
    if (body_start + end_tag.size() > s.size()) return absl::InvalidArgumentError("bad matrix");
    std::string_view body = s.substr(body_start, s.size() - end_tag.size() - body_start);
    MathAnswer matrix;
    matrix.kind = MathAnswer::Kind::kMatrix;
    for (std::string_view row_text : SplitTopLevel(body, "\\\\")) {
      if (Trim(row_text).empty()) continue;
      MathAnswer row;
      row.kind = MathAnswer::Kind::kTuple;
      row.open = '(';
      row.close = ')';
      for (std::string_view cell : SplitTopLevel(row_text, "&")) {
        ASSIGN_OR_RETURN(MathAnswer item, Parse(cell, false, depth + 1));
        row.items.push_back(std::move(item));
      }
      if (!matrix.items.empty() && matrix.items[0].items.size() != row.items.size()) {
        return absl::InvalidArgumentError("matrix rows of different lengths");
      }
      matrix.items.push_back(std::move(row));
    }
    if (matrix.items.empty()) return absl::InvalidArgumentError("empty matrix");
    return matrix;
  }

  const MathVerifierOptions& options_;
  WorkBudget* budget_;
};

void AppendItems(const MathAnswer& a, std::string* out) {
  for (size_t k = 0; k < a.items.size(); ++k) {
    if (k > 0) *out += ", ";
    *out += MathAnswerToString(a.items[k]);
  }
}

}  // namespace

char LeadingChoiceLetter(std::string_view s) {
  s = Trim(s);
  bool paren = !s.empty() && s[0] == '(';
  if (paren) s.remove_prefix(1);
  if (s.empty() || s[0] < 'A' || s[0] > 'E') return 0;
  char letter = s[0];
  s.remove_prefix(1);
  if (paren) return !s.empty() && s[0] == ')' ? letter : 0;
  if (s.empty() || s[0] == ')' || s[0] == ':' || s[0] == '.' || s[0] == ' ') return letter;
  return 0;
}

std::string CanonicalText(std::string_view text) {
  text = Trim(text);
  for (std::string_view article : {"the ", "The ", "an ", "An ", "a ", "A "}) {
    if (text.size() > article.size() && text.substr(0, article.size()) == article) {
      text.remove_prefix(article.size());
      break;
    }
  }
  std::string out;
  for (char c : text) {
    if (IsAlpha(c) || IsDigit(c)) out += static_cast<char>(std::tolower(c));
  }
  return out;
}

absl::StatusOr<MathAnswer> ParseMathAnswer(std::string_view normalized, bool text_wrapped,
                                           const MathVerifierOptions& options, WorkBudget* budget) {
  if (normalized.size() > options.max_answer_bytes) {
    return absl::ResourceExhaustedError("answer longer than max_answer_bytes");
  }
  AnswerParser parser(options, budget);
  return parser.Parse(normalized, text_wrapped, 0);
}

std::string MathAnswerToString(const MathAnswer& a) {
  std::string out;
  switch (a.kind) {
    case MathAnswer::Kind::kExpression:
      return ExprToString(*a.expr);
    case MathAnswer::Kind::kEquation:
      return ExprToString(*a.expr) + " = " + ExprToString(*a.rhs);
    case MathAnswer::Kind::kTuple:
      out += a.open;
      AppendItems(a, &out);
      out += a.close;
      return out;
    case MathAnswer::Kind::kList:
      out = "list(";
      AppendItems(a, &out);
      return out + ")";
    case MathAnswer::Kind::kSet:
      out = "set{";
      AppendItems(a, &out);
      return out + "}";
    case MathAnswer::Kind::kMatrix:
      out = "matrix[";
      AppendItems(a, &out);
      return out + "]";
    case MathAnswer::Kind::kText:
      return "text \"" + a.text + "\"";
    case MathAnswer::Kind::kChoice:
      return "choice (" + a.text + ")";
  }
  return out;
}

}  // namespace r1serve::verify
