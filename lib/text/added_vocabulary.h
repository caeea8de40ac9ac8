// tokenizer.json's "added_tokens" and how HF tokenizers finds them in text before anything else
// runs: tokens with normalized=false are looked for in the raw text; tokens with normalized=true
// in the normalizer's output for the text between those (spelled as the normalizer would spell
// them). Each search takes, left to right, the leftmost match and the longest one starting
// there (HF's Aho-Corasick LeftmostLongest), special or not, then applies the token's flags:
// single_word (no word character may touch it), lstrip / rstrip (it swallows neighbouring
// whitespace).
//
//   AddedVocabulary added(std::move(entries), normalize_fn);
//   std::vector<AddedVocabulary::Match> found;
//   added.Find(text, /*normalized=*/false, &found);   // [{begin, end, id}, ...] in order
//
// Thread safety: immutable after construction.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/text/tokenizer.h"

namespace r1serve::text {

class AddedVocabulary {
 public:
  struct Entry {
    TokenId id;
    std::string content;
    bool special = false;
    bool single_word = false;
    bool lstrip = false;
    bool rstrip = false;
    bool normalized = false;
  };
  struct Match {
    size_t begin;  // byte offsets into the searched text, lstrip/rstrip included
    size_t end;
    TokenId id;
  };

  AddedVocabulary() = default;
  // `normalize` spells a normalized=true token's content as the normalizer would.
  AddedVocabulary(std::vector<Entry> entries,
                  const std::function<std::string(std::string_view)>& normalize);

  // Appends to `matches` the tokens of the given kind (normalized or not) in `text`.
  void Find(std::string_view text, bool normalized, std::vector<Match>* matches) const;
  bool HasNormalizedTokens() const { return !tries_[1].nodes.empty(); }

  const std::vector<Entry>& entries() const { return entries_; }

 private:
  // A byte trie over one kind of token. Node 0 is the root.
  struct Trie {
    struct Node {
      int32_t entry = -1;  // index into entries_ of the token ending here
      std::vector<std::pair<uint8_t, int32_t>> children;
    };
    std::vector<Node> nodes;
    bool first_byte[256] = {};
    int distinct_first_bytes = 0;  // 1: scan with memchr for `only_first_byte`
    char only_first_byte = 0;
  };
  static void Insert(Trie* trie, std::string_view key, int32_t entry);
  // The longest token starting at text[at], as an index into entries_ with its length.
  bool LongestAt(const Trie& trie, std::string_view text, size_t at, int32_t* entry,
                 size_t* length) const;

  std::vector<Entry> entries_;
  Trie tries_[2];  // [0]: normalized=false tokens, [1]: normalized=true ones
};

}  // namespace r1serve::text
