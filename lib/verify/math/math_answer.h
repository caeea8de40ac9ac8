// Math answers: the structure of a normalised answer around its expressions.
//
//   absl::StatusOr<MathAnswer> a = ParseMathAnswer(normalized.text, normalized.text_wrapped,
//                                                   options, &budget);
//
// Recognised, in this order:
// - matrices: \begin{pmatrix} a & b \\ c & d \end{pmatrix} (also bmatrix, matrix, ...);
// - unions of intervals: A \cup B (an unordered kSet);
// - multiple-choice letters: "(C)" or a \text{}-wrapped letter A-E;
// - text: a \text{}-wrapped answer that is not a number, or plain words ("east", "Evelyn");
// - sets: \{ a, b \}, \emptyset;
// - tuples and intervals: (a, b), [a, b), (a, b, c); the brackets are kept;
// - bare lists: a, b, c (an unordered kList, as MATH answers "1, -2" are);
// - a \pm b: the kList {a + b, a - b};
// - inequalities bounding one variable: "x > 3", "-1 < x \le 2" (the interval they define);
// - equations: lhs = rhs;
// - expressions (math_expression.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/verify/math/math_expression.h"
#include "lib/verify/math/math_verifier_options.h"
#include "lib/verify/math/work_budget.h"

namespace r1serve::verify {

struct MathAnswer {
  enum class Kind { kExpression, kEquation, kTuple, kList, kSet, kMatrix, kText, kChoice };
  Kind kind = Kind::kExpression;
  ExprPtr expr;  // kExpression; the left side of kEquation
  ExprPtr rhs;   // kEquation
  // kTuple, kList, kSet: the elements; kMatrix: the rows, each a kTuple.
  std::vector<MathAnswer> items;
  char open = 0;   // kTuple: '(' or '['
  char close = 0;  // kTuple: ')' or ']'
  // kText: the words, lowercased, letters and digits only; kChoice: the letter.
  std::string text;
};

absl::StatusOr<MathAnswer> ParseMathAnswer(std::string_view normalized, bool text_wrapped,
                                           const MathVerifierOptions& options, WorkBudget* budget);

// A short description, e.g. "tuple(3, pi/2)", for reasons.
std::string MathAnswerToString(const MathAnswer& answer);

// The choice letter A-E an answer starts with ("(C)", "C", "C) 12", "(C) 12", "C: 12"), or 0.
char LeadingChoiceLetter(std::string_view normalized);

// The canonical form of a word answer: without a leading article, lowercase ASCII letters and
// digits only ("An ellipse." -> "ellipse").
std::string CanonicalText(std::string_view text);

}  // namespace r1serve::verify
