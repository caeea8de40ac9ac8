#include "lib/verify/math/answer_extraction.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "lib/verify/math/ascii_text.h"

namespace r1serve::verify {
namespace {

using ascii::IsAlpha;
using ascii::IsDigit;
using ascii::IsSpace;
using ascii::Trim;



// Removes markdown emphasis, math delimiters and sentence punctuation around an answer.
std::string_view StripDecoration(std::string_view s) {
  bool changed = true;
  while (changed) {
    changed = false;
    s = Trim(s);
    for (std::string_view wrap : {"**", "__", "$$", "$", "\\(", "\\)", "\\[", "\\]"}) {
      if (s.size() >= wrap.size() && s.substr(0, wrap.size()) == wrap) {
        s.remove_prefix(wrap.size());
        changed = true;
      }
      if (s.size() >= wrap.size() && s.substr(s.size() - wrap.size()) == wrap) {
        s.remove_suffix(wrap.size());
        changed = true;
      }
    }
    while (!s.empty() &&
           (s.back() == '.' || s.back() == ',' || s.back() == ';' || s.back() == ':')) {
      s.remove_suffix(1);
      changed = true;
    }
  }
  return s;
}

// Boxes: the contents of every \boxed / \fbox / \framebox in `text`, in order.
std::vector<std::string> FindBoxes(std::string_view text, size_t max_answer_bytes) {
  static constexpr std::array<std::string_view, 3> kBoxes = {"\\boxed", "\\fbox", "\\framebox"};
  std::vector<std::string> boxes;
  size_t pos = 0;
  while ((pos = text.find('\\', pos)) != std::string_view::npos) {
    size_t after = std::string_view::npos;
    for (std::string_view box : kBoxes) {
      if (text.substr(pos, box.size()) == box &&
          (pos + box.size() >= text.size() || !IsAlpha(text[pos + box.size()]))) {
        after = pos + box.size();
        break;
      }
    }
    if (after == std::string_view::npos) {
      ++pos;
      continue;
    }
    size_t i = after;
    while (i < text.size() && IsSpace(text[i])) ++i;
    if (i < text.size() && text[i] == '{') {
      std::string_view contents;
      size_t end;
      if (ReadBraceGroup(text, i, max_answer_bytes, &contents, &end)) {
        boxes.emplace_back(Trim(contents));
        pos = end;
        continue;
      }
    } else if (i > after) {  // "\boxed 5": one token
      size_t end = i;
      while (end < text.size() && !IsSpace(text[end]) && text[end] != '$' &&
             end - i < max_answer_bytes) {
        ++end;
      }
      if (end > i) boxes.emplace_back(text.substr(i, end - i));
      pos = end;
      continue;
    }
    pos = after;
  }
  return boxes;
}

// The answer that follows a phrase at `start`: a math span if one opens there, else the rest of
// the sentence.
std::string_view AnswerAfter(std::string_view text, size_t start, size_t max_answer_bytes) {
  size_t i = start;
  for (;;) {  // skip connecting punctuation and emphasis
    while (i < text.size() && (IsSpace(text[i]) || text[i] == ':' || text[i] == '*' ||
                               text[i] == '=' || text[i] == '_')) {
      ++i;
    }
    if (text.substr(i, 3) == "is ") {
      i += 3;
      continue;
    }
    break;
  }
  std::string_view rest = text.substr(i, max_answer_bytes);
  for (auto [open, close] : std::array<std::pair<std::string_view, std::string_view>, 4>{
           {{"$$", "$$"}, {"$", "$"}, {"\\(", "\\)"}, {"\\[", "\\]"}}}) {
    if (rest.substr(0, open.size()) == open) {
      size_t end = rest.find(close, open.size());
      if (end != std::string_view::npos) return Trim(rest.substr(open.size(), end - open.size()));
    }
  }
  size_t end = rest.find('\n');
  if (end != std::string_view::npos) rest = rest.substr(0, end);
  // End of sentence: a period followed by a space (a decimal point is followed by a digit).
  for (size_t k = 0; k + 1 < rest.size(); ++k) {
    if (rest[k] == '.' && IsSpace(rest[k + 1])) {
      rest = rest.substr(0, k);
      break;
    }
  }
  return StripDecoration(rest);
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view FindAnswerPhrase(std::string_view text, size_t max_answer_bytes) {
  std::string lower = AsciiLower(text);
  size_t best = std::string_view::npos;
  size_t best_end = 0;
  for (std::string_view phrase : {"answer is", "answer:", "answer =", "final answer"}) {
    size_t at = std::string_view(lower).rfind(phrase);
    if (at != std::string_view::npos && (best == std::string_view::npos || at > best)) {
      best = at;
      best_end = at + phrase.size();
    }
  }
  if (best == std::string_view::npos) return {};
  return AnswerAfter(text, best_end, max_answer_bytes);
}

std::string_view FindHashes(std::string_view text, size_t max_answer_bytes) {
  size_t at = text.rfind("####");
  if (at == std::string_view::npos) return {};
  std::string_view rest = text.substr(at + 4, max_answer_bytes);
  size_t end = rest.find('\n');
  return StripDecoration(rest.substr(0, end));
}

std::string_view FindBold(std::string_view text) {
  size_t close = text.rfind("**");
  while (close != std::string_view::npos && close >= 2) {
    size_t open = text.rfind("**", close - 1);
    if (open == std::string_view::npos) return {};
    std::string_view inner = text.substr(open + 2, close - open - 2);
    if (inner.size() <= 64 && std::any_of(inner.begin(), inner.end(), IsDigit)) {
      std::string_view answer = StripDecoration(inner);
      if (!answer.empty()) return answer;
    }
    if (open < 2) return {};
    close = text.rfind("**", open - 1);
  }
  return {};
}

// A short answer with no prose: no run of three letters outside a LaTeX command.
std::string_view BareAnswer(std::string_view text) {
  std::string_view s = StripDecoration(text);
  if (s.empty() || s.size() > 64) return {};
  int run = 0;
  bool in_command = false;
  for (char c : s) {
    if (c == '\\') {
      in_command = true;
      run = 0;
    } else if (IsAlpha(c)) {
      if (!in_command && ++run >= 3) return {};
    } else {
      in_command = false;
      run = 0;
    }
  }
  return s;
}

std::string_view LastNumber(std::string_view text) {
  size_t end = text.size();
  while (end > 0 && !IsDigit(text[end - 1])) --end;
  if (end == 0) return {};
  size_t begin = end;
  auto digit_at = [&](size_t k) { return k < text.size() && IsDigit(text[k]); };
  while (begin > 0) {
    char c = text[begin - 1];
    if (IsDigit(c)) {
      --begin;
    } else if ((c == '.' || c == ',' || c == '/') && begin >= 2 && IsDigit(text[begin - 2]) &&
               digit_at(begin)) {
      --begin;
    } else if (c == '.' && digit_at(begin)) {
      --begin;
    } else {
      break;
    }
  }
  if (begin > 0 && text[begin - 1] == '-' && (begin == 1 || !IsAlpha(text[begin - 2]))) --begin;
  return text.substr(begin, end - begin);
}

}  // namespace

bool ReadBraceGroup(std::string_view text, size_t open, size_t max_bytes,
                    std::string_view* contents, size_t* end) {
  int depth = 0;
  size_t limit = std::min(text.size(), open + max_bytes + 2);
  for (size_t i = open; i < limit; ++i) {
    char c = text[i];
    if (c == '\\') {
      ++i;  // an escaped character, e.g. \{ or \}
    } else if (c == '{') {
      ++depth;
    } else if (c == '}' && --depth == 0) {
      *contents = text.substr(open + 1, i - open - 1);
      *end = i + 1;
      return true;
    }
  }
  return false;
}

std::string_view AnswerSection(std::string_view response) {
  size_t at = response.rfind("</think>");
  return at == std::string_view::npos ? response : response.substr(at + 8);
}

ExtractedAnswer ExtractFinalAnswer(std::string_view response, const ExtractionLimits& limits) {
  std::string_view text = AnswerSection(response);
  if (text.size() > limits.max_tail_bytes) text = text.substr(text.size() - limits.max_tail_bytes);
  ExtractedAnswer found;
  found.candidates = FindBoxes(text, limits.max_answer_bytes);
  std::erase_if(found.candidates, [](const std::string& s) { return s.empty(); });
  if (!found.candidates.empty()) {
    found.method = "boxed";
    return found;
  }
  auto take = [&](std::string_view answer, const char* method) {
    if (answer.empty() || answer.size() > limits.max_answer_bytes) return false;
    found.method = method;
    found.candidates.emplace_back(answer);
    return true;
  };
  if (take(FindAnswerPhrase(text, limits.max_answer_bytes), "answer phrase")) return found;
  if (take(FindHashes(text, limits.max_answer_bytes), "####")) return found;
  if (take(FindBold(text), "bold")) return found;
  if (take(BareAnswer(text), "bare answer")) return found;
  take(LastNumber(text), "last number");
  return found;
}

}  // namespace r1serve::verify
