#include "lib/text/onig_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "lib/base/status_macros.h"
#include "lib/text/unicode_categories.h"
#include "lib/text/utf8.h"

namespace r1serve::text {
namespace {

constexpr char32_t kMaxCodePoint = 0x10FFFF;
constexpr uint32_t kPcre2CompileOptions = PCRE2_UTF | PCRE2_UCP;

const CodePointSet& HexDigits() {  // Oniguruma's \h (Ruby syntax), not PCRE2's horizontal space
  static const CodePointSet* set =
      new CodePointSet(CodePointSet::FromRanges({{'0', '9'}, {'A', 'F'}, {'a', 'f'}}));
  return *set;
}

const CodePointSet& Surrogates() {
  static const CodePointSet* set = new CodePointSet(CodePointSet::FromRanges({{0xD800, 0xDFFF}}));
  return *set;
}

void AppendCodePoint(char32_t cp, std::string* out) {
  absl::StrAppendFormat(out, "\\x{%x}", static_cast<uint32_t>(cp));
}

// Class items for `set`; surrogates are left out because PCRE2 in UTF mode rejects them (and
// valid UTF-8 never holds one).
void AppendRanges(const CodePointSet& set, std::string* out) {
  const CodePointSet scalars = set.Minus(Surrogates());
  for (const CodePointSet::Range& r : scalars.ranges()) {
    AppendCodePoint(r.first, out);
    if (r.last != r.first) {
      out->push_back('-');
      AppendCodePoint(r.last, out);
    }
  }
}

// PCRE2's spelling of a category mask that CategoryMaskFromName returned.
std::string Pcre2PropertyName(uint32_t mask) {
  static constexpr std::string_view kSingle[] = {
      "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe",
      "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn"};
  if (__builtin_popcount(mask) == 1) return std::string(kSingle[__builtin_ctz(mask)]);
  for (std::string_view major : {"L", "M", "N", "P", "S", "Z", "C", "LC", "Any"}) {
    if (*CategoryMaskFromName(major) == mask) return major == "LC" ? "L&" : std::string(major);
  }
  return "";  // unreachable for masks from CategoryMaskFromName
}

// What PCRE2 (this process's library and Unicode tables) matches with `pcre2_class`, a
// one-character pattern: found by running it over every code point. Cached per pattern.
absl::StatusOr<CodePointSet> Pcre2Membership(const std::string& pcre2_class) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* cache ABSL_GUARDED_BY(mu) = new absl::flat_hash_map<std::string, CodePointSet>();
  {
    absl::MutexLock lock(&mu);
    if (auto it = cache->find(pcre2_class); it != cache->end()) return it->second;
  }
  // A bracket class under '+' is one single-character repeat in PCRE2: no backtracking frame
  // per character, so runs of any length match.
  const std::string pattern = absl::StrCat(pcre2_class, "+");
  int error;
  PCRE2_SIZE error_offset;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   kPcre2CompileOptions, &error, &error_offset, nullptr);
  if (code == nullptr) {
    return absl::InternalError(absl::StrCat("PCRE2 rejected class ", pcre2_class));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // the interpreter is fine too, only slower
  pcre2_match_data* match = pcre2_match_data_create(1, nullptr);
  std::vector<CodePointSet::Range> ranges;
  std::string text;
  std::vector<uint32_t> offsets;  // [k]: byte offset of the k-th code point of the block
  std::vector<char32_t> cps;
  for (char32_t block = 0; block <= kMaxCodePoint; block += 0x10000) {
    text.clear();
    offsets.clear();
    cps.clear();
    for (char32_t cp = block; cp < block + 0x10000; ++cp) {
      if (cp >= 0xD800 && cp <= 0xDFFF) continue;
      offsets.push_back(text.size());
      cps.push_back(cp);
      AppendUtf8(cp, &text);
    }
    offsets.push_back(text.size());
    for (size_t at = 0; at < text.size();) {
      const int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), at,
                                 PCRE2_NO_UTF_CHECK, match, nullptr);
      if (rc == PCRE2_ERROR_NOMATCH) break;
      if (rc < 0) {
        pcre2_match_data_free(match);
        pcre2_code_free(code);
        return absl::InternalError(absl::StrCat("PCRE2 error ", rc, " probing ", pcre2_class));
      }
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(match);
      const size_t first =
          std::lower_bound(offsets.begin(), offsets.end(), ov[0]) - offsets.begin();
      const size_t past = std::lower_bound(offsets.begin(), offsets.end(), ov[1]) - offsets.begin();
      if (past > first) ranges.push_back({cps[first], cps[past - 1]});
      at = std::max<size_t>(ov[1], ov[0] + 1);
    }
  }
  pcre2_match_data_free(match);
  pcre2_code_free(code);
  CodePointSet set = CodePointSet::FromRanges(std::move(ranges));
  absl::MutexLock lock(&mu);
  cache->emplace(pcre2_class, set);
  return set;
}

// One parsed escape or literal: a single code point, or a set of them.
struct Atom {
  bool is_char = true;
  char32_t cp = 0;
  CodePointSet set;              // exact meaning (for !is_char)
  std::string natural;           // PCRE2 class items with the same intent (for !is_char)
  bool uses_properties = false;  // natural relies on PCRE2's Unicode tables
};

// Oniguruma pattern -> PCRE2 pattern, one pass.
class Translator {
 public:
  // With `ascii_subject`, the result need only be right for subjects that are pure ASCII, and
  // every class becomes its ASCII part: a plain bitmap in PCRE2, several times faster than
  // classes that consult Unicode tables.
  Translator(std::string_view pattern, bool ascii_subject)
      : pattern_(pattern), ascii_subject_(ascii_subject) {}

  absl::StatusOr<std::string> Run() {
    if (ValidUtf8Prefix(pattern_) != pattern_.size()) return Error("is not valid UTF-8");
    scopes_.push_back(false);
    while (!AtEnd()) {
      const char32_t c = Next();
      switch (c) {
        case '\\': {
          ASSIGN_OR_RETURN(Atom atom, ParseEscape(/*in_class=*/false));
          if (atom.is_char) {
            AppendCodePoint(atom.cp, &out_);
          } else {
            ASSIGN_OR_RETURN(std::string snippet,
                             ClassSnippet(false, atom.set, atom.natural, atom.uses_properties));
            out_ += snippet;
          }
          break;
        }
        case '[':
          RETURN_IF_ERROR(ParseClass());
          break;
        case '(':
          RETURN_IF_ERROR(ParseGroupOpen());
          break;
        case ')':
          if (scopes_.size() <= 1) return Error("has an unbalanced ')'");
          scopes_.pop_back();
          out_ += ')';
          break;
        case '{':
          ParseInterval();
          // Ruby syntax reads {n,m}+ as a repeated interval, PCRE2 as a possessive one.
          if (!AtEnd() && pattern_[pos_] == '+' && out_.back() == '}') {
            return Error("has {n,m}+, which Oniguruma and PCRE2 read differently");
          }
          break;
        case '.':
          out_ += "[^\\n]";  // Oniguruma's '.' (without the m flag) excludes only LF
          break;
        case '^':  // Ruby syntax: anchors are always per line
          out_ += "(?m:^)";
          break;
        case '$':
          out_ += "(?m:$)";
          break;
        default:
          AppendUtf8(c, &out_);
      }
    }
    if (scopes_.size() != 1) return Error("has an unclosed '('");
    return std::move(out_);
  }

 private:
  bool AtEnd() const { return pos_ >= pattern_.size(); }
  char32_t Next() {
    size_t n;
    const char32_t c = DecodeUtf8(pattern_.substr(pos_), &n);
    pos_ += n;
    return c;
  }
  bool Accept(char c) {
    if (!AtEnd() && pattern_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  absl::Status Error(std::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("regex \"", std::string(pattern_), "\" ",
                                                   std::string(what), " (at byte ", pos_, ")"));
  }
  bool caseless() const { return scopes_.back(); }

  absl::StatusOr<char32_t> ParseHex(size_t min_digits, size_t max_digits, char terminator) {
    char32_t value = 0;
    size_t digits = 0;
    while (!AtEnd() && digits < max_digits && absl::ascii_isxdigit(pattern_[pos_])) {
      const char d = absl::ascii_tolower(pattern_[pos_++]);
      value = value * 16 + (d <= '9' ? d - '0' : d - 'a' + 10);
      ++digits;
    }
    if (digits < min_digits) return Error("has a malformed hexadecimal escape");
    if (terminator != 0 && !Accept(terminator)) return Error("has an unterminated \\x{...}");
    if (value > kMaxCodePoint || (value >= 0xD800 && value <= 0xDFFF)) {
      return Error("escapes a value that is not a Unicode scalar value");
    }
    return value;
  }

  Atom Set(CodePointSet set, std::string natural, bool uses_properties) {
    Atom atom;
    atom.is_char = false;
    atom.set = std::move(set);
    atom.natural = std::move(natural);
    atom.uses_properties = uses_properties;
    return atom;
  }
  Atom Explicit(CodePointSet set) {
    std::string natural;
    AppendRanges(set, &natural);
    return Set(std::move(set), std::move(natural), false);
  }
  static Atom Char(char32_t cp) {
    Atom atom;
    atom.cp = cp;
    return atom;
  }

  // After a backslash.
  absl::StatusOr<Atom> ParseEscape(bool in_class) {
    if (AtEnd()) return Error("ends with a backslash");
    const char32_t c = Next();
    switch (c) {
      case 'p':
      case 'P': {
        if (!Accept('{')) return Error("has \\p without {name}");
        const size_t close = pattern_.find('}', pos_);
        if (close == std::string_view::npos) return Error("has an unterminated \\p{");
        std::string_view name = pattern_.substr(pos_, close - pos_);
        pos_ = close + 1;
        bool negated = c == 'P';
        if (!name.empty() && name[0] == '^') {
          negated = !negated;
          name.remove_prefix(1);
        }
        absl::StatusOr<uint32_t> mask = CategoryMaskFromName(name);
        if (!mask.ok()) return Error(std::string(mask.status().message()));
        CodePointSet set = CodePointSet::FromCategories(*mask);
        return Set(negated ? set.Complement() : set,
                   absl::StrCat(negated ? "\\P{" : "\\p{", Pcre2PropertyName(*mask), "}"), true);
      }
      case 's':
        return Explicit(WhiteSpaceSet());
      case 'S':
        return Explicit(WhiteSpaceSet().Complement());
      case 'h':
        return Explicit(HexDigits());
      case 'H':
        return Explicit(HexDigits().Complement());
      case 'd':  // Oniguruma (Unicode): Decimal_Number
        return Set(CodePointSet::FromCategories(*CategoryMaskFromName("Nd")), "\\p{Nd}", true);
      case 'D':
        return Set(CodePointSet::FromCategories(*CategoryMaskFromName("Nd")).Complement(),
                   "\\P{Nd}", true);
      case 't':
        return Char('\t');
      case 'n':
        return Char('\n');
      case 'r':
        return Char('\r');
      case 'f':
        return Char('\f');
      case 'v':  // Oniguruma: VT only (PCRE2: any vertical space)
        return Char('\v');
      case 'a':
        return Char('\a');
      case 'e':
        return Char(0x1B);
      case 'b':
        if (in_class) return Char('\b');
        return Error("uses \\b (word boundaries differ between Oniguruma and PCRE2)");
      case 'x': {
        if (Accept('{')) {
          ASSIGN_OR_RETURN(char32_t cp, ParseHex(1, 8, '}'));
          return Char(cp);
        }
        ASSIGN_OR_RETURN(char32_t cp, ParseHex(1, 2, 0));
        return Char(cp);
      }
      case 'u': {
        ASSIGN_OR_RETURN(char32_t cp, ParseHex(4, 4, 0));
        return Char(cp);
      }
      default:
        if (c < 0x80 && absl::ascii_isalnum(static_cast<char>(c))) {
          return Error(absl::StrCat("uses the unsupported escape \\", std::string(1, c)));
        }
        return Char(c);  // an escaped punctuation or non-ASCII character is itself
    }
  }

  // After '['.
  absl::Status ParseClass() {
    const bool negated = Accept('^');
    CodePointSet items;
    std::string natural;
    bool uses_properties = false;
    bool first = true;
    while (true) {
      if (AtEnd()) return Error("has an unterminated character class");
      if (!first && Accept(']')) break;
      if (pattern_.substr(pos_).starts_with("&&")) {
        return Error("uses class intersection (&&), which is unsupported");
      }
      if (pattern_[pos_] == '[') {
        return Error("uses a nested class or POSIX bracket, which is unsupported");
      }
      first = false;
      ASSIGN_OR_RETURN(Atom atom, ParseClassAtom());
      if (!atom.is_char) {
        items.AddSet(atom.set);
        natural += atom.natural;
        uses_properties |= atom.uses_properties;
        continue;
      }
      char32_t last = atom.cp;
      if (pos_ + 1 < pattern_.size() && pattern_[pos_] == '-' && pattern_[pos_ + 1] != ']') {
        ++pos_;
        ASSIGN_OR_RETURN(Atom end, ParseClassAtom());
        if (!end.is_char) return Error("has a class range ending in a set escape");
        if (end.cp < atom.cp) return Error("has an empty class range");
        last = end.cp;
      }
      items.Add(atom.cp, last);
      AppendCodePoint(atom.cp, &natural);
      if (last != atom.cp) {
        natural.push_back('-');
        AppendCodePoint(last, &natural);
      }
    }
    ASSIGN_OR_RETURN(std::string snippet, ClassSnippet(negated, items, natural, uses_properties));
    out_ += snippet;
    return absl::OkStatus();
  }

  absl::StatusOr<Atom> ParseClassAtom() {
    const char32_t c = Next();
    if (c == '\\') return ParseEscape(/*in_class=*/true);
    return Char(c);
  }

  // A PCRE2 expression for one character of the class: `natural` when PCRE2's Unicode tables
  // give it exactly the meaning of `items` (negated or not), else natural with the difference
  // patched in (code points PCRE2 misses) and out (code points it wrongly includes).
  absl::StatusOr<std::string> ClassSnippet(bool negated, const CodePointSet& items,
                                           const std::string& natural, bool uses_properties) {
    const std::string natural_class = absl::StrCat(negated ? "[^" : "[", natural, "]");
    // Under (?i) both engines close the class over case, which the exact sets here do not
    // model (and which may bring non-ASCII members onto ASCII), so trust PCRE2 there.
    if (caseless()) return natural_class;
    const CodePointSet exact = negated ? items.Complement() : items;
    if (ascii_subject_) {
      static const CodePointSet* non_ascii =
          new CodePointSet(CodePointSet::FromRanges({{0x80, kMaxCodePoint}}));
      const CodePointSet ascii = exact.Minus(*non_ascii);
      if (ascii.empty()) return "[^\\x{0}-\\x{10ffff}]";  // matches nothing
      std::string ranges;
      AppendRanges(ascii, &ranges);
      return absl::StrCat("[", ranges, "]");
    }
    // Without properties the natural class is exact.
    if (!uses_properties) return natural_class;
    ASSIGN_OR_RETURN(CodePointSet pcre2, Pcre2Membership(natural_class));
    const CodePointSet missing = exact.Minus(pcre2).Minus(Surrogates());
    const CodePointSet extra = pcre2.Minus(exact).Minus(Surrogates());
    // Prefer one bracket class: PCRE2 repeats it without a backtracking frame per character.
    std::string patch;
    if (!negated && extra.empty()) {
      AppendRanges(missing, &patch);
      return absl::StrCat("[", natural, patch, "]");
    }
    if (negated && missing.empty()) {
      AppendRanges(extra, &patch);
      return absl::StrCat("[^", natural, patch, "]");
    }
    // Both ways wrong (categories changed between Unicode versions): lookahead and alternation.
    std::string result = natural_class;
    if (!missing.empty()) {
      AppendRanges(missing, &patch);
      result = absl::StrCat("(?:", natural_class, "|[", patch, "])");
    }
    if (!extra.empty()) {
      std::string excluded;
      AppendRanges(extra, &excluded);
      result = absl::StrCat("(?:(?![", excluded, "])", result, ")");
    }
    return result;
  }

  // After '('.
  absl::Status ParseGroupOpen() {
    bool scope_caseless = caseless();
    out_ += '(';
    if (!Accept('?')) {
      scopes_.push_back(scope_caseless);
      return absl::OkStatus();
    }
    out_ += '?';
    if (Accept('#')) {  // comment: drop it
      out_.resize(out_.size() - 2);
      const size_t close = pattern_.find(')', pos_);
      if (close == std::string_view::npos) return Error("has an unterminated (?#");
      pos_ = close + 1;
      return absl::OkStatus();
    }
    if (!AtEnd() && (pattern_[pos_] == ':' || pattern_[pos_] == '=' || pattern_[pos_] == '!' ||
                     pattern_[pos_] == '>' || pattern_[pos_] == '<' || pattern_[pos_] == '\'')) {
      scopes_.push_back(scope_caseless);  // lookarounds, atomic and named groups pass through
      return absl::OkStatus();
    }
    // Option letters: only i is supported (Ruby's m is PCRE2's s, x would need a rewrite).
    bool on = true;
    while (!AtEnd() && pattern_[pos_] != ':' && pattern_[pos_] != ')') {
      const char f = pattern_[pos_++];
      if (f == '-') {
        on = false;
      } else if (f == 'i') {
        scope_caseless = on;
      } else {
        return Error(absl::StrCat("uses the unsupported group option '", std::string(1, f), "'"));
      }
      out_ += f;
    }
    if (Accept(':')) {
      out_ += ':';
      scopes_.push_back(scope_caseless);
    } else if (Accept(')')) {
      out_ += ')';
      scopes_.back() = scope_caseless;  // (?i) holds to the end of the enclosing group
    } else {
      return Error("has an unterminated group option");
    }
    return absl::OkStatus();
  }

  // After '{': Oniguruma's {n}, {n,}, {n,m} and {,m}; anything else is a literal '{'.
  void ParseInterval() {
    const size_t close = pattern_.find('}', pos_);
    std::string_view body =
        close == std::string_view::npos ? "" : pattern_.substr(pos_, close - pos_);
    const size_t comma = body.find(',');
    auto digits = [](std::string_view s) {
      return std::all_of(s.begin(), s.end(), [](char c) { return absl::ascii_isdigit(c); });
    };
    const std::string_view low = body.substr(0, comma);
    const std::string_view high = comma == std::string_view::npos ? "" : body.substr(comma + 1);
    const bool valid = !body.empty() && digits(low) && digits(high) &&
                       (!low.empty() || !high.empty()) &&
                       (comma != std::string_view::npos || !low.empty());
    if (!valid) {
      out_ += "\\{";
      return;
    }
    absl::StrAppend(&out_, "{", low.empty() ? std::string("0") : std::string(low),
                    std::string(body.substr(low.size())), "}");
    pos_ = close + 1;
  }

  std::string_view pattern_;
  bool ascii_subject_;
  size_t pos_ = 0;
  std::string out_;
  std::vector<bool> scopes_;  // per open group: is case-insensitive matching on
};

struct ThreadMatchState;
// Find reads the calling thread's state through this plain pointer, which needs no
// initialization guard.
thread_local ThreadMatchState* this_thread_state = nullptr;

// What one thread matches with. The JIT stack is reserved at its largest size up front but
// only the pages used are ever touched.
struct ThreadMatchState {
  explicit ThreadMatchState(const OnigRegex::MatchLimits& limits)
      : match(pcre2_match_data_create(1, nullptr)),
        jit_context(pcre2_match_context_create(nullptr)),
        jit_stack(pcre2_jit_stack_create(32 << 10, limits.jit_stack_bytes, nullptr)),
        interpreter_context(pcre2_match_context_create(nullptr)) {
    pcre2_jit_stack_assign(jit_context, nullptr, jit_stack);  // null stack: 32 KiB default
    pcre2_set_match_limit(jit_context, limits.match_limit);
    pcre2_set_match_limit(interpreter_context, limits.match_limit);
    pcre2_set_heap_limit(interpreter_context, limits.interpreter_heap_kib);
  }
  ~ThreadMatchState() {
    this_thread_state = nullptr;
    pcre2_match_context_free(interpreter_context);
    pcre2_jit_stack_free(jit_stack);
    pcre2_match_context_free(jit_context);
    pcre2_match_data_free(match);
  }
  ThreadMatchState(const ThreadMatchState&) = delete;
  ThreadMatchState& operator=(const ThreadMatchState&) = delete;

  pcre2_match_data* match;
  pcre2_match_context* jit_context;
  pcre2_jit_stack* jit_stack;
  pcre2_match_context* interpreter_context;
};

// The calling thread's state, made on first use and freed when the thread exits (see
// ThisThreadMatchState).
thread_local std::unique_ptr<ThreadMatchState> this_thread_state_owner;

void MakeThisThreadMatchState(const OnigRegex::MatchLimits& limits) {
  this_thread_state_owner = std::make_unique<ThreadMatchState>(limits);
  this_thread_state = this_thread_state_owner.get();
}

ThreadMatchState& ThisThreadMatchState() {
  if (ABSL_PREDICT_FALSE(this_thread_state == nullptr)) {
    MakeThisThreadMatchState(OnigRegex::MatchLimits());
  }
  return *this_thread_state;
}

// PCRE2's spelling of a subject (never null, even for an empty view).
PCRE2_SPTR Pcre2Subject(std::string_view subject) {
  return reinterpret_cast<PCRE2_SPTR>(subject.data() ? subject.data() : "");
}

std::string Pcre2ErrorMessage(int rc) {
  PCRE2_UCHAR message[256];
  pcre2_get_error_message(rc, message, sizeof(message));
  return reinterpret_cast<const char*>(message);
}

}  // namespace

absl::StatusOr<std::string> TranslateOnigurumaPattern(std::string_view pattern,
                                                      bool ascii_subject) {
  return Translator(pattern, ascii_subject).Run();
}

absl::StatusOr<std::unique_ptr<const OnigRegex>> OnigRegex::Compile(std::string_view pattern) {
  ASSIGN_OR_RETURN(std::string general, TranslateOnigurumaPattern(pattern, false));
  ASSIGN_OR_RETURN(std::string ascii, TranslateOnigurumaPattern(pattern, true));
  return FromPcre2(std::move(general), std::move(ascii), pattern);
}

absl::StatusOr<std::unique_ptr<const OnigRegex>> OnigRegex::Literal(std::string_view literal) {
  if (ValidUtf8Prefix(literal) != literal.size()) {
    return absl::InvalidArgumentError("split pattern string is not valid UTF-8");
  }
  std::string pcre2_pattern;
  for (size_t i = 0; i < literal.size();) {
    size_t n;
    AppendCodePoint(DecodeUtf8(literal.substr(i), &n), &pcre2_pattern);
    i += n;
  }
  std::string ascii = pcre2_pattern;  // a literal needs no class rewriting
  return FromPcre2(std::move(pcre2_pattern), std::move(ascii), literal);
}

absl::StatusOr<std::unique_ptr<const OnigRegex>> OnigRegex::FromPcre2(std::string general,
                                                                      std::string ascii,
                                                                      std::string_view source) {
  auto regex = std::unique_ptr<OnigRegex>(new OnigRegex());
  for (auto [text, program] :
       {std::pair(&general, &regex->general_), std::pair(&ascii, &regex->ascii_)}) {
    int error;
    PCRE2_SIZE error_offset;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(text->data()), text->size(),
                                     kPcre2CompileOptions, &error, &error_offset, nullptr);
    if (code == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("regex \"", std::string(source), "\": ", Pcre2ErrorMessage(error)));
    }
    *program = std::make_unique<Program>();
    (*program)->code = code;
    (*program)->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  }
  regex->pcre2_pattern_ = std::move(general);
  regex->source_ = std::string(source);
  return std::unique_ptr<const OnigRegex>(std::move(regex));
}

OnigRegex::Program::~Program() { pcre2_code_free(code); }

OnigRegex::~OnigRegex() = default;

void OnigRegex::SetThreadMatchLimitsForTesting(const MatchLimits& limits) {
  MakeThisThreadMatchState(limits);
}

bool OnigRegex::Find(std::string_view subject, size_t start, bool ascii_subject, size_t* begin,
                     size_t* end, absl::Status* error) const {
  const Program& program = ascii_subject ? *ascii_ : *general_;
  if (ABSL_PREDICT_TRUE(program.jit)) {
    ThreadMatchState& state = ThisThreadMatchState();
    const int rc = pcre2_jit_match(program.code, Pcre2Subject(subject), subject.size(), start, 0,
                                   state.match, state.jit_context);
    if (rc >= 0) {  // rc == 0 (ovector too small for the captures) still matched
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(state.match);
      *begin = ov[0];
      *end = ov[1];
      return true;
    }
    if (rc == PCRE2_ERROR_NOMATCH) return false;
    // Out of JIT stack or over the match limit: the interpreter retries.
  }
  return FindWithInterpreter(program, subject, start, begin, end, error);
}

// Out of line, so that Find's own path stays short.
ABSL_ATTRIBUTE_NOINLINE bool OnigRegex::FindWithInterpreter(const Program& program,
                                                            std::string_view subject, size_t start,
                                                            size_t* begin, size_t* end,
                                                            absl::Status* error) const {
  ThreadMatchState& state = ThisThreadMatchState();
  // PCRE2 keeps the interpreter's frames in the match data for reuse: after the JIT gave up,
  // match data of its own, so that the thread's does not keep holding them.
  std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data*)> own_match(
      program.jit ? pcre2_match_data_create(1, nullptr) : nullptr, pcre2_match_data_free);
  pcre2_match_data* match = program.jit ? own_match.get() : state.match;
  const int rc = match == nullptr ? PCRE2_ERROR_NOMEMORY
                                  : pcre2_match(program.code, Pcre2Subject(subject), subject.size(),
                                                start, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, match,
                                                state.interpreter_context);
  if (rc >= 0) {
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(match);
    *begin = ov[0];
    *end = ov[1];
    return true;
  }
  if (rc != PCRE2_ERROR_NOMATCH) {
    *error = absl::ResourceExhaustedError(
        absl::StrCat("regex \"", source_, "\" gave up on a subject of ", subject.size(),
                     " bytes from byte ", start, ": ", Pcre2ErrorMessage(rc)));
  }
  return false;
}

}  // namespace r1serve::text
