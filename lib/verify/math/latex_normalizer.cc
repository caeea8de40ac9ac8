#include "lib/verify/math/latex_normalizer.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "lib/verify/math/answer_extraction.h"
#include "lib/verify/math/ascii_text.h"

namespace r1serve::verify {
namespace {

using ascii::IsAlpha;
using ascii::IsDigit;
using ascii::IsSpace;
using ascii::Trim;



void AddNote(NormalizedAnswer* out, std::string note) {
  if (std::find(out->notes.begin(), out->notes.end(), note) == out->notes.end()) {
    out->notes.push_back(std::move(note));
  }
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Units that may follow a value. Matched case-insensitively as whole words.
constexpr std::array<std::string_view, 96> kUnits = {
    "cm",     "mm",      "km",      "meter",      "meters", "metre",   "metres",   "inch",
    "inches", "foot",    "feet",    "ft",         "yard",   "yards",   "mile",     "miles",
    "mph",    "unit",    "units",   "square",     "sq",     "cubic",   "cent",     "cents",
    "dollar", "dollars", "hour",    "hours",      "hr",     "hrs",     "minute",   "minutes",
    "min",    "mins",    "second",  "seconds",    "sec",    "secs",    "day",      "days",
    "week",   "weeks",   "month",   "months",     "year",   "years",   "kg",       "gram",
    "grams",  "pound",   "pounds",  "lb",         "lbs",    "ounce",   "ounces",   "oz",
    "liter",  "liters",  "litre",   "litres",     "ml",     "gallon",  "gallons",  "ev",
    "kev",    "mev",     "nm",      "pm",         "hz",     "khz",     "mhz",      "kj",
    "erg",    "ergs",    "mol",     "mole",       "moles",  "amu",     "angstrom", "angstroms",
    "aa",     "atm",     "pa",      "kpa",        "parsec", "parsecs", "gyr",      "radians",
    "rad",    "arcsec",  "arcsecs", "arcseconds", "volt",   "volts",   "watts",    "joules"};
// Single-letter units, recognised only inside \text / \mathrm / \mbox.
constexpr std::string_view kWrappedLetterUnits = "mgslKJVNWACF";

bool IsUnitWord(std::string_view word) {
  std::string lower = Lower(word);
  return std::find(kUnits.begin(), kUnits.end(), lower) != kUnits.end();
}

// Whether `s` is a run of unit words (letters, spaces, '/', '^', digits as powers) and at
// least one unit word.
bool IsUnitPhrase(std::string_view s, bool allow_letters) {
  s = Trim(s);
  if (s.empty()) return false;
  bool any = false;
  size_t i = 0;
  while (i < s.size()) {
    if (IsAlpha(s[i])) {
      size_t j = i;
      while (j < s.size() && IsAlpha(s[j])) ++j;
      std::string_view word = s.substr(i, j - i);
      bool letter = word.size() == 1 && kWrappedLetterUnits.find(word[0]) != std::string_view::npos;
      if (!IsUnitWord(word) && !(allow_letters && letter)) return false;
      any = true;
      i = j;
    } else if (IsSpace(s[i]) || s[i] == '/' || s[i] == '^' || s[i] == '-' || IsDigit(s[i]) ||
               s[i] == '{' || s[i] == '}' || s[i] == '~' || s[i] == '.') {
      ++i;
    } else {
      return false;
    }
  }
  return any;
}

// Commands whose argument is kept and the command dropped.
bool IsWrapper(std::string_view name) {
  static constexpr std::array<std::string_view, 16> kWrappers = {
      "text", "textbf",       "textit", "textrm", "textnormal", "mathrm",     "mathbf", "mathit",
      "mbox", "operatorname", "boxed",  "fbox",   "framebox",   "boldsymbol", "mathsf", "hbox"};
  return std::find(kWrappers.begin(), kWrappers.end(), name) != kWrappers.end();
}

// Commands that are dropped with nothing in their place.
bool IsDropped(std::string_view name) {
  static constexpr std::array<std::string_view, 18> kDropped = {
      "left", "right", "big",   "Big",   "bigg",  "Bigg",   "bigl",         "bigr",   "Bigl",
      "Bigr", "biggl", "biggr", "Biggl", "Biggr", "middle", "displaystyle", "limits", "nolimits"};
  return std::find(kDropped.begin(), kDropped.end(), name) != kDropped.end();
}

class Rewriter {
 public:
  explicit Rewriter(NormalizedAnswer* out) : out_(out) {}

  // Rewrites `in`, recursively for wrapper arguments.
  std::string Run(std::string_view in, int depth) {
    std::string text;
    size_t i = 0;
    while (i < in.size()) {
      char c = in[i];
      if (c == '$') {
        ++i;
      } else if (c == '~') {
        text += ' ';
        ++i;
      } else if (c == '%') {
        out_->percent = true;
        ++i;
      } else if (static_cast<unsigned char>(c) >= 0x80) {
        i = NonAscii(in, i, &text);
      } else if (c == '^' && IsDegreeAt(in, i + 1, &i)) {
        out_->degrees = true;
      } else if (c == '{' && in.substr(i, 3) == "{,}") {  // 1{,}000
        AddNote(out_, "thousands separators");
        i += 3;
      } else if (c == ',' && ExplicitThousandsAt(in, i, &i)) {
        AddNote(out_, "thousands separators");
      } else if (c == '_' && !text.empty() && IsDigit(text.back()) && BaseSubscriptAt(in, i, &i)) {
        AddNote(out_, "base subscript");
      } else if (c == '\\') {
        i = Command(in, i, depth, &text);
      } else {
        text += c;
        ++i;
      }
    }
    return text;
  }

 private:
  // "^\circ", "^{\circ}", "^{\circ }": sets *next past it.
  static bool IsDegreeAt(std::string_view in, size_t i, size_t* next) {
    if (in.substr(i, 5) == "\\circ") {
      *next = i + 5;
      return true;
    }
    if (i < in.size() && in[i] == '{') {
      size_t j = i + 1;
      while (j < in.size() && IsSpace(in[j])) ++j;
      if (in.substr(j, 5) != "\\circ") return false;
      j += 5;
      while (j < in.size() && IsSpace(in[j])) ++j;
      if (j < in.size() && in[j] == '}') {
        *next = j + 1;
        return true;
      }
    }
    return false;
  }

  // ",\!" (optionally spaced) between digits: a thousands separator.
  static bool ExplicitThousandsAt(std::string_view in, size_t i, size_t* next) {
    if (i == 0 || !IsDigit(in[i - 1])) return false;
    size_t j = i + 1;
    if (in.substr(j, 2) != "\\!") return false;
    j += 2;
    while (j < in.size() && IsSpace(in[j])) ++j;
    if (j + 3 > in.size() || !IsDigit(in[j]) || !IsDigit(in[j + 1]) || !IsDigit(in[j + 2])) {
      return false;
    }
    *next = j;
    return true;
  }

  // "_8" or "_{16}" after a numeral.
  static bool BaseSubscriptAt(std::string_view in, size_t i, size_t* next) {
    size_t j = i + 1;
    if (j < in.size() && IsDigit(in[j])) {
      *next = j + 1;
      return true;
    }
    if (j < in.size() && in[j] == '{') {
      size_t k = j + 1;
      while (k < in.size() && IsDigit(in[k])) ++k;
      if (k > j + 1 && k < in.size() && in[k] == '}') {
        *next = k + 1;
        return true;
      }
    }
    return false;
  }

  // Unicode math symbols models write instead of LaTeX; other bytes are kept.
  size_t NonAscii(std::string_view in, size_t i, std::string* text) {
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 12> kSymbols = {{
        {"\xC2\xB0", ""},              // degree sign
        {"\xE2\x88\x92", "-"},         // minus sign
        {"\xE2\x80\x93", "-"},         // en dash
        {"\xC3\x97", "\\times "},      // multiplication sign
        {"\xC2\xB7", "\\cdot "},       // middle dot
        {"\xE2\x8B\x85", "\\cdot "},   // dot operator
        {"\xCF\x80", "\\pi "},         // pi
        {"\xE2\x88\x9E", "\\infty "},  // infinity
        {"\xE2\x88\x9A", "\\sqrt "},   // square root
        {"\xC2\xB1", "\\pm "},
        {"\xE2\x89\xA4", "\\le "},  // less-than or equal to
        {"\xE2\x89\xA5", "\\ge "},  // greater-than or equal to         // plus-minus
    }};
    for (const auto& [symbol, latex] : kSymbols) {
      if (in.substr(i, symbol.size()) == symbol) {
        if (symbol == "\xC2\xB0") out_->degrees = true;
        *text += latex;
        return i + symbol.size();
      }
    }
    *text += in[i];
    return i + 1;
  }

  size_t Command(std::string_view in, size_t i, int depth, std::string* text) {
    size_t j = i + 1;
    if (j >= in.size()) return j;
    if (!IsAlpha(in[j])) {  // a one-character command
      char c = in[j];
      if (c == ',' || c == ';' || c == ':' || c == ' ' || c == '>') {
        *text += ' ';
      } else if (c == '!') {
      } else if (c == '%') {
        out_->percent = true;
      } else if (c == '$') {
        AddNote(out_, "dollar sign");
      } else if (c == '(' || c == ')' || c == '[' || c == ']') {
      } else {
        *text += '\\';
        *text += c;
      }
      return j + 1;
    }
    size_t k = j;
    while (k < in.size() && IsAlpha(in[k])) ++k;
    std::string_view name = in.substr(j, k - j);
    if (IsDropped(name)) {
      while (k < in.size() && IsSpace(in[k])) ++k;
      if ((name == "left" || name == "right") && k < in.size() && in[k] == '.') ++k;
      return k;
    }
    if (name == "quad" || name == "qquad") {
      *text += ' ';
      return k;
    }
    if (name == "dfrac" || name == "tfrac" || name == "cfrac") {
      *text += "\\frac";
      return k;
    }
    if (name == "dbinom" || name == "tbinom") {
      *text += "\\binom";
      return k;
    }
    if (name == "degree" || name == "circ") {
      out_->degrees = true;
      return k;
    }
    if (name == "lbrace") {
      *text += "\\{";
      return k;
    }
    if (name == "rbrace") {
      *text += "\\}";
      return k;
    }
    if (name == "lvert" || name == "rvert" || name == "vert") {
      *text += '|';
      return k;
    }
    if (IsWrapper(name)) {
      size_t open = k;
      while (open < in.size() && IsSpace(in[open])) ++open;
      std::string_view inner;
      size_t end;
      if (open < in.size() && in[open] == '{' && depth < 16 &&
          ReadBraceGroup(in, open, in.size(), &inner, &end)) {
        bool textual = name != "boxed" && name != "fbox" && name != "framebox";
        std::string content = Run(inner, depth + 1);
        std::string word = Lower(Trim(content));
        if (textual && (word == "and" || word == "or")) {  // "1 \text{ or } 2"
          *text += " , ";
          return end;
        }
        if (textual && !Trim(*text).empty() && IsUnitPhrase(content, true)) {
          AddNote(out_, "unit '" + std::string(Trim(content)) + "'");
          Unit(content);
          return SkipUnitPower(in, end);
        }
        *text += ' ';
        *text += content;
        *text += ' ';
        return end;
      }
      return k;
    }
    if (name == "AA") {  // Angstrom
      if (!Trim(*text).empty()) AddNote(out_, "unit 'AA'");
      return SkipUnitPower(in, k);
    }
    *text += in.substr(i, k - i);
    // Keep a separator so "\pi r" does not become "\pir".
    if (k < in.size() && IsAlpha(in[k])) *text += ' ';
    return k;
  }

  void Unit(std::string_view unit) {
    std::string lower = Lower(unit);
    if (lower.find("degree") != std::string::npos) out_->degrees = true;
  }

  // After a unit: "^2", "^{2}", "^{-1}".
  static size_t SkipUnitPower(std::string_view in, size_t i) {
    size_t j = i;
    while (j < in.size() && IsSpace(in[j])) ++j;
    if (j < in.size() && in[j] == '^') {
      ++j;
      if (j < in.size() && IsDigit(in[j])) return j + 1;
      std::string_view inner;
      size_t end;
      if (j < in.size() && in[j] == '{' && ReadBraceGroup(in, j, 16, &inner, &end)) return end;
    }
    return i;
  }

  NormalizedAnswer* out_;
};

std::string CollapseSpaces(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (IsSpace(c)) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// "18", "-2.5", "1,000": a number and nothing else.
bool IsPlainNumber(std::string_view s) {
  if (!s.empty() && s[0] == '-') s.remove_prefix(1);
  if (s.empty() || !IsDigit(s[0])) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return IsDigit(c) || c == '.' || c == ','; });
}

// Drops trailing words that are units, "percent" or "degrees", while something precedes them.
void StripTrailingWords(NormalizedAnswer* out) {
  for (;;) {
    std::string& t = out->text;
    size_t end = t.size();
    size_t j = end;
    // An optional power after the unit: "cm^2", "cm^{2}".
    size_t power_at = t.rfind('^');
    size_t word_end = end;
    if (power_at != std::string::npos && power_at > 0 && IsAlpha(t[power_at - 1])) {
      bool digits_only = true;
      for (size_t k = power_at + 1; k < end; ++k) {
        if (!IsDigit(t[k]) && t[k] != '{' && t[k] != '}' && t[k] != '-') digits_only = false;
      }
      if (digits_only && end - power_at <= 6) word_end = power_at;
    }
    j = word_end;
    while (j > 0 && IsAlpha(t[j - 1])) --j;
    if (j == word_end) return;
    std::string_view word(t.data() + j, word_end - j);
    std::string_view before = Trim(std::string_view(t.data(), j));
    if (before.empty() || (j > 0 && t[j - 1] == '\\')) return;
    // The word must stand apart from an expression: "5 cm", "5cm" after a digit.
    if (!(t[j - 1] == ' ' || IsDigit(t[j - 1]) || t[j - 1] == '}' || t[j - 1] == ')')) return;
    std::string lower = Lower(word);
    if (lower == "percent") {
      out->percent = true;
    } else if (lower == "degree" || lower == "degrees") {
      out->degrees = true;
    } else if (IsUnitWord(word)) {
      AddNote(out, "unit '" + std::string(word) + "'");
    } else if (IsPlainNumber(before) && word.size() >= 2) {
      AddNote(out, "word '" + std::string(word) + "'");
    } else {
      return;
    }
    t = std::string(before);
  }
}

// "58,500", "-1,234,567.5", "10 080": the whole answer is one number with thousands
// separators (all the same: commas, or spaces as left by "\,").
bool IsThousandsNumber(std::string_view s, char separator) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t first = i;
  while (i < s.size() && IsDigit(s[i])) ++i;
  if (i == first || i - first > 3) return false;
  int groups = 0;
  while (i < s.size() && s[i] == separator) {
    if (i + 4 > s.size() || !IsDigit(s[i + 1]) || !IsDigit(s[i + 2]) || !IsDigit(s[i + 3])) {
      return false;
    }
    i += 4;
    ++groups;
  }
  if (groups == 0) return false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  return i == s.size();
}

// " and " / " or " between values: a list.
void ReplaceConjunctions(std::string* t) {
  for (std::string_view word : {" and ", " or "}) {
    size_t at;
    while ((at = t->find(word)) != std::string::npos) t->replace(at, word.size(), ", ");
  }
}

// "x \in [2, 7]" -> "[2, 7]".
void StripMembership(NormalizedAnswer* out) {
  std::string& t = out->text;
  size_t at = t.find("\\in");
  if (at == std::string::npos || (at + 3 < t.size() && IsAlpha(t[at + 3]))) return;
  std::string_view lhs = Trim(std::string_view(t).substr(0, at));
  if (lhs.empty() || lhs.size() > 3 || !IsAlpha(lhs[0])) return;
  AddNote(out, "'" + std::string(lhs) + " \\in' removed");
  t = std::string(Trim(std::string_view(t).substr(at + 3)));
}

// "\text{Evelyn}": one text wrapper around the whole answer.
bool IsWholeTextWrapper(std::string_view s) {
  if (s.size() < 2 || s[0] != '\\') return false;
  size_t k = 1;
  while (k < s.size() && IsAlpha(s[k])) ++k;
  std::string_view name = s.substr(1, k - 1);
  if (!IsWrapper(name) || name == "boxed" || name == "fbox" || name == "framebox") return false;
  while (k < s.size() && IsSpace(s[k])) ++k;
  std::string_view inner;
  size_t end;
  return k < s.size() && s[k] == '{' && ReadBraceGroup(s, k, s.size(), &inner, &end) &&
         end == s.size();
}

void StripTrailingPunctuation(std::string* t) {
  for (;;) {
    while (!t->empty() && (t->back() == '.' || t->back() == ',' || t->back() == ';' ||
                           t->back() == ':' || t->back() == ' ')) {
      t->pop_back();
    }
    if (t->size() >= 2 && t->substr(t->size() - 2) == "\\ ") {
      t->resize(t->size() - 2);
      continue;
    }
    return;
  }
}

}  // namespace

NormalizedAnswer NormalizeLatexAnswer(std::string_view raw) {
  NormalizedAnswer out;
  Rewriter rewriter(&out);
  std::string text = rewriter.Run(raw, 0);
  out.text = CollapseSpaces(text);
  out.text_wrapped = IsWholeTextWrapper(Trim(raw));
  StripTrailingPunctuation(&out.text);
  StripTrailingWords(&out);
  StripMembership(&out);
  StripTrailingPunctuation(&out.text);
  for (char separator : {',', ' '}) {
    if (IsThousandsNumber(out.text, separator)) {
      std::erase(out.text, separator);
      AddNote(&out, "thousands separators");
    }
  }
  ReplaceConjunctions(&out.text);
  if (out.degrees) AddNote(&out, "degrees");
  if (out.percent) AddNote(&out, "percent");
  return out;
}

}  // namespace r1serve::verify
