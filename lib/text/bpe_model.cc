#include "lib/text/bpe_model.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <limits>
#include <queue>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/text/byte_level.h"

namespace r1serve::text {
namespace {

constexpr uint32_t kNoRank = std::numeric_limits<uint32_t>::max();
// Words up to this many bytes merge with a linear scan over small arrays (quadratic, but no
// heap and no allocation); longer ones (long digit or whitespace runs, base64) use a heap.
constexpr size_t kShortWordBytes = 48;

// Recently merged words of one model, for one thread. Words repeat a lot in real text, and a
// hash lookup is cheaper than even a short merge loop.
struct WordCache {
  static constexpr size_t kMaxWords = 1 << 14;  // about 1 MB per thread and model
  static constexpr size_t kMaxWordBytes = 64;
  uint64_t serial = 0;  // the model it belongs to; 0: free
  uint64_t last_used = 0;
  absl::flat_hash_map<std::string, std::pair<uint32_t, uint32_t>> words;  // -> [begin, end)
  std::vector<TokenId> ids;

  void Reset(uint64_t owner) {
    serial = owner;
    words.clear();
    ids.clear();
  }
};

// A few models per thread (e.g. a service holding two tokenizers), least recently used out.
WordCache& CacheFor(uint64_t serial) {
  thread_local std::array<WordCache, 4> caches;
  thread_local uint64_t clock = 0;
  WordCache* victim = &caches[0];
  for (WordCache& cache : caches) {
    if (cache.serial == serial) {
      cache.last_used = ++clock;
      return cache;
    }
    if (cache.last_used < victim->last_used) victim = &cache;
  }
  victim->Reset(serial);
  victim->last_used = ++clock;
  return *victim;
}

std::atomic<uint64_t> next_serial{1};

}  // namespace

absl::StatusOr<std::unique_ptr<BpeModel>> BpeModel::Create(
    std::vector<std::pair<std::string, TokenId>> vocab,
    std::vector<std::pair<std::string, std::string>> merges, bool ignore_merges) {
  auto model = std::unique_ptr<BpeModel>(new BpeModel());
  model->serial_ = next_serial.fetch_add(1);
  model->ignore_merges_ = ignore_merges;

  const int64_t id_end_limit = MaxIdEnd(vocab.size());
  TokenId max_id = -1;
  for (const auto& [token, id] : vocab) {
    if (id < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("model.vocab: token \"", token, "\" has the negative id ", id));
    }
    if (id >= id_end_limit) {
      return absl::InvalidArgumentError(absl::StrCat(
          "model.vocab: token \"", token, "\" has id ", id, ", too sparse for ", vocab.size(),
          " tokens (ids must be below 2 * tokens + 1024 = ", id_end_limit, ")"));
    }
    max_id = std::max(max_id, id);
  }
  std::vector<const std::string*> by_id(max_id + 1, nullptr);
  for (const auto& [token, id] : vocab) {
    if (by_id[id] != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("model.vocab: id ", id, " is used by both \"",
                                                     *by_id[id], "\" and \"", token, "\""));
    }
    by_id[id] = &token;
  }
  size_t pool_bytes = 0;
  for (const auto& [token, id] : vocab) pool_bytes += token.size();
  model->token_pool_.reserve(pool_bytes);
  model->token_offsets_.reserve(by_id.size() + 1);
  model->has_id_.resize(by_id.size());
  for (size_t id = 0; id < by_id.size(); ++id) {
    model->token_offsets_.push_back(model->token_pool_.size());
    if (by_id[id] == nullptr) continue;
    model->has_id_[id] = true;
    model->token_pool_ += *by_id[id];
  }
  model->token_offsets_.push_back(model->token_pool_.size());
  // The pool is complete: views into it stay valid from here on.
  model->token_to_id_.reserve(vocab.size());
  for (size_t id = 0; id < by_id.size(); ++id) {
    if (model->has_id_[id]) model->token_to_id_.emplace(*model->IdToToken(id), id);
  }

  for (int b = 0; b < 256; ++b) {
    std::string token;
    AppendByteLevel(std::string(1, static_cast<char>(b)), &token);
    std::optional<TokenId> id = model->TokenToId(token);
    if (!id) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "model.vocab lacks the byte-level token \"%s\" for byte 0x%02X: not a byte-level BPE",
          token, b));
    }
    model->byte_ids_[b] = *id;
  }

  model->merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    std::optional<TokenId> left_id = model->TokenToId(left);
    std::optional<TokenId> right_id = model->TokenToId(right);
    std::optional<TokenId> merged_id = model->TokenToId(left + right);
    if (!left_id || !right_id || !merged_id) {
      return absl::InvalidArgumentError(absl::StrCat("model.merges[", rank, "] (\"", left, "\", \"",
                                                     right,
                                                     "\") names a token missing from model.vocab"));
    }
    // A repeated pair keeps its last rank, as HF's map built from the list does.
    model->merges_.insert_or_assign(PairKey(*left_id, *right_id),
                                    Merge{static_cast<uint32_t>(rank), *merged_id});
  }

  if (ignore_merges) {
    std::vector<std::pair<uint32_t, uint32_t>> spans(by_id.size(), {0, 0});  // in raw_pool_
    std::vector<bool> has_raw(by_id.size(), false);
    for (size_t id = 0; id < by_id.size(); ++id) {
      if (!model->has_id_[id]) continue;
      const size_t begin = model->raw_pool_.size();
      if (ByteLevelToBytes(*model->IdToToken(id), &model->raw_pool_)) {
        spans[id] = {begin, model->raw_pool_.size()};
        has_raw[id] = true;
      } else {
        model->raw_pool_.resize(begin);  // not a byte-level spelling: pre-tokens never equal it
      }
    }
    model->raw_to_id_.reserve(vocab.size());
    for (size_t id = 0; id < by_id.size(); ++id) {
      if (!has_raw[id]) continue;
      model->raw_to_id_.emplace(std::string_view(model->raw_pool_)
                                    .substr(spans[id].first, spans[id].second - spans[id].first),
                                id);
    }
  }
  return model;
}

int64_t BpeModel::MaxIdEnd(size_t token_count) {
  // Also keeps IdEnd() = max id + 1 representable as a TokenId.
  constexpr int64_t kMaxTokenId = std::numeric_limits<TokenId>::max();
  return std::min<int64_t>(
      2 * static_cast<int64_t>(std::min<size_t>(token_count, kMaxTokenId)) + 1024, kMaxTokenId);
}

std::optional<std::string_view> BpeModel::IdToToken(TokenId id) const {
  if (id < 0 || id >= IdEnd() || !has_id_[id]) return std::nullopt;
  return std::string_view(token_pool_)
      .substr(token_offsets_[id], token_offsets_[id + 1] - token_offsets_[id]);
}

std::optional<TokenId> BpeModel::TokenToId(std::string_view token) const {
  auto it = token_to_id_.find(token);
  if (it == token_to_id_.end()) return std::nullopt;
  return it->second;
}

void BpeModel::Tokenize(std::string_view word, std::vector<TokenId>* ids) const {
  if (word.size() <= 1) {
    if (word.size() == 1) ids->push_back(byte_ids_[static_cast<uint8_t>(word[0])]);
    return;
  }
  if (word.size() > WordCache::kMaxWordBytes) {
    MergeWord(word, ids);
    return;
  }
  WordCache& cache = CacheFor(serial_);
  if (auto it = cache.words.find(absl::string_view(word.data(), word.size()));
      it != cache.words.end()) {
    ids->insert(ids->end(), cache.ids.begin() + it->second.first,
                cache.ids.begin() + it->second.second);
    return;
  }
  const size_t first = ids->size();
  MergeWord(word, ids);
  if (cache.words.size() >= WordCache::kMaxWords) cache.Reset(serial_);
  const uint32_t begin = cache.ids.size();
  cache.ids.insert(cache.ids.end(), ids->begin() + first, ids->end());
  cache.words.emplace(std::string(word),
                      std::make_pair(begin, static_cast<uint32_t>(cache.ids.size())));
}

void BpeModel::MergeWord(std::string_view word, std::vector<TokenId>* ids) const {
  if (ignore_merges_) {
    if (auto it = raw_to_id_.find(word); it != raw_to_id_.end()) {
      ids->push_back(it->second);
      return;
    }
  }
  if (word.size() <= kShortWordBytes) {
    MergeShortWord(word, ids);
  } else {
    MergeLongWord(word, ids);
  }
}

void BpeModel::MergeShortWord(std::string_view word, std::vector<TokenId>* ids) const {
  // symbols[0, n); rank[i] / merged[i] describe the pair (symbols[i], symbols[i + 1]).
  TokenId symbols[kShortWordBytes];
  uint32_t rank[kShortWordBytes];
  TokenId merged[kShortWordBytes];
  size_t n = word.size();
  for (size_t i = 0; i < n; ++i) symbols[i] = byte_ids_[static_cast<uint8_t>(word[i])];
  auto rate = [&](size_t i) {
    const Merge* m = FindMerge(symbols[i], symbols[i + 1]);
    rank[i] = m ? m->rank : kNoRank;
    merged[i] = m ? m->merged : 0;
  };
  for (size_t i = 0; i + 1 < n; ++i) rate(i);
  while (n > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < n; ++i) {
      if (rank[i] < rank[best]) best = i;  // strict: the leftmost of equal ranks wins
    }
    if (rank[best] == kNoRank) break;
    symbols[best] = merged[best];
    for (size_t j = best + 1; j + 1 < n; ++j) symbols[j] = symbols[j + 1];
    for (size_t j = best + 1; j + 2 < n; ++j) {
      rank[j] = rank[j + 1];
      merged[j] = merged[j + 1];
    }
    --n;
    if (best + 1 < n) rate(best);
    if (best > 0) rate(best - 1);
  }
  ids->insert(ids->end(), symbols, symbols + n);
}

void BpeModel::MergeLongWord(std::string_view word, std::vector<TokenId>* ids) const {
  struct Symbol {
    TokenId id;
    int32_t prev;  // -1: none
    int32_t next;  // -1: none
    bool alive;
  };
  struct Candidate {
    uint32_t rank;
    int32_t pos;  // of the pair's left symbol, in original order
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  const int32_t n = static_cast<int32_t>(word.size());
  std::vector<Symbol> symbols(n);
  for (int32_t i = 0; i < n; ++i) {
    symbols[i] = {byte_ids_[static_cast<uint8_t>(word[i])], i - 1, i + 1 < n ? i + 1 : -1, true};
  }
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  auto offer = [&](int32_t pos) {
    const int32_t next = symbols[pos].next;
    if (next < 0) return;
    if (const Merge* m = FindMerge(symbols[pos].id, symbols[next].id)) queue.push({m->rank, pos});
  };
  for (int32_t i = 0; i + 1 < n; ++i) offer(i);
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.pos];
    if (!left.alive || left.next < 0) continue;
    // Entries go stale when a neighbour merged since; the pair's current rank tells.
    const Merge* m = FindMerge(left.id, symbols[left.next].id);
    if (m == nullptr || m->rank != top.rank) continue;
    Symbol& right = symbols[left.next];
    left.id = m->merged;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.pos;
    if (left.prev >= 0) offer(left.prev);
    offer(top.pos);
  }
  for (int32_t i = 0; i >= 0; i = symbols[i].next) ids->push_back(symbols[i].id);
}

}  // namespace r1serve::text
