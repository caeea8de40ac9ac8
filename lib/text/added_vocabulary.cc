#include "lib/text/added_vocabulary.h"

#include <algorithm>
#include <cstring>

#include "lib/text/unicode_categories.h"
#include "lib/text/utf8.h"

namespace r1serve::text {
namespace {

// HF checks single_word with the regex crate's Unicode \w: Alphabetic, marks, decimal digits,
// connector punctuation and joiners. Alphabetic is approximated by letters and letter numbers
// (it also holds a few marks, covered, and ~130 circled-letter symbols, which are not).
bool IsWordChar(char32_t c) {
  if (c == 0x200C || c == 0x200D) return true;
  switch (GetGeneralCategory(c)) {
    case GeneralCategory::kLu:
    case GeneralCategory::kLl:
    case GeneralCategory::kLt:
    case GeneralCategory::kLm:
    case GeneralCategory::kLo:
    case GeneralCategory::kNl:
    case GeneralCategory::kMn:
    case GeneralCategory::kMc:
    case GeneralCategory::kMe:
    case GeneralCategory::kNd:
    case GeneralCategory::kPc:
      return true;
    default:
      return false;
  }
}

// The character ending just before `end` (text valid UTF-8, end > 0).
char32_t CharBefore(std::string_view text, size_t end) {
  size_t start = end - 1;
  while (start > 0 && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) --start;
  size_t length;
  return DecodeUtf8(text.substr(start, end - start), &length);
}

}  // namespace

AddedVocabulary::AddedVocabulary(std::vector<Entry> entries,
                                 const std::function<std::string(std::string_view)>& normalize)
    : entries_(std::move(entries)) {
  for (size_t i = 0; i < entries_.size(); ++i) {
    const Entry& e = entries_[i];
    if (e.content.empty()) continue;  // an empty pattern would match everywhere; HF skips it
    if (e.normalized) {
      const std::string spelled = normalize(e.content);
      if (!spelled.empty()) Insert(&tries_[1], spelled, static_cast<int32_t>(i));
    } else {
      Insert(&tries_[0], e.content, static_cast<int32_t>(i));
    }
  }
}

void AddedVocabulary::Insert(Trie* trie, std::string_view key, int32_t entry) {
  if (trie->nodes.empty()) trie->nodes.emplace_back();
  if (!trie->first_byte[static_cast<uint8_t>(key[0])]) {
    trie->first_byte[static_cast<uint8_t>(key[0])] = true;
    ++trie->distinct_first_bytes;
    trie->only_first_byte = key[0];
  }
  int32_t node = 0;
  for (unsigned char b : key) {
    auto& children = trie->nodes[node].children;
    auto it = std::find_if(children.begin(), children.end(),
                           [b](const auto& child) { return child.first == b; });
    if (it != children.end()) {
      node = it->second;
      continue;
    }
    const int32_t child = static_cast<int32_t>(trie->nodes.size());
    trie->nodes[node].children.emplace_back(b, child);
    trie->nodes.emplace_back();  // may move nodes: `children` is not used after this
    node = child;
  }
  // Two tokens with one spelling: the first listed wins, like the first Aho-Corasick pattern.
  if (trie->nodes[node].entry < 0) trie->nodes[node].entry = entry;
}

bool AddedVocabulary::LongestAt(const Trie& trie, std::string_view text, size_t at, int32_t* entry,
                                size_t* length) const {
  int32_t node = 0;
  bool found = false;
  for (size_t i = at; i < text.size(); ++i) {
    const uint8_t b = static_cast<uint8_t>(text[i]);
    const auto& children = trie.nodes[node].children;
    auto it = std::find_if(children.begin(), children.end(),
                           [b](const auto& child) { return child.first == b; });
    if (it == children.end()) break;
    node = it->second;
    if (trie.nodes[node].entry >= 0) {
      *entry = trie.nodes[node].entry;
      *length = i + 1 - at;
      found = true;
    }
  }
  return found;
}

void AddedVocabulary::Find(std::string_view text, bool normalized,
                           std::vector<Match>* matches) const {
  const Trie& trie = tries_[normalized ? 1 : 0];
  if (trie.nodes.empty()) return;
  size_t previous_end = 0;  // end of the last accepted match: lstrip stops there
  size_t at = 0;
  while (at < text.size()) {
    if (trie.distinct_first_bytes == 1) {  // e.g. every token starts with '<'
      const void* next = memchr(text.data() + at, trie.only_first_byte, text.size() - at);
      if (next == nullptr) break;
      at = static_cast<const char*>(next) - text.data();
    } else if (!trie.first_byte[static_cast<uint8_t>(text[at])]) {
      ++at;
      continue;
    }
    int32_t index;
    size_t length;
    if (!LongestAt(trie, text, at, &index, &length)) {
      ++at;
      continue;
    }
    const Entry& e = entries_[index];
    size_t begin = at;
    size_t end = at + length;
    // Aho-Corasick's iterator moves past a match whether or not the flags then reject it.
    at = end;
    if (e.single_word) {
      const bool word_before = begin > 0 && IsWordChar(CharBefore(text, begin));
      size_t n;
      const bool word_after = end < text.size() && IsWordChar(DecodeUtf8(text.substr(end), &n));
      if (word_before || word_after) continue;
    }
    if (e.lstrip) {
      while (begin > previous_end && IsWhiteSpace(CharBefore(text, begin))) {
        --begin;  // back over one whole character
        while (begin > 0 && (static_cast<uint8_t>(text[begin]) & 0xC0) == 0x80) --begin;
      }
    }
    if (e.rstrip) {
      while (end < text.size()) {
        size_t n;
        if (!IsWhiteSpace(DecodeUtf8(text.substr(end), &n))) break;
        end += n;
      }
      at = std::max(at, end);
    }
    matches->push_back({begin, end, e.id});
    previous_end = end;
  }
}

}  // namespace r1serve::text
