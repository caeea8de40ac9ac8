// LaTeX answer normalisation: rewrites an answer as written (a box's contents, a reference from
// a data set) into the plain LaTeX the expression parser reads, and records what it removed so
// the verdict can say so. Linear in the input.
//
//   NormalizedAnswer n = NormalizeLatexAnswer("\\$32,\\!348.50 \\text{ dollars}.");
//   // n.text == "32348.50", n.notes == {"dollar sign", "thousands separators", "unit 'dollars'"}
//
// What it does:
// - drops math delimiters ($, \( \), \[ \]), \left / \right / \big sizes, \displaystyle,
//   spacing commands (\, \; \! \quad ~), and unwraps \boxed, \text, \mathrm, \mbox, \textbf...;
// - spells fractions one way (\dfrac \tfrac \cfrac -> \frac, \dbinom -> \binom);
// - removes degrees (^\circ, \degree, °, "degrees") and percent signs (\%, %, "percent"),
//   setting `degrees` / `percent`;
// - removes units after a value (\text{ cm}, \mbox{ inches}^2, "dollars", "cm", ...);
// - removes thousands separators (10,\!080, 1{,}000, and 58,500 when the whole answer is one
//   such number);
// - removes a base subscript of a numeral (52_8, 4210_{5});
// - removes "x \in" before a set or interval and trailing sentence punctuation.
// "x = 3" stays: whether to drop "x =" depends on the other side (see math_equivalence.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace r1serve::verify {

struct NormalizedAnswer {
  std::string text;
  bool percent = false;
  bool degrees = false;
  // The answer was wrapped in \text{...} (or similar) as a whole: a word answer.
  bool text_wrapped = false;
  // What was removed or rewritten, for the verdict's reason.
  std::vector<std::string> notes;
};

NormalizedAnswer NormalizeLatexAnswer(std::string_view raw);

}  // namespace r1serve::verify
