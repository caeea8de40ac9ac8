#include "lib/engine/kv/prefix_cache.h"

#include <numeric>
#include <optional>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/engine/kv/block_hash.h"

namespace r1serve::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::IsEmpty;

constexpr int kBlockSize = 4;

std::vector<int32_t> Iota(int n, int32_t first) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

class PrefixCacheTest : public ::testing::Test {
 protected:
  PrefixCacheTest() : allocator_(8, kBlockSize), cache_(&allocator_) {}

  // A table holding `tokens` (computed), with every full block registered in order, as the
  // scheduler does after a forward pass.
  BlockTable Prefill(const std::vector<int32_t>& tokens) {
    BlockTable table(&allocator_);
    std::vector<BlockCopy> copies;
    EXPECT_TRUE(table.AppendTokens(static_cast<int>(tokens.size()), &copies).ok());
    Register(table, tokens);
    return table;
  }

  void Register(const BlockTable& table, const std::vector<int32_t>& tokens) {
    std::optional<PrefixCache::Cursor> cursor = PrefixCache::Cursor{};
    for (size_t i = 0; i + 1 <= tokens.size() / kBlockSize && cursor.has_value(); ++i) {
      cursor = cache_.Insert(*cursor, Block(tokens, i), table.blocks()[i]);
    }
  }

  static absl::Span<const int32_t> Block(const std::vector<int32_t>& tokens, size_t i) {
    return absl::MakeConstSpan(tokens).subspan(i * kBlockSize, kBlockSize);
  }

  KvBlockAllocator allocator_;
  PrefixCache cache_;
};

TEST_F(PrefixCacheTest, EmptyCacheFindsNothing) {
  const std::vector<int32_t> tokens = Iota(12, 100);
  PrefixCache::Match match = cache_.Lookup(tokens, 3);
  EXPECT_THAT(match.blocks, IsEmpty());
  EXPECT_TRUE(match.end.is_root());
  EXPECT_EQ(match.query_tokens, 12);
  EXPECT_EQ(cache_.num_cached_blocks(), 0);
}

TEST_F(PrefixCacheTest, FindsTheRegisteredChainOfFullBlocks) {
  const std::vector<int32_t> tokens = Iota(10, 100);  // 2 full blocks + 2 tokens
  BlockTable owner = Prefill(tokens);
  EXPECT_EQ(cache_.num_cached_blocks(), 2);
  EXPECT_TRUE(allocator_.is_cached(owner.blocks()[0]));
  EXPECT_TRUE(allocator_.is_cached(owner.blocks()[1]));
  EXPECT_FALSE(allocator_.is_cached(owner.blocks()[2]));  // partial: never cached

  PrefixCache::Match match = cache_.Lookup(tokens, 100);
  EXPECT_THAT(match.blocks, ElementsAre(owner.blocks()[0], owner.blocks()[1]));
  EXPECT_EQ(match.num_evictable, 0);
  EXPECT_EQ(match.end.block, owner.blocks()[1]);
  EXPECT_EQ(match.end.hash, BlockHashChain(tokens, kBlockSize)[1]);
}

TEST_F(PrefixCacheTest, LookupIsCappedByMaxBlocks) {
  const std::vector<int32_t> tokens = Iota(12, 0);
  BlockTable owner = Prefill(tokens);
  EXPECT_EQ(cache_.Lookup(tokens, 2).blocks.size(), 2u);
  EXPECT_EQ(cache_.Lookup(tokens, 0).blocks.size(), 0u);
  // A prompt of exactly 3 blocks reuses 2 when its last token must be computed.
  EXPECT_EQ(cache_.Lookup(tokens, (12 - 1) / kBlockSize).blocks.size(), 2u);
}

TEST_F(PrefixCacheTest, MatchStopsAtTheFirstDifferentBlock) {
  const std::vector<int32_t> tokens = Iota(12, 0);
  BlockTable owner = Prefill(tokens);
  std::vector<int32_t> other = tokens;
  other[5] = 999;  // block 1 differs
  EXPECT_EQ(cache_.Lookup(other, 3).blocks.size(), 1u);
  other[0] = 999;  // block 0 differs: the equal block 2 is not reachable
  EXPECT_EQ(cache_.Lookup(other, 3).blocks.size(), 0u);
  // The same block at a different depth is a different prefix.
  const std::vector<int32_t> shifted(tokens.begin() + 4, tokens.end());
  EXPECT_EQ(cache_.Lookup(shifted, 2).blocks.size(), 0u);
}

TEST_F(PrefixCacheTest, HitsAreSharedAcrossSequences) {
  const std::vector<int32_t> prompt_a = Iota(9, 0);
  BlockTable a = Prefill(prompt_a);
  std::vector<int32_t> prompt_b = Iota(8, 0);
  prompt_b.push_back(555);  // same two blocks, different tail
  PrefixCache::Match match = cache_.Lookup(prompt_b, (9 - 1) / kBlockSize);
  ASSERT_EQ(match.blocks.size(), 2u);
  BlockTable b(&allocator_);
  ASSERT_TRUE(cache_.Acquire(match, &b).ok());
  EXPECT_EQ(b.num_tokens(), 8);
  EXPECT_EQ(allocator_.ref_count(a.blocks()[0]), 2);
  EXPECT_EQ(allocator_.ref_count(a.blocks()[1]), 2);
  const PrefixCache::Stats stats = cache_.stats();
  EXPECT_EQ(stats.queries, 1u);
  EXPECT_EQ(stats.query_tokens, 9u);
  EXPECT_EQ(stats.hit_tokens, 8u);
  EXPECT_EQ(stats.hit_queries, 1u);
  EXPECT_EQ(stats.inserted_blocks, 2u);
  EXPECT_EQ(stats.cached_blocks, 2);
}

TEST_F(PrefixCacheTest, HitsAfterTheFirstSequenceFinished) {
  const std::vector<int32_t> tokens = Iota(8, 40);
  std::vector<KvBlockId> owner_blocks;
  {
    BlockTable owner = Prefill(tokens);
    owner_blocks = owner.blocks();
  }  // released: the blocks stay evictable
  EXPECT_EQ(allocator_.num_evictable(), 2);
  EXPECT_EQ(allocator_.num_available(), 8);
  PrefixCache::Match match = cache_.Lookup(tokens, 2);
  EXPECT_EQ(match.blocks, owner_blocks);
  EXPECT_EQ(match.num_evictable, 2);
  BlockTable next(&allocator_);
  ASSERT_TRUE(cache_.Acquire(match, &next).ok());
  EXPECT_EQ(allocator_.num_evictable(), 0);
  EXPECT_EQ(allocator_.num_used(), 2);
  EXPECT_TRUE(allocator_.CheckConsistency().ok());
}

TEST_F(PrefixCacheTest, EvictsLeastRecentlyReleasedAndForgetsEvictedBlocks) {
  const std::vector<int32_t> old_prompt = Iota(8, 0);
  const std::vector<int32_t> new_prompt = Iota(8, 1000);
  { BlockTable t = Prefill(old_prompt); }
  { BlockTable t = Prefill(new_prompt); }
  ASSERT_EQ(allocator_.num_evictable(), 4);
  // Fill the pool: 4 free blocks first, then evictions, oldest chain first, deepest block first.
  BlockTable filler(&allocator_);
  std::vector<BlockCopy> copies;
  ASSERT_TRUE(filler.AppendTokens(5 * kBlockSize, &copies).ok());
  EXPECT_EQ(cache_.stats().evicted_blocks, 1u);
  EXPECT_EQ(cache_.Lookup(old_prompt, 2).blocks.size(), 1u);  // its second block went first
  EXPECT_EQ(cache_.Lookup(new_prompt, 2).blocks.size(), 2u);
  ASSERT_TRUE(filler.AppendTokens(kBlockSize, &copies).ok());
  EXPECT_EQ(cache_.Lookup(old_prompt, 2).blocks.size(), 0u);
  EXPECT_EQ(cache_.Lookup(new_prompt, 2).blocks.size(), 2u);
  EXPECT_EQ(cache_.num_cached_blocks(), 2);
  EXPECT_EQ(allocator_.stats().cached_blocks, 2);
  EXPECT_THAT(cache_.BlockHashes(10),
              ElementsAreArray({BlockHashChain(new_prompt, kBlockSize)[0],
                                BlockHashChain(new_prompt, kBlockSize)[1]}));
}

TEST_F(PrefixCacheTest, AHitMakesAChainRecentlyUsed) {
  const std::vector<int32_t> first = Iota(4, 0);
  const std::vector<int32_t> second = Iota(4, 100);
  { BlockTable t = Prefill(first); }
  { BlockTable t = Prefill(second); }
  {
    BlockTable reuse(&allocator_);
    ASSERT_TRUE(cache_.Acquire(cache_.Lookup(first, 1), &reuse).ok());
  }  // `first` is now the most recently released
  BlockTable filler(&allocator_);
  std::vector<BlockCopy> copies;
  ASSERT_TRUE(filler.AppendTokens(7 * kBlockSize, &copies).ok());  // 6 free + 1 eviction
  EXPECT_EQ(cache_.Lookup(second, 1).blocks.size(), 0u);
  EXPECT_EQ(cache_.Lookup(first, 1).blocks.size(), 1u);
}

TEST_F(PrefixCacheTest, ADuplicateBlockStaysUncachedAndTheChainContinuesOnItsTwin) {
  const std::vector<int32_t> tokens = Iota(8, 7);
  BlockTable a = Prefill(tokens);
  // A second sequence computed the same prompt itself (e.g. both prefilled in one step).
  BlockTable b(&allocator_);
  std::vector<BlockCopy> copies;
  ASSERT_TRUE(b.AppendTokens(8, &copies).ok());
  std::optional<PrefixCache::Cursor> cursor =
      cache_.Insert(PrefixCache::Cursor{}, Block(tokens, 0), b.blocks()[0]);
  ASSERT_TRUE(cursor.has_value());
  EXPECT_EQ(cursor->block, a.blocks()[0]);
  EXPECT_FALSE(allocator_.is_cached(b.blocks()[0]));
  cursor = cache_.Insert(*cursor, Block(tokens, 1), b.blocks()[1]);
  ASSERT_TRUE(cursor.has_value());
  EXPECT_EQ(cursor->block, a.blocks()[1]);
  EXPECT_EQ(cache_.num_cached_blocks(), 2);
  EXPECT_EQ(cache_.stats().inserted_blocks, 2u);
}

TEST_F(PrefixCacheTest, RegisteringTheSameBlockTwiceIsIdempotent) {
  const std::vector<int32_t> tokens = Iota(4, 0);
  BlockTable a = Prefill(tokens);
  std::optional<PrefixCache::Cursor> again =
      cache_.Insert(PrefixCache::Cursor{}, Block(tokens, 0), a.blocks()[0]);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->block, a.blocks()[0]);
  EXPECT_EQ(cache_.stats().inserted_blocks, 1u);
  // The same block claimed for another prefix is refused.
  const std::vector<int32_t> other = Iota(4, 50);
  EXPECT_FALSE(cache_.Insert(PrefixCache::Cursor{}, Block(other, 0), a.blocks()[0]).has_value());
}

TEST_F(PrefixCacheTest, RefusesBlocksNobodyHoldsAndWrongSizes) {
  const std::vector<int32_t> tokens = Iota(4, 0);
  EXPECT_FALSE(cache_.Insert(PrefixCache::Cursor{}, Block(tokens, 0), 3).has_value());
  BlockTable t(&allocator_);
  std::vector<BlockCopy> copies;
  ASSERT_TRUE(t.AppendTokens(4, &copies).ok());
  EXPECT_FALSE(
      cache_.Insert(PrefixCache::Cursor{}, absl::MakeConstSpan(tokens).subspan(0, 3), t.blocks()[0])
          .has_value());
  EXPECT_FALSE(cache_.Insert(PrefixCache::Cursor{}, Block(tokens, 0), 99).has_value());
  EXPECT_EQ(cache_.num_cached_blocks(), 0);
}

// A parent evicted before its child leaves the child unreachable: hits are proved by entry
// identity, not by hash alone, so a re-registered parent does not adopt old children.
TEST_F(PrefixCacheTest, AStaleParentCursorEndsTheChain) {
  const std::vector<int32_t> tokens = Iota(8, 0);
  std::vector<KvBlockId> blocks;
  std::optional<PrefixCache::Cursor> parent;
  {
    BlockTable t = Prefill(tokens);
    blocks = t.blocks();
    parent = cache_.Lookup(tokens, 1).end;
  }
  // Revive the child alone and release it, so the parent is now the older evictable block.
  ASSERT_TRUE(allocator_.AddRef(blocks[1]).ok());
  ASSERT_TRUE(allocator_.Release(blocks[1]).ok());
  BlockTable filler(&allocator_);
  std::vector<BlockCopy> copies;
  ASSERT_TRUE(filler.AppendTokens(7 * kBlockSize, &copies).ok());  // evicts the parent only
  EXPECT_EQ(cache_.Lookup(tokens, 2).blocks.size(), 0u);
  const std::vector<int32_t> more = Iota(4, 500);
  EXPECT_FALSE(cache_.Insert(*parent, Block(more, 0), filler.blocks()[0]).has_value());
  // Re-register the same first block elsewhere: the orphaned child is not adopted.
  ASSERT_TRUE(filler.Release().ok());
  BlockTable again = Prefill(Iota(4, 0));
  EXPECT_EQ(cache_.Lookup(tokens, 2).blocks.size(), 1u);
}

TEST_F(PrefixCacheTest, AcquireRefusesABlockEvictedSinceTheLookup) {
  const std::vector<int32_t> tokens = Iota(4, 0);
  { BlockTable t = Prefill(tokens); }
  PrefixCache::Match match = cache_.Lookup(tokens, 1);
  BlockTable filler(&allocator_);
  std::vector<BlockCopy> copies;
  ASSERT_TRUE(filler.AppendTokens(8 * kBlockSize, &copies).ok());
  BlockTable late(&allocator_);
  EXPECT_EQ(cache_.Acquire(match, &late).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(late.num_blocks(), 0);
}

TEST_F(PrefixCacheTest, HashesAreTheRoutingChainMostRecentlyUsedFirst) {
  const std::vector<int32_t> a = Iota(8, 0);
  const std::vector<int32_t> b = Iota(4, 300);
  const std::vector<uint64_t> ha = BlockHashChain(a, kBlockSize);
  const std::vector<uint64_t> hb = BlockHashChain(b, kBlockSize);
  BlockTable ta = Prefill(a);
  { BlockTable tb = Prefill(b); }  // b is evictable; a is in use
  EXPECT_THAT(cache_.BlockHashes(10), ElementsAre(ha[1], ha[0], hb[0]));
  EXPECT_THAT(cache_.BlockHashes(2), ElementsAre(ha[1], ha[0]));
  EXPECT_THAT(cache_.BlockHashes(0), IsEmpty());
  ASSERT_TRUE(ta.Release().ok());  // released deepest first: a[0] is the most recent
  EXPECT_THAT(cache_.BlockHashes(10), ElementsAre(ha[0], ha[1], hb[0]));
}

TEST_F(PrefixCacheTest, CountsQueriesWithoutHits) {
  BlockTable t(&allocator_);
  ASSERT_TRUE(cache_.Acquire(cache_.Lookup(Iota(6, 0), 1), &t).ok());
  const PrefixCache::Stats stats = cache_.stats();
  EXPECT_EQ(stats.queries, 1u);
  EXPECT_EQ(stats.query_tokens, 6u);
  EXPECT_EQ(stats.hit_tokens, 0u);
  EXPECT_EQ(stats.hit_queries, 0u);
}

}  // namespace
}  // namespace r1serve::engine
