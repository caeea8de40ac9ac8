// Final-answer extraction: finds the answer a math response commits to, the way graders read
// it. Only the text after the last "</think>" counts, and only its last max_tail_bytes are
// scanned; every search is a forward scan or a reverse find with a short fixed pattern, so the
// cost is linear in the bytes scanned.
//
//   ExtractedAnswer found = ExtractFinalAnswer(response, {.max_tail_bytes = 32768});
//   if (found.candidates.empty()) ... no answer ...
//
// Order of preference: every \boxed{...} / \fbox{...} / \framebox{...} (all of them, in order,
// so the caller can tell agreement from hedging); else the last "answer is ..." /
// "answer: ..." / "final answer ..."; else GSM8K's "#### n"; else the last markdown-bold
// "**...**" that holds a digit; else the whole answer when it is short and has no prose; else
// the last number.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace r1serve::verify {

struct ExtractionLimits {
  size_t max_tail_bytes = 32 * 1024;
  size_t max_answer_bytes = 2048;
};

struct ExtractedAnswer {
  // How the answer was found: "boxed", "answer phrase", "####", "bold", "bare answer",
  // "last number"; empty when nothing was found.
  std::string method;
  // The answer text as written. Several only for "boxed": each box's contents, in order.
  std::vector<std::string> candidates;
};

// The text after the last "</think>", or all of `response` when it has none.
std::string_view AnswerSection(std::string_view response);

ExtractedAnswer ExtractFinalAnswer(std::string_view response, const ExtractionLimits& limits);

// The contents of the brace group that opens at text[open] (which must be '{'), or npos-length
// failure (returns false) when it does not close within max_bytes. Backslash-escaped braces do
// not count. On success *end is the index just past the closing '}'.
bool ReadBraceGroup(std::string_view text, size_t open, size_t max_bytes,
                    std::string_view* contents, size_t* end);

}  // namespace r1serve::verify
