// Unicode general categories as Hugging Face tokenizers' regex engine sees them (Oniguruma,
// Unicode 16.0; table generated from the peer by unicode_categories_gen.js), and sets of code
// points built from them. The pre-tokenizer regex translation uses these to give \p{L}, \p{N},
// ... exactly the peer's meaning, whatever Unicode version the installed PCRE2 knows.
//
//   ASSIGN_OR_RETURN(uint32_t mask, CategoryMaskFromName("L"));   // Lu|Ll|Lt|Lm|Lo
//   CodePointSet letters = CodePointSet::FromCategories(mask);
//   bool yes = letters.Contains(U'é');
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace r1serve::text {

// clang-format off
enum class GeneralCategory : uint8_t {
  kLu, kLl, kLt, kLm, kLo,                     // letters
  kMn, kMc, kMe,                               // marks
  kNd, kNl, kNo,                               // numbers
  kPc, kPd, kPs, kPe, kPi, kPf, kPo,           // punctuation
  kSm, kSc, kSk, kSo,                          // symbols
  kZs, kZl, kZp,                               // separators
  kCc, kCf, kCs, kCo, kCn,                     // other (Cn: unassigned)
};
// clang-format on

GeneralCategory GetGeneralCategory(char32_t code_point);

// Bit (1 << category) for every category a property name covers: a two-letter category
// ("Lu"), a major class ("L", "Letter"), "LC" / "Cased_Letter", or "Any". Names are matched as
// Oniguruma does: case-insensitively, ignoring spaces, '-' and '_'. NotFound for other names
// (scripts, binary properties), which the translation does not support.
absl::StatusOr<uint32_t> CategoryMaskFromName(std::string_view name);

// Unicode's White_Space property: what Oniguruma's \s and Rust's char::is_whitespace accept
// (checked against HF tokenizers: U+0085 is in, U+180E and U+200B are out).
bool IsWhiteSpace(char32_t code_point);

// A set of code points in [0, 0x10FFFF] as sorted, disjoint, non-adjacent closed ranges.
class CodePointSet {
 public:
  struct Range {
    char32_t first;
    char32_t last;
    bool operator==(const Range&) const = default;
  };

  CodePointSet() = default;
  static CodePointSet FromCategories(uint32_t category_mask);
  static CodePointSet FromRanges(std::vector<Range> ranges);  // any order, may overlap

  void Add(char32_t first, char32_t last);
  void AddSet(const CodePointSet& other);
  CodePointSet Complement() const;
  CodePointSet Minus(const CodePointSet& other) const;
  bool Contains(char32_t code_point) const;
  bool empty() const { return ranges_.empty(); }
  const std::vector<Range>& ranges() const { return ranges_; }
  bool operator==(const CodePointSet&) const = default;

 private:
  void Normalize();
  std::vector<Range> ranges_;
};

// The code points of IsWhiteSpace.
const CodePointSet& WhiteSpaceSet();

}  // namespace r1serve::text
