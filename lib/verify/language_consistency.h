// The LANGUAGE_CONSISTENCY reward of DeepSeek-R1: the share of the words in the chain of thought
// that are in the target language. "In the language" is decided by script, with ICU: a word
// counts for the target when its script is one the language is written in (Latin for "en" and
// "fr", Han for "zh", Han + Hiragana + Katakana for "ja", Hangul + Han for "ko", ...). Words are
// ICU word-break segments (dictionary segmentation for Chinese and Japanese), so one Chinese
// word weighs as much as one English word.
//
//   absl::StatusOr<ScriptSet> target = TargetScripts("zh", prompt);
//   LanguageVerdict v = VerifyLanguageConsistency(shape.reasoning, *target);  // v.reward in [0, 1]
//
// What is not prose is left out before counting, so that code and math neither help nor hurt:
// fenced code blocks (```), inline code (`x`), LaTeX math ($…$, $$…$$, \(…\), \[…\]) and
// LaTeX commands (\frac), numbers, words holding digits or underscores (identifiers), and
// one-letter words of alphabetic scripts (variables such as x or π). With no target
// language the prompt's dominant script decides (kana in a Han prompt means Japanese, Hangul
// means Korean). Reasoning with no word left scores 0: an empty chain of thought earns nothing.
// Script-based means Chinese text passes a Japanese target and French passes an English one.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace r1serve::verify {

// ICU script codes (UScriptCode values) a language is written in, and its name for reasons.
struct ScriptSet {
  std::vector<int> scripts;
  std::string name;  // "Latn", "Hani+Hira+Kana"
};

// The scripts of a BCP 47 tag ("en", "zh-Hant", "ja"); INVALID_ARGUMENT for a tag ICU does not
// know. An empty tag (or "und") means: detect from `prompt`, INVALID_ARGUMENT when the prompt has
// no words to detect from.
absl::StatusOr<ScriptSet> TargetScripts(std::string_view language_tag, std::string_view prompt);

struct LanguageVerdict {
  double reward = 0;
  int words = 0;         // words counted
  int target_words = 0;  // of those, in the target scripts
  std::string reason;    // "57 of 60 words in Latn"
};

LanguageVerdict VerifyLanguageConsistency(std::string_view reasoning, const ScriptSet& target);

}  // namespace r1serve::verify
