#include "lib/engine/kv/prefix_cache.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/engine/kv/block_hash.h"

namespace r1serve::engine {

PrefixCache::PrefixCache(KvBlockAllocator* allocator)
    : allocator_(allocator),
      block_size_(allocator->block_size()),
      serial_(allocator->num_blocks(), 0),
      hash_(allocator->num_blocks(), 0),
      parent_serial_(allocator->num_blocks(), 0),
      last_used_(allocator->num_blocks(), 0),
      tokens_(static_cast<size_t>(allocator->num_blocks()) * allocator->block_size(), 0) {
  allocator_->SetEvictionCallback([this](KvBlockId block) { OnEvicted(block); });
}

PrefixCache::~PrefixCache() { allocator_->SetEvictionCallback(nullptr); }

absl::Span<const int32_t> PrefixCache::TokensOf(KvBlockId block) const {
  return absl::MakeConstSpan(tokens_).subspan(static_cast<size_t>(block) * block_size_,
                                              block_size_);
}

bool PrefixCache::EntryMatches(KvBlockId block, const Cursor& parent,
                               absl::Span<const int32_t> block_tokens) const {
  return serial_[block] != 0 && parent_serial_[block] == parent.serial &&
         TokensOf(block) == block_tokens;
}

PrefixCache::Match PrefixCache::Lookup(absl::Span<const int32_t> tokens, int max_blocks) const {
  Match match;
  match.query_tokens = static_cast<int64_t>(tokens.size());
  const int limit =
      std::min<int64_t>(max_blocks, static_cast<int64_t>(tokens.size()) / block_size_);
  for (int i = 0; i < limit; ++i) {
    absl::Span<const int32_t> block_tokens = tokens.subspan(i * block_size_, block_size_);
    const uint64_t hash = ChainBlockHash(
        match.end.is_root() ? std::nullopt : std::optional<uint64_t>(match.end.hash), block_tokens);
    auto it = block_by_hash_.find(hash);
    // The hash only finds a candidate; the ids and the parent entry prove it holds this prefix.
    if (it == block_by_hash_.end() || !EntryMatches(it->second, match.end, block_tokens)) break;
    match.blocks.push_back(it->second);
    if (allocator_->ref_count(it->second) == 0) ++match.num_evictable;
    match.end = CursorOf(it->second);
  }
  return match;
}

absl::Status PrefixCache::Acquire(const Match& match, BlockTable* table) {
  for (KvBlockId block : match.blocks) {
    if (serial_[block] == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("KV block ", block, " left the prefix cache after the lookup"));
    }
  }
  if (absl::Status s = table->AppendCachedBlocks(match.blocks); !s.ok()) return s;
  ++tick_;
  for (KvBlockId block : match.blocks) last_used_[block] = tick_;
  ++stats_.queries;
  stats_.query_tokens += match.query_tokens;
  stats_.hit_tokens += static_cast<uint64_t>(match.blocks.size()) * block_size_;
  if (!match.blocks.empty()) ++stats_.hit_queries;
  return absl::OkStatus();
}

std::optional<PrefixCache::Cursor> PrefixCache::Insert(const Cursor& parent,
                                                       absl::Span<const int32_t> block_tokens,
                                                       KvBlockId block) {
  if (!allocator_->is_valid(block) || allocator_->ref_count(block) <= 0 ||
      static_cast<int>(block_tokens.size()) != block_size_) {
    return std::nullopt;
  }
  if (!parent.is_root() &&
      (!allocator_->is_valid(parent.block) || serial_[parent.block] != parent.serial)) {
    return std::nullopt;  // the parent was evicted: its children could never be found again
  }
  const uint64_t hash = ChainBlockHash(
      parent.is_root() ? std::nullopt : std::optional<uint64_t>(parent.hash), block_tokens);
  if (serial_[block] != 0) {  // already cached: a shared block seen by a second holder
    if (hash_[block] == hash && EntryMatches(block, parent, block_tokens)) return CursorOf(block);
    return std::nullopt;
  }
  if (auto it = block_by_hash_.find(hash); it != block_by_hash_.end()) {
    if (EntryMatches(it->second, parent, block_tokens)) return CursorOf(it->second);
    return std::nullopt;  // a 64-bit collision with a different prefix: leave this one uncached
  }
  if (!allocator_->MarkCached(block).ok()) return std::nullopt;
  serial_[block] = next_serial_++;
  hash_[block] = hash;
  parent_serial_[block] = parent.serial;
  std::copy(block_tokens.begin(), block_tokens.end(),
            tokens_.begin() + static_cast<size_t>(block) * block_size_);
  last_used_[block] = ++tick_;
  block_by_hash_[hash] = block;
  ++stats_.inserted_blocks;
  return CursorOf(block);
}

void PrefixCache::OnEvicted(KvBlockId block) {
  if (serial_[block] == 0) return;
  block_by_hash_.erase(hash_[block]);
  serial_[block] = 0;
  ++stats_.evicted_blocks;
}

std::vector<uint64_t> PrefixCache::BlockHashes(size_t max_hashes) const {
  std::vector<std::pair<uint64_t, KvBlockId>> in_use;  // (last used tick, block)
  for (KvBlockId b = 0; b < allocator_->num_blocks(); ++b) {
    if (serial_[b] != 0 && allocator_->ref_count(b) > 0) in_use.emplace_back(last_used_[b], b);
  }
  std::sort(in_use.begin(), in_use.end(), std::greater<>());
  std::vector<uint64_t> hashes;
  for (const auto& [tick, block] : in_use) {
    if (hashes.size() >= max_hashes) return hashes;
    hashes.push_back(hash_[block]);
  }
  const std::vector<KvBlockId> evictable = allocator_->EvictableBlocks();
  for (auto it = evictable.rbegin(); it != evictable.rend(); ++it) {
    if (hashes.size() >= max_hashes) break;
    hashes.push_back(hash_[*it]);
  }
  return hashes;
}

PrefixCache::Stats PrefixCache::stats() const {
  Stats s = stats_;
  s.cached_blocks = num_cached_blocks();
  return s;
}

}  // namespace r1serve::engine
