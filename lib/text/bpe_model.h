// The BPE model of a byte-level tokenizer.json: vocabulary, merge ranks and the merge loop that
// turns one pre-token into ids, as HF tokenizers' BPE does it (the lowest-ranked adjacent pair
// merges first, the leftmost one among equal ranks, until no pair has a rank).
//
// It works on raw bytes: the byte-level spelling of a pre-token (what the ByteLevel
// pre-tokenizer would hand HF's model) is implied, so no per-token string is built.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<BpeModel> model,
//                    BpeModel::Create(std::move(vocab), std::move(merges),
//                    /*ignore_merges=*/false));
//   std::vector<TokenId> ids;
//   model->Tokenize(" hello", &ids);   // the ids of "Ġhello"
//
// Thread safety: immutable after Create. Tokenize keeps a per-thread cache of recent words.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "lib/text/tokenizer.h"

namespace r1serve::text {

class BpeModel {
 public:
  // `vocab`: byte-level token -> id, ids unique. `merges` in rank order (rank = index), each a
  // pair of vocabulary tokens whose concatenation is in the vocabulary too. With
  // `ignore_merges`, a pre-token that is itself a vocabulary token is emitted as is (Llama 3).
  // Ids index tables as large as the id space, so they must be nearly dense: every id must be
  // below MaxIdEnd(vocab.size()) (2 * tokens + 1024: real vocabularies have no holes, so this
  // only turns away files that would cost gigabytes, or overflow, to load).
  // Errors (InvalidArgument, naming the token and id): negative ids, ids at or above that
  // bound, duplicate ids; also a merge naming an unknown token, a vocabulary lacking one of
  // the 256 single-byte tokens.
  static absl::StatusOr<std::unique_ptr<BpeModel>> Create(
      std::vector<std::pair<std::string, TokenId>> vocab,
      std::vector<std::pair<std::string, std::string>> merges, bool ignore_merges);

  // Appends the ids of one pre-token, given as raw bytes (not its byte-level spelling).
  void Tokenize(std::string_view word, std::vector<TokenId>* ids) const;

  // The bound on the ids of a vocabulary of `token_count` tokens (see Create).
  static int64_t MaxIdEnd(size_t token_count);

  // One past the largest vocabulary id.
  int32_t IdEnd() const { return static_cast<int32_t>(token_offsets_.size()) - 1; }
  // How many tokens the vocabulary has (IdEnd() unless ids have holes).
  int32_t TokenCount() const { return static_cast<int32_t>(token_to_id_.size()); }
  // The byte-level spelling of `id`, if the vocabulary has it.
  std::optional<std::string_view> IdToToken(TokenId id) const;
  std::optional<TokenId> TokenToId(std::string_view token) const;

 private:
  struct Merge {
    uint32_t rank;
    TokenId merged;
  };
  static uint64_t PairKey(TokenId left, TokenId right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  const Merge* FindMerge(TokenId left, TokenId right) const {
    auto it = merges_.find(PairKey(left, right));
    return it == merges_.end() ? nullptr : &it->second;
  }

  BpeModel() = default;
  // The merge loop proper (with the ignore_merges shortcut), without the cache.
  void MergeWord(std::string_view word, std::vector<TokenId>* ids) const;
  void MergeShortWord(std::string_view word, std::vector<TokenId>* ids) const;
  void MergeLongWord(std::string_view word, std::vector<TokenId>* ids) const;

  uint64_t serial_ = 0;                  // tells this model's per-thread caches from others'
  std::string token_pool_;               // byte-level spellings, concatenated, in id order
  std::vector<uint32_t> token_offsets_;  // [IdEnd() + 1]; id i is pool[off[i], off[i+1])
  std::vector<bool> has_id_;             // [IdEnd()]: false for holes in the id space
  absl::flat_hash_map<std::string_view, TokenId> token_to_id_;  // views into token_pool_
  std::string raw_pool_;  // raw bytes of every token (for ignore_merges)
  absl::flat_hash_map<std::string_view, TokenId> raw_to_id_;  // only with ignore_merges
  absl::flat_hash_map<uint64_t, Merge> merges_;
  TokenId byte_ids_[256];
  bool ignore_merges_ = false;
};

}  // namespace r1serve::text
