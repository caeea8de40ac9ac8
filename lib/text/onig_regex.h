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
//   absl::Status error;
//   for (size_t at = 0; re->Find(text, at, /*ascii_subject=*/false, &begin, &end, &error);
//        at = end) { ... }
//   RETURN_IF_ERROR(error);  // PCRE2 gave up: not the same as no further match
//
// Thread safety: a compiled OnigRegex is immutable; Find may run on any number of threads (each
// thread keeps its own PCRE2 match data and JIT stack).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
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

  // How hard Find tries before it gives up. A pattern can need backtracking state for every
  // repetition it is inside of (`(?:ab)+` over "ab" repeated a million times needs about 8 MiB
  // of JIT stack), or backtrack without bound (`(?:a|aa)+$`); the limits bound the memory and
  // time one Find may take. The shipped tokenizers' patterns stay far below them.
  struct MatchLimits {
    size_t jit_stack_bytes = 32 << 20;          // per thread, reserved once, touched only as used
    uint32_t interpreter_heap_kib = 256 << 10;  // the interpreter's backtracking frames
    uint32_t match_limit = 10'000'000;  // PCRE2's own default, for the JIT and the interpreter
  };

  // The leftmost match in `subject` that starts at or after byte offset `start` (lookarounds
  // see all of `subject`): true with [*begin, *end) set. False when there is none, and also
  // when PCRE2 gives up, which then (only then) sets *error to a ResourceExhausted error
  // naming the pattern and the PCRE2 error; callers must not take that for "no match".
  // `subject` must be valid UTF-8 and `start` on a character boundary; `ascii_subject` promises
  // that `subject` is pure ASCII (a faster program then runs).
  // The JIT-compiled program runs first; should it give up (out of JIT stack, over the match
  // limit), PCRE2's interpreter retries with its heap as the backtracking stack, and only
  // when that gives up too does Find.
  // (A bool and an out-parameter rather than a StatusOr<bool>: Find runs once per pre-token,
  // on the encode hot path.)
  bool Find(std::string_view subject, size_t start, bool ascii_subject, size_t* begin, size_t* end,
            absl::Status* error) const;

  const std::string& pcre2_pattern() const { return pcre2_pattern_; }

  // Makes Find use `limits` on the calling thread from now on, so that tests can reach the
  // fallbacks with small subjects.
  static void SetThreadMatchLimitsForTesting(const MatchLimits& limits);

 private:
  // One compiled PCRE2 pattern.
  struct Program {
    ~Program();
    ::pcre2_real_code_8* code = nullptr;
    bool jit = false;  // compiled to machine code (else PCRE2's interpreter runs it)
  };

  OnigRegex() = default;
  // Find with PCRE2's interpreter, whose backtracking frames live on the heap (up to the heap
  // limit) rather than on the JIT stack: for programs without JIT, and when the JIT gave up.
  bool FindWithInterpreter(const Program& program, std::string_view subject, size_t start,
                           size_t* begin, size_t* end, absl::Status* error) const;
  static absl::StatusOr<std::unique_ptr<const OnigRegex>> FromPcre2(std::string general,
                                                                    std::string ascii,
                                                                    std::string_view source);

  std::string source_;                // the pattern as given, for error messages
  std::string pcre2_pattern_;         // of general_
  std::unique_ptr<Program> general_;  // any UTF-8 subject
  std::unique_ptr<Program> ascii_;    // pure-ASCII subjects only
};

}  // namespace r1serve::text
