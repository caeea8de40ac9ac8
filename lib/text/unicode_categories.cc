#include "lib/text/unicode_categories.h"

#include <algorithm>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace r1serve::text {
namespace {

struct CategoryRun {
  char32_t first;  // the run lasts until the next row's first - 1 (the last row: 0x10FFFF)
  GeneralCategory category;
};

using enum GeneralCategory;
constexpr CategoryRun kRuns[] = {
#include "lib/text/unicode_categories.inc"
};

constexpr uint32_t Bit(GeneralCategory c) { return 1u << static_cast<int>(c); }
constexpr uint32_t kLetters = Bit(kLu) | Bit(kLl) | Bit(kLt) | Bit(kLm) | Bit(kLo);
constexpr uint32_t kMarks = Bit(kMn) | Bit(kMc) | Bit(kMe);
constexpr uint32_t kNumbers = Bit(kNd) | Bit(kNl) | Bit(kNo);
constexpr uint32_t kPunctuation =
    Bit(kPc) | Bit(kPd) | Bit(kPs) | Bit(kPe) | Bit(kPi) | Bit(kPf) | Bit(kPo);
constexpr uint32_t kSymbols = Bit(kSm) | Bit(kSc) | Bit(kSk) | Bit(kSo);
constexpr uint32_t kSeparators = Bit(kZs) | Bit(kZl) | Bit(kZp);
constexpr uint32_t kOthers = Bit(kCc) | Bit(kCf) | Bit(kCs) | Bit(kCo) | Bit(kCn);

struct PropertyName {
  std::string_view name;  // lower case, without separators
  uint32_t mask;
};

constexpr PropertyName kPropertyNames[] = {
    {"l", kLetters},
    {"letter", kLetters},
    {"lc", Bit(kLu) | Bit(kLl) | Bit(kLt)},
    {"casedletter", Bit(kLu) | Bit(kLl) | Bit(kLt)},
    {"lu", Bit(kLu)},
    {"ll", Bit(kLl)},
    {"lt", Bit(kLt)},
    {"lm", Bit(kLm)},
    {"lo", Bit(kLo)},
    {"m", kMarks},
    {"mark", kMarks},
    {"mn", Bit(kMn)},
    {"mc", Bit(kMc)},
    {"me", Bit(kMe)},
    {"n", kNumbers},
    {"number", kNumbers},
    {"nd", Bit(kNd)},
    {"nl", Bit(kNl)},
    {"no", Bit(kNo)},
    {"p", kPunctuation},
    {"punctuation", kPunctuation},
    {"pc", Bit(kPc)},
    {"pd", Bit(kPd)},
    {"ps", Bit(kPs)},
    {"pe", Bit(kPe)},
    {"pi", Bit(kPi)},
    {"pf", Bit(kPf)},
    {"po", Bit(kPo)},
    {"s", kSymbols},
    {"symbol", kSymbols},
    {"sm", Bit(kSm)},
    {"sc", Bit(kSc)},
    {"sk", Bit(kSk)},
    {"so", Bit(kSo)},
    {"z", kSeparators},
    {"separator", kSeparators},
    {"zs", Bit(kZs)},
    {"zl", Bit(kZl)},
    {"zp", Bit(kZp)},
    {"c", kOthers},
    {"other", kOthers},
    {"cc", Bit(kCc)},
    {"cf", Bit(kCf)},
    {"cs", Bit(kCs)},
    {"co", Bit(kCo)},
    {"cn", Bit(kCn)},
    {"any", kLetters | kMarks | kNumbers | kPunctuation | kSymbols | kSeparators | kOthers},
};

}  // namespace

GeneralCategory GetGeneralCategory(char32_t code_point) {
  const auto* it =
      std::upper_bound(std::begin(kRuns), std::end(kRuns), code_point,
                       [](char32_t cp, const CategoryRun& run) { return cp < run.first; });
  return it == std::begin(kRuns) ? kCn : (it - 1)->category;
}

absl::StatusOr<uint32_t> CategoryMaskFromName(std::string_view name) {
  std::string key;
  for (char c : name) {
    if (c == ' ' || c == '_' || c == '-') continue;
    key.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
  }
  for (const PropertyName& entry : kPropertyNames) {
    if (entry.name == key) return entry.mask;
  }
  return absl::NotFoundError(absl::StrCat("unsupported Unicode property '", std::string(name),
                                          "' (general categories only)"));
}

bool IsWhiteSpace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

const CodePointSet& WhiteSpaceSet() {
  static const CodePointSet* set = new CodePointSet(CodePointSet::FromRanges({{0x09, 0x0D},
                                                                              {0x20, 0x20},
                                                                              {0x85, 0x85},
                                                                              {0xA0, 0xA0},
                                                                              {0x1680, 0x1680},
                                                                              {0x2000, 0x200A},
                                                                              {0x2028, 0x2029},
                                                                              {0x202F, 0x202F},
                                                                              {0x205F, 0x205F},
                                                                              {0x3000, 0x3000}}));
  return *set;
}

CodePointSet CodePointSet::FromCategories(uint32_t category_mask) {
  CodePointSet set;
  const size_t n = std::size(kRuns);
  for (size_t i = 0; i < n; ++i) {
    if (category_mask & Bit(kRuns[i].category)) {
      set.ranges_.push_back({kRuns[i].first, i + 1 < n ? kRuns[i + 1].first - 1 : 0x10FFFF});
    }
  }
  set.Normalize();
  return set;
}

CodePointSet CodePointSet::FromRanges(std::vector<Range> ranges) {
  CodePointSet set;
  set.ranges_ = std::move(ranges);
  set.Normalize();
  return set;
}

void CodePointSet::Add(char32_t first, char32_t last) {
  ranges_.push_back({first, last});
  Normalize();
}

void CodePointSet::AddSet(const CodePointSet& other) {
  ranges_.insert(ranges_.end(), other.ranges_.begin(), other.ranges_.end());
  Normalize();
}

CodePointSet CodePointSet::Complement() const {
  CodePointSet out;
  char32_t next = 0;
  for (const Range& r : ranges_) {
    if (r.first > next) out.ranges_.push_back({next, r.first - 1});
    next = r.last + 1;
  }
  if (next <= 0x10FFFF) out.ranges_.push_back({next, 0x10FFFF});
  return out;
}

CodePointSet CodePointSet::Minus(const CodePointSet& other) const {
  CodePointSet keep = other.Complement();
  // Intersection of two normalized range lists, by a merge walk.
  CodePointSet out;
  size_t i = 0, j = 0;
  while (i < ranges_.size() && j < keep.ranges_.size()) {
    const char32_t first = std::max(ranges_[i].first, keep.ranges_[j].first);
    const char32_t last = std::min(ranges_[i].last, keep.ranges_[j].last);
    if (first <= last) out.ranges_.push_back({first, last});
    if (ranges_[i].last < keep.ranges_[j].last) {
      ++i;
    } else {
      ++j;
    }
  }
  return out;
}

bool CodePointSet::Contains(char32_t code_point) const {
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), code_point,
                             [](char32_t cp, const Range& r) { return cp < r.first; });
  return it != ranges_.begin() && (it - 1)->last >= code_point;
}

void CodePointSet::Normalize() {
  std::sort(ranges_.begin(), ranges_.end(),
            [](const Range& a, const Range& b) { return a.first < b.first; });
  std::vector<Range> merged;
  for (const Range& r : ranges_) {
    if (!merged.empty() && r.first <= merged.back().last + 1) {
      merged.back().last = std::max(merged.back().last, r.last);
    } else {
      merged.push_back(r);
    }
  }
  ranges_ = std::move(merged);
}

}  // namespace r1serve::text
