// PrefixCache: reuse of computed KV across sequences that start with the same tokens (a shared
// system prompt, the G samples of an RL rollout prompt re-sent, a conversation's next turn).
// Only full blocks are cached. A cached block is identified by its whole prefix: the chained
// FNV-1a-64 hash of block_hash.h, checked on every hit against the block's own token ids and the
// identity of its parent entry, so a hash collision can never hand out wrong KV.
//
//   KvBlockAllocator allocator(1024, 16);
//   PrefixCache cache(&allocator);
//   // Admitting a prompt: reuse the longest cached chain, but compute at least its last token.
//   PrefixCache::Match match = cache.Lookup(prompt, (prompt.size() - 1) / 16);
//   BlockTable table(&allocator);
//   RETURN_IF_ERROR(cache.Acquire(match, &table));  // table now starts with match.blocks
//   // ... once the forward pass has written block i (full): register it after its parent.
//   std::optional<PrefixCache::Cursor> next = cache.Insert(cursor, block_i_tokens,
//   table.blocks()[i]);
//
// Lifetime of a cached block: Insert marks it cached in the allocator; while sequences hold it
// it is used; when the last one releases it, it stays evictable (its KV intact) until Allocate()
// needs the space and evicts the least recently released one, which drops it from this cache.
// A hit on an evictable block revives it. Entries whose parent was evicted become unreachable
// and are evicted in turn (BlockTable::Release frees deepest first, so this is rare).
//
// Not thread-safe (owned by the scheduler, driven by one thread). The allocator must outlive the
// cache, and the cache installs itself as the allocator's eviction callback.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/types/span.h"
#include "lib/engine/kv/block_allocator.h"
#include "lib/engine/kv/block_table.h"

namespace r1serve::engine {

class PrefixCache {
 public:
  // The end of a chain of cached blocks: the prefix it covers is identified by `block` holding
  // cache entry `serial`. The default cursor is the empty prefix (the root of every chain).
  struct Cursor {
    KvBlockId block = -1;  // -1 at the root
    uint64_t serial = 0;   // the entry's identity; never reused, so a stale cursor is detectable
    uint64_t hash = 0;     // routing hash of the prefix (block_hash.h); 0 at the root

    bool is_root() const { return block < 0; }
  };

  // The longest cached chain found for a token sequence.
  struct Match {
    std::vector<KvBlockId> blocks;  // hold tokens [0, blocks.size() * block_size)
    Cursor end;                     // after the last block (the root when blocks is empty)
    int num_evictable = 0;          // of `blocks`, those with no holder: acquiring them uses up
                                    // that many available blocks
    int64_t query_tokens = 0;       // tokens looked up (for the hit-rate counters)
  };

  // Counters since construction and a snapshot of the size, for metrics and LoadReport.
  struct Stats {
    uint64_t queries = 0;          // Acquire() calls
    uint64_t query_tokens = 0;     // tokens those calls looked up
    uint64_t hit_tokens = 0;       // of query_tokens, those served from the cache
    uint64_t hit_queries = 0;      // Acquire() calls that reused at least one block
    uint64_t inserted_blocks = 0;  // blocks registered
    uint64_t evicted_blocks = 0;   // cached blocks evicted for space
    int64_t cached_blocks = 0;     // blocks cached now, used or evictable
  };

  explicit PrefixCache(KvBlockAllocator* allocator);
  ~PrefixCache();
  PrefixCache(const PrefixCache&) = delete;
  PrefixCache& operator=(const PrefixCache&) = delete;

  // The longest chain of cached full blocks that prefixes `tokens`, at most `max_blocks` long.
  // Takes no references and changes nothing: the caller decides (e.g. by free blocks) whether to
  // Acquire it. The match is valid until the allocator next allocates or releases.
  Match Lookup(absl::Span<const int32_t> tokens, int max_blocks) const;

  // Appends `match.blocks` to `table` (one reference each; evictable ones become used) and
  // counts the query. Call right after Lookup, before anything allocates.
  absl::Status Acquire(const Match& match, BlockTable* table);

  // Registers full block `block`, which holds `block_tokens` (exactly block_size ids) right after
  // the prefix at `parent` and is held (ref_count > 0) by the caller whose forward pass has
  // written it. Returns the cursor to continue the chain from: this block's new entry, or the
  // entry that already caches the same prefix (then `block` stays uncached, and future hits use
  // its twin). nullopt when the chain cannot continue: `parent` has been evicted, a different
  // prefix already holds the same 64-bit hash, or `block` is not in use.
  std::optional<Cursor> Insert(const Cursor& parent, absl::Span<const int32_t> block_tokens,
                               KvBlockId block);

  // Routing hashes of the cached blocks, most recently used first (blocks in use, most recently
  // hit or inserted first, then evictable ones, most recently released first), at most
  // `max_hashes` of them (PrefixCacheSummary.block_hashes).
  std::vector<uint64_t> BlockHashes(size_t max_hashes) const;

  int64_t num_cached_blocks() const { return static_cast<int64_t>(block_by_hash_.size()); }
  Stats stats() const;

 private:
  void OnEvicted(KvBlockId block);
  Cursor CursorOf(KvBlockId block) const { return {block, serial_[block], hash_[block]}; }
  absl::Span<const int32_t> TokensOf(KvBlockId block) const;
  bool EntryMatches(KvBlockId block, const Cursor& parent,
                    absl::Span<const int32_t> block_tokens) const;

  KvBlockAllocator* const allocator_;
  const int block_size_;
  // Per physical block; serial_ 0 means "not cached".
  std::vector<uint64_t> serial_;         // [num_blocks]
  std::vector<uint64_t> hash_;           // [num_blocks] routing hash of the prefix it ends
  std::vector<uint64_t> parent_serial_;  // [num_blocks] 0 for a chain's first block
  std::vector<uint64_t> last_used_;      // [num_blocks] tick of the last insert or hit
  std::vector<int32_t> tokens_;          // [num_blocks, block_size] the block's token ids
  absl::flat_hash_map<uint64_t, KvBlockId> block_by_hash_;
  uint64_t next_serial_ = 1;
  uint64_t tick_ = 0;
  Stats stats_;
};

}  // namespace r1serve::engine
