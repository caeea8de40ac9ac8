#include "lib/verify/language_consistency.h"

#include <unicode/brkiter.h>
#include <unicode/locid.h>
#include <unicode/ubrk.h>
#include <unicode/uloc.h>
#include <unicode/unistr.h>
#include <unicode/uscript.h>

#include <algorithm>
#include <map>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace r1serve::verify {
namespace {

// Replaces everything that is not prose (code, LaTeX math and commands) by spaces, so that word
// breaking never glues prose to what is left out.
std::string StripNonProse(std::string_view text) {
  std::string out(text);
  auto blank = [&out](size_t begin, size_t end) {
    std::fill(out.begin() + begin, out.begin() + std::min(end, out.size()), ' ');
  };
  // A span from `open` to the next `close` (both blanked); to the end when it never closes.
  auto span = [&](size_t i, std::string_view open, std::string_view close) -> size_t {
    size_t end = text.find(close, i + open.size());
    end = end == std::string_view::npos ? text.size() : end + close.size();
    blank(i, end);
    return end;
  };
  size_t i = 0;
  while (i < text.size()) {
    const std::string_view rest = text.substr(i);
    if (rest.starts_with("```")) {
      i = span(i, "```", "```");
    } else if (rest.starts_with("`")) {
      i = span(i, "`", "`");
    } else if (rest.starts_with("$$")) {
      i = span(i, "$$", "$$");
    } else if (rest.starts_with("$")) {
      i = span(i, "$", "$");
    } else if (rest.starts_with("\\(")) {
      i = span(i, "\\(", "\\)");
    } else if (rest.starts_with("\\[")) {
      i = span(i, "\\[", "\\]");
    } else if (rest.starts_with("\\")) {  // a LaTeX command such as \frac, or a lone backslash
      size_t end = i + 1;
      while (end < text.size() && absl::ascii_isalpha(static_cast<unsigned char>(text[end]))) ++end;
      blank(i, end);
      i = end;
    } else {
      ++i;
    }
  }
  return out;
}

bool IsSpecificScript(UScriptCode script) {
  return script != USCRIPT_COMMON && script != USCRIPT_INHERITED && script != USCRIPT_UNKNOWN;
}

// Scripts whose one-letter words are usually variables (x, π, ж) rather than words.
bool IsAlphabeticScript(UScriptCode script) {
  return script == USCRIPT_LATIN || script == USCRIPT_GREEK || script == USCRIPT_CYRILLIC;
}

const icu::BreakIterator* WordBreakPrototype() {
  // Created once; each call clones it, since a BreakIterator is not safe to share.
  static const icu::BreakIterator* prototype = [] {
    UErrorCode status = U_ZERO_ERROR;
    icu::BreakIterator* it = icu::BreakIterator::createWordInstance(icu::Locale::getRoot(), status);
    if (U_FAILURE(status)) {
      delete it;
      return static_cast<icu::BreakIterator*>(nullptr);
    }
    return it;
  }();
  return prototype;
}

// The script of every countable word of `text`, in order.
std::vector<UScriptCode> WordScripts(std::string_view text) {
  std::vector<UScriptCode> scripts;
  const icu::BreakIterator* prototype = WordBreakPrototype();
  if (prototype == nullptr) return scripts;  // no ICU data: nothing is countable
  const std::string stripped = StripNonProse(text);
  const icu::UnicodeString prose = icu::UnicodeString::fromUTF8(
      icu::StringPiece(stripped.data(), static_cast<int32_t>(stripped.size())));
  std::unique_ptr<icu::BreakIterator> words(prototype->clone());
  words->setText(prose);
  int32_t begin = words->first();
  for (int32_t end = words->next(); end != icu::BreakIterator::DONE;
       begin = end, end = words->next()) {
    // Letters, kana and ideographs only: not spaces, punctuation or numbers.
    if (words->getRuleStatus() < UBRK_WORD_LETTER) continue;
    UScriptCode word_script = USCRIPT_COMMON;
    int letters = 0;
    bool identifier = false;
    for (int32_t i = begin; i < end;) {
      const UChar32 c = prose.char32At(i);
      i = prose.moveIndex32(i, 1);
      if (c == '_' || u_isdigit(c)) identifier = true;
      UErrorCode status = U_ZERO_ERROR;
      const UScriptCode script = uscript_getScript(c, &status);
      if (U_FAILURE(status) || !IsSpecificScript(script)) continue;
      ++letters;
      if (word_script == USCRIPT_COMMON) word_script = script;
    }
    if (identifier || word_script == USCRIPT_COMMON) continue;
    if (letters == 1 && IsAlphabeticScript(word_script)) continue;
    scripts.push_back(word_script);
  }
  return scripts;
}

ScriptSet MakeSet(std::vector<UScriptCode> codes) {
  ScriptSet set;
  std::vector<std::string> names;
  for (UScriptCode code : codes) {
    if (std::find(set.scripts.begin(), set.scripts.end(), code) != set.scripts.end()) continue;
    set.scripts.push_back(code);
    names.emplace_back(uscript_getShortName(code));
  }
  set.name = absl::StrJoin(names, "+");
  return set;
}

// ICU names a language's writing with composite codes in places (Hans, Jpan, Kore); a single
// character always reports the plain scripts, so spell the composites out.
void AddPlainScripts(UScriptCode code, std::vector<UScriptCode>& out) {
  switch (code) {
    case USCRIPT_SIMPLIFIED_HAN:
    case USCRIPT_TRADITIONAL_HAN:
      out.push_back(USCRIPT_HAN);
      break;
    case USCRIPT_JAPANESE:
      out.insert(out.end(), {USCRIPT_HAN, USCRIPT_HIRAGANA, USCRIPT_KATAKANA});
      break;
    case USCRIPT_KOREAN:
      out.insert(out.end(), {USCRIPT_HANGUL, USCRIPT_HAN});
      break;
    default:
      out.push_back(code);
  }
}

absl::StatusOr<ScriptSet> DetectScripts(std::string_view prompt) {
  std::map<UScriptCode, int> counts;
  for (UScriptCode script : WordScripts(prompt)) ++counts[script];
  if (counts.empty()) {
    return absl::InvalidArgumentError(
        "no target_language and the prompt has no words to detect one from");
  }
  const UScriptCode dominant =
      std::max_element(counts.begin(), counts.end(), [](const auto& a, const auto& b) {
        return a.second < b.second;
      })->first;
  const bool kana = counts.contains(USCRIPT_HIRAGANA) || counts.contains(USCRIPT_KATAKANA);
  if (dominant == USCRIPT_HIRAGANA || dominant == USCRIPT_KATAKANA ||
      (dominant == USCRIPT_HAN && kana)) {
    return MakeSet({USCRIPT_HAN, USCRIPT_HIRAGANA, USCRIPT_KATAKANA});
  }
  if (dominant == USCRIPT_HANGUL) return MakeSet({USCRIPT_HANGUL, USCRIPT_HAN});
  return MakeSet({dominant});
}

}  // namespace

absl::StatusOr<ScriptSet> TargetScripts(std::string_view language_tag, std::string_view prompt) {
  const std::string tag(
      absl::StripAsciiWhitespace(absl::string_view(language_tag.data(), language_tag.size())));
  if (tag.empty() || absl::EqualsIgnoreCase(tag, "und")) return DetectScripts(prompt);
  char locale_id[ULOC_FULLNAME_CAPACITY];
  int32_t parsed = 0;
  UErrorCode status = U_ZERO_ERROR;
  uloc_forLanguageTag(tag.c_str(), locale_id, sizeof locale_id, &parsed, &status);
  UScriptCode codes[16];
  int32_t count = 0;
  if (U_SUCCESS(status) && parsed == static_cast<int32_t>(tag.size())) {
    count = uscript_getCode(locale_id, codes, 16, &status);
  }
  if (U_FAILURE(status) || count <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "target_language '", tag, "' is not a BCP 47 tag of a language ICU knows the script of"));
  }
  std::vector<UScriptCode> plain;
  for (int32_t i = 0; i < count; ++i) AddPlainScripts(codes[i], plain);
  return MakeSet(std::move(plain));
}

LanguageVerdict VerifyLanguageConsistency(std::string_view reasoning, const ScriptSet& target) {
  LanguageVerdict verdict;
  for (UScriptCode script : WordScripts(reasoning)) {
    ++verdict.words;
    if (std::find(target.scripts.begin(), target.scripts.end(), script) != target.scripts.end()) {
      ++verdict.target_words;
    }
  }
  if (verdict.words == 0) {
    verdict.reason = "no words in the reasoning";
    return verdict;
  }
  verdict.reward = static_cast<double>(verdict.target_words) / verdict.words;
  verdict.reason =
      absl::StrCat(verdict.target_words, " of ", verdict.words, " words in ", target.name);
  return verdict;
}

}  // namespace r1serve::verify
