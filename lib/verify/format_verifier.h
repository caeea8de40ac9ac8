// The FORMAT reward: whether a completion has DeepSeek-R1's shape, reasoning in one
// <think>…</think> block and then a non-empty answer.
//
//   FormatVerdict v = VerifyFormat(response, /*starts_in_reasoning=*/true, FormatOptions{});
//   // v.reward in [0, 1], v.reason says which checks failed
//
// Three checks, all on the raw text (tags are matched exactly, case-sensitively):
//   opening  R1's chat template ends the prompt with "<think>\n", so when starts_in_reasoning the
//            block is already open and the completion must hold no "<think>" at all (a second
//            opening is a second block). Otherwise the completion must open the block itself:
//            exactly one "<think>", with nothing but whitespace before it.
//   closing  exactly one "</think>", after the opening.
//   answer   something other than whitespace after the "</think>".
// Reward: 1 when all three pass, else 0 (the contract of REWARD_COMPONENT_FORMAT). With
// FormatOptions::partial_credit each passing check earns 1/3 instead; the answer check cannot
// pass without a "</think>" (there is no answer without a closed block). Partial credit is a
// server setting, so it is part of the configuration hash.
#pragma once

#include <string>
#include <string_view>

namespace r1serve::verify {

struct FormatOptions {
  // Pay 1/3 per passing check instead of all or nothing.
  bool partial_credit = false;
};

struct FormatVerdict {
  double reward = 0;
  std::string reason;  // "R1 format" or the failed checks, e.g. "missing </think>; empty answer"
};

FormatVerdict VerifyFormat(std::string_view response, bool starts_in_reasoning,
                           const FormatOptions& options);

}  // namespace r1serve::verify
