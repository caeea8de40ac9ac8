// A regex written in Oniguruma syntax, as tokenizer.json's Split pre-tokenizers store them, run
// with PCRE2 (JIT). Both engines are Perl-style backtrackers (leftmost alternative wins), so
// matching is the same once the pattern text is translated: the translation rewrites the escapes
// whose meaning differs (\s is Unicode White_Space in Oniguruma, \h is a hex digit, \v is VT,
// \uHHHH, {,n}) and makes every \p{..} class mean exactly what it means to HF tokenizers'
// Oniguruma (Unicode 16.0, see unicode_categories.h), whatever Unicode version PCRE2 has.
// Constructs it cannot vouch for (\w, \b, back-references, POSIX brackets, nested classes,
// script properties, the x/m flags) are an InvalidArgument error naming them.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<const OnigRegex> re, OnigRegex::Compile(R"(\p{N}{1,3})"));
//   size_t begin, end;
//   for (size_t at = 0; re->Find(text, at, &begin, &end); at = end) { ... }
//
// Thread safety: a compiled OnigRegex is immutable; Find may run on any number of threads (each
// thread keeps its own PCRE2 match data).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

struct pcre2_real_code_8;  // pcre2_code, from <pcre2.h>

namespace r1serve::text {

// The PCRE2 pattern (for PCRE2_UTF | PCRE2_UCP) equivalent to an Oniguruma (Ruby syntax, UTF-8)
// pattern. Classes using \p{..} are checked against PCRE2's own Unicode tables once per process
// and corrected where they disagree; that costs a few milliseconds per distinct class. With
// `ascii_subject` the result is only meant for pure-ASCII subjects (each class keeps just its
// ASCII members, which PCRE2 tests with a bitmap).
absl::StatusOr<std::string> TranslateOnigurumaPattern(std::string_view pattern,
                                                      bool ascii_subject = false);

class OnigRegex {
 public:
  // `pattern` in Oniguruma syntax.
  static absl::StatusOr<std::unique_ptr<const OnigRegex>> Compile(std::string_view pattern);
  // Matches `literal` verbatim (tokenizer.json's {"String": ...} split patterns).
  static absl::StatusOr<std::unique_ptr<const OnigRegex>> Literal(std::string_view literal);

  ~OnigRegex();
  OnigRegex(const OnigRegex&) = delete;
  OnigRegex& operator=(const OnigRegex&) = delete;

  // The leftmost match in `subject` that starts at or after byte offset `start` (lookarounds
  // see all of `subject`). `subject` must be valid UTF-8 and `start` on a character boundary;
  // `ascii_subject` promises that `subject` is pure ASCII (a faster program then runs). False
  // when there is none (or when PCRE2 gives up, e.g. out of JIT stack, which these tokenizer
  // patterns cannot provoke).
  bool Find(std::string_view subject, size_t start, bool ascii_subject, size_t* begin,
            size_t* end) const;

  const std::string& pcre2_pattern() const { return pcre2_pattern_; }

 private:
  // One compiled PCRE2 pattern.
  struct Program {
    ~Program();
    ::pcre2_real_code_8* code = nullptr;
    bool jit = false;  // compiled to machine code (else PCRE2's interpreter runs it)
  };

  OnigRegex() = default;
  static absl::StatusOr<std::unique_ptr<const OnigRegex>> FromPcre2(std::string general,
                                                                    std::string ascii,
                                                                    std::string_view source);

  std::string pcre2_pattern_;         // of general_
  std::unique_ptr<Program> general_;  // any UTF-8 subject
  std::unique_ptr<Program> ascii_;    // pure-ASCII subjects only
};

}  // namespace r1serve::text
