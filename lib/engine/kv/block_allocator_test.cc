#include "lib/engine/kv/block_allocator.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace r1serve::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

KvBlockId MustAllocate(KvBlockAllocator& allocator) {
  absl::StatusOr<KvBlockId> block = allocator.Allocate();
  EXPECT_TRUE(block.ok()) << block.status();
  return block.value_or(-1);
}

TEST(KvBlockAllocatorTest, FreshPoolIsAllFree) {
  KvBlockAllocator allocator(8, 16);
  EXPECT_EQ(allocator.num_blocks(), 8);
  EXPECT_EQ(allocator.block_size(), 16);
  const KvBlockAllocator::Stats stats = allocator.stats();
  EXPECT_EQ(stats.total_blocks, 8);
  EXPECT_EQ(stats.free_blocks, 8);
  EXPECT_EQ(stats.used_blocks, 0);
  EXPECT_EQ(stats.evictable_blocks, 0);
  EXPECT_EQ(stats.cached_blocks, 0);
  EXPECT_EQ(stats.available_blocks(), 8);
  EXPECT_TRUE(allocator.CheckConsistency().ok());
}

TEST(KvBlockAllocatorTest, AllocatesInIndexOrderUntilExhausted) {
  KvBlockAllocator allocator(3, 4);
  EXPECT_EQ(MustAllocate(allocator), 0);
  EXPECT_EQ(MustAllocate(allocator), 1);
  EXPECT_EQ(MustAllocate(allocator), 2);
  absl::StatusOr<KvBlockId> none = allocator.Allocate();
  EXPECT_EQ(none.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(allocator.num_used(), 3);
  EXPECT_EQ(allocator.num_available(), 0);
  EXPECT_EQ(allocator.stats().allocations, 3u);
  EXPECT_TRUE(allocator.CheckConsistency().ok());
}

TEST(KvBlockAllocatorTest, ReleasedBlockIsReusedFirst) {
  KvBlockAllocator allocator(4, 4);
  MustAllocate(allocator);
  const KvBlockId b1 = MustAllocate(allocator);
  ASSERT_TRUE(allocator.Release(b1).ok());
  EXPECT_EQ(allocator.ref_count(b1), 0);
  EXPECT_EQ(MustAllocate(allocator), b1);
}

TEST(KvBlockAllocatorTest, RefCountsCountHolders) {
  KvBlockAllocator allocator(2, 4);
  const KvBlockId b = MustAllocate(allocator);
  EXPECT_EQ(allocator.ref_count(b), 1);
  ASSERT_TRUE(allocator.AddRef(b).ok());
  ASSERT_TRUE(allocator.AddRef(b).ok());
  EXPECT_EQ(allocator.ref_count(b), 3);
  EXPECT_EQ(allocator.num_used(), 1);
  ASSERT_TRUE(allocator.Release(b).ok());
  ASSERT_TRUE(allocator.Release(b).ok());
  EXPECT_EQ(allocator.num_free(), 1);  // still held once
  ASSERT_TRUE(allocator.Release(b).ok());
  EXPECT_EQ(allocator.num_free(), 2);
  EXPECT_TRUE(allocator.CheckConsistency().ok());
}

TEST(KvBlockAllocatorTest, DoubleReleaseIsAnErrorAndChangesNothing) {
  KvBlockAllocator allocator(2, 4);
  const KvBlockId b = MustAllocate(allocator);
  ASSERT_TRUE(allocator.Release(b).ok());
  EXPECT_EQ(allocator.Release(b).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(allocator.num_free(), 2);
  EXPECT_TRUE(allocator.CheckConsistency().ok());
}

TEST(KvBlockAllocatorTest, SharingAFreeBlockIsAnError) {
  KvBlockAllocator allocator(2, 4);
  EXPECT_EQ(allocator.AddRef(1).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(allocator.ref_count(1), 0);
}

TEST(KvBlockAllocatorTest, OutOfRangeIdsAreRejected) {
  KvBlockAllocator allocator(2, 4);
  EXPECT_EQ(allocator.AddRef(2).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(allocator.Release(-1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(allocator.MarkCached(7).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(allocator.ref_count(2), -1);
  EXPECT_FALSE(allocator.is_cached(-3));
}

TEST(KvBlockAllocatorTest, OnlyUsedBlocksCanBeMarkedCached) {
  KvBlockAllocator allocator(2, 4);
  EXPECT_EQ(allocator.MarkCached(0).code(), absl::StatusCode::kFailedPrecondition);
  const KvBlockId b = MustAllocate(allocator);
  EXPECT_TRUE(allocator.MarkCached(b).ok());
  EXPECT_TRUE(allocator.MarkCached(b).ok());  // idempotent
  EXPECT_TRUE(allocator.is_cached(b));
  EXPECT_EQ(allocator.stats().cached_blocks, 1);
}

TEST(KvBlockAllocatorTest, ReleasedCachedBlockStaysEvictableAndCountsAsAvailable) {
  KvBlockAllocator allocator(3, 4);
  const KvBlockId b = MustAllocate(allocator);
  ASSERT_TRUE(allocator.MarkCached(b).ok());
  ASSERT_TRUE(allocator.Release(b).ok());
  const KvBlockAllocator::Stats stats = allocator.stats();
  EXPECT_EQ(stats.free_blocks, 2);
  EXPECT_EQ(stats.evictable_blocks, 1);
  EXPECT_EQ(stats.used_blocks, 0);
  EXPECT_EQ(stats.cached_blocks, 1);
  EXPECT_EQ(stats.available_blocks(), 3);
  EXPECT_THAT(allocator.EvictableBlocks(), ElementsAre(b));
  EXPECT_TRUE(allocator.CheckConsistency().ok());
}

TEST(KvBlockAllocatorTest, FreeBlocksGoBeforeEvictableOnes) {
  KvBlockAllocator allocator(2, 4);
  const KvBlockId cached = MustAllocate(allocator);
  ASSERT_TRUE(allocator.MarkCached(cached).ok());
  ASSERT_TRUE(allocator.Release(cached).ok());
  std::vector<KvBlockId> evicted;
  allocator.SetEvictionCallback([&](KvBlockId b) { evicted.push_back(b); });
  EXPECT_EQ(MustAllocate(allocator), 1);
  EXPECT_THAT(evicted, IsEmpty());
  EXPECT_TRUE(allocator.is_cached(cached));
}

TEST(KvBlockAllocatorTest, EvictsLeastRecentlyReleasedFirstAndReportsIt) {
  KvBlockAllocator allocator(4, 4);
  std::vector<KvBlockId> blocks;
  for (int i = 0; i < 4; ++i) {
    blocks.push_back(MustAllocate(allocator));
    ASSERT_TRUE(allocator.MarkCached(blocks.back()).ok());
  }
  // Release order 2, 0, 3, 1: that is the eviction order.
  for (int i : {2, 0, 3, 1}) ASSERT_TRUE(allocator.Release(blocks[i]).ok());
  EXPECT_THAT(allocator.EvictableBlocks(), ElementsAre(2, 0, 3, 1));
  std::vector<KvBlockId> evicted;
  allocator.SetEvictionCallback([&](KvBlockId b) {
    EXPECT_FALSE(allocator.is_cached(b));  // the block is already uncached when reported
    evicted.push_back(b);
  });
  EXPECT_EQ(MustAllocate(allocator), 2);
  EXPECT_EQ(MustAllocate(allocator), 0);
  EXPECT_THAT(evicted, ElementsAre(2, 0));
  EXPECT_EQ(allocator.stats().evictions, 2u);
  EXPECT_EQ(allocator.stats().cached_blocks, 2);
  // A newly allocated block comes uncached: releasing it frees it.
  ASSERT_TRUE(allocator.Release(2).ok());
  EXPECT_EQ(allocator.num_free(), 1);
  EXPECT_TRUE(allocator.CheckConsistency().ok());
}

TEST(KvBlockAllocatorTest, AddRefRevivesAnEvictableBlock) {
  KvBlockAllocator allocator(3, 4);
  for (int i = 0; i < 3; ++i) {
    MustAllocate(allocator);
    ASSERT_TRUE(allocator.MarkCached(i).ok());
  }
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(allocator.Release(i).ok());
  ASSERT_TRUE(allocator.AddRef(0).ok());  // a prefix hit on the oldest
  EXPECT_EQ(allocator.ref_count(0), 1);
  EXPECT_THAT(allocator.EvictableBlocks(), ElementsAre(1, 2));
  EXPECT_EQ(allocator.num_available(), 2);
  // Released again, it becomes the most recently released.
  ASSERT_TRUE(allocator.Release(0).ok());
  EXPECT_THAT(allocator.EvictableBlocks(), ElementsAre(1, 2, 0));
  EXPECT_TRUE(allocator.CheckConsistency().ok());
}

TEST(KvBlockAllocatorTest, ExhaustedWhenEveryBlockIsUsedEvenIfCached) {
  KvBlockAllocator allocator(2, 4);
  MustAllocate(allocator);
  MustAllocate(allocator);
  ASSERT_TRUE(allocator.MarkCached(0).ok());
  EXPECT_EQ(allocator.Allocate().status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(KvBlockAllocatorTest, EmptyPool) {
  KvBlockAllocator allocator(0, 4);
  EXPECT_EQ(allocator.num_blocks(), 0);
  EXPECT_EQ(allocator.Allocate().status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(allocator.CheckConsistency().ok());
}

}  // namespace
}  // namespace r1serve::engine
