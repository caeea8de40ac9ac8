// Where a completion's reasoning and answer are: the one reading of R1's
// "<think> reasoning </think> answer" layout that the format check, the language check and the
// answer-reading verifiers share, so they never disagree about what the answer is.
//
//   ResponseShape shape = ParseResponseShape(item.response, item.starts_in_reasoning);
//   RunTests(ExtractLastCodeBlock(shape.answer));
//
// The views point into the parsed text, which must outlive the shape.
#pragma once

#include <string_view>

namespace r1serve::verify {

inline constexpr std::string_view kThinkOpen = "<think>";
inline constexpr std::string_view kThinkClose = "</think>";

struct ResponseShape {
  // Every "<think>" and "</think>" in the text.
  int open_tags = 0;
  int close_tags = 0;
  // Text before the first "<think>" (all of it when there is none).
  std::string_view before_open;
  // The chain of thought: from the block's opening (the start of the text when the prompt opened
  // it, else just after the first "<think>") to the last "</think>", or to the end when the
  // block never closes (a truncated completion still has a language). With neither the prompt
  // nor the text opening a block, and no "</think>", all of the text.
  std::string_view reasoning;
  // The text after the last "</think>"; all of the text when there is none (the proto's rule
  // for verifiers that read the final answer).
  std::string_view answer;
};

ResponseShape ParseResponseShape(std::string_view response, bool starts_in_reasoning);

// Counts non-overlapping occurrences of `needle` (non-empty) in `text`.
int CountOccurrences(std::string_view text, std::string_view needle);

// Whether `text` holds only ASCII whitespace (or nothing).
bool IsBlank(std::string_view text);

}  // namespace r1serve::verify
