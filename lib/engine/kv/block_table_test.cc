#include "lib/engine/kv/block_table.h"

#include <map>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace r1serve::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(BlockTableTest, AllocatesOnBlockBoundaries) {
  KvBlockAllocator allocator(8, 4);
  BlockTable table(&allocator);
  std::vector<BlockCopy> copies;
  EXPECT_EQ(table.NumBlocksToAppend(1), 1);
  ASSERT_TRUE(table.AppendTokens(1, &copies).ok());
  EXPECT_THAT(table.blocks(), ElementsAre(0));
  EXPECT_EQ(table.NumBlocksToAppend(3), 0);
  ASSERT_TRUE(table.AppendTokens(3, &copies).ok());  // fills block 0 exactly
  EXPECT_THAT(table.blocks(), ElementsAre(0));
  EXPECT_EQ(table.NumBlocksToAppend(1), 1);
  ASSERT_TRUE(table.AppendTokens(1, &copies).ok());
  EXPECT_THAT(table.blocks(), ElementsAre(0, 1));
  EXPECT_EQ(table.NumBlocksToAppend(8), 2);
  ASSERT_TRUE(table.AppendTokens(8, &copies).ok());
  EXPECT_THAT(table.blocks(), ElementsAre(0, 1, 2, 3));
  EXPECT_EQ(table.num_tokens(), 13);
  EXPECT_EQ(table.num_blocks(), 4);
  EXPECT_THAT(copies, IsEmpty());
  EXPECT_EQ(allocator.num_used(), 4);
}

TEST(BlockTableTest, AppendingZeroTokensDoesNothing) {
  KvBlockAllocator allocator(2, 4);
  BlockTable table(&allocator);
  std::vector<BlockCopy> copies;
  EXPECT_EQ(table.NumBlocksToAppend(0), 0);
  ASSERT_TRUE(table.AppendTokens(0, &copies).ok());
  EXPECT_EQ(table.num_blocks(), 0);
  EXPECT_EQ(table.AppendTokens(-1, &copies).code(), absl::StatusCode::kInvalidArgument);
}

TEST(BlockTableTest, AppendIsAllOrNothing) {
  KvBlockAllocator allocator(3, 4);
  BlockTable table(&allocator);
  std::vector<BlockCopy> copies;
  ASSERT_TRUE(table.AppendTokens(6, &copies).ok());  // 2 blocks
  EXPECT_EQ(table.AppendTokens(7, &copies).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(table.num_tokens(), 6);
  EXPECT_EQ(table.num_blocks(), 2);
  EXPECT_EQ(allocator.num_free(), 1);
  ASSERT_TRUE(table.AppendTokens(6, &copies).ok());  // exactly fits
  EXPECT_EQ(allocator.num_free(), 0);
}

TEST(BlockTableTest, ReleaseReturnsEveryBlock) {
  KvBlockAllocator allocator(4, 4);
  BlockTable table(&allocator);
  std::vector<BlockCopy> copies;
  ASSERT_TRUE(table.AppendTokens(10, &copies).ok());
  ASSERT_TRUE(table.Release().ok());
  EXPECT_EQ(table.num_tokens(), 0);
  EXPECT_EQ(table.num_blocks(), 0);
  EXPECT_EQ(allocator.num_free(), 4);
  ASSERT_TRUE(table.Release().ok());  // releasing an empty table is harmless
  EXPECT_TRUE(allocator.CheckConsistency().ok());
}

TEST(BlockTableTest, ReleasesDeepestBlockFirst) {
  KvBlockAllocator allocator(4, 4);
  BlockTable table(&allocator);
  std::vector<BlockCopy> copies;
  ASSERT_TRUE(table.AppendTokens(12, &copies).ok());
  for (KvBlockId b : table.blocks()) ASSERT_TRUE(allocator.MarkCached(b).ok());
  ASSERT_TRUE(table.Release().ok());
  EXPECT_THAT(allocator.EvictableBlocks(), ElementsAre(2, 1, 0));
}

TEST(BlockTableTest, DestructorAndMoveKeepReferencesBalanced) {
  KvBlockAllocator allocator(4, 4);
  std::vector<BlockCopy> copies;
  {
    BlockTable a(&allocator);
    ASSERT_TRUE(a.AppendTokens(5, &copies).ok());
    BlockTable b = std::move(a);
    EXPECT_EQ(a.num_blocks(), 0);  // NOLINT(bugprone-use-after-move): moved-from is empty
    EXPECT_EQ(b.num_blocks(), 2);
    BlockTable c(&allocator);
    ASSERT_TRUE(c.AppendTokens(1, &copies).ok());
    EXPECT_EQ(allocator.num_used(), 3);
    c = std::move(b);  // c's own block is released
    EXPECT_EQ(allocator.num_used(), 2);
  }
  EXPECT_EQ(allocator.num_free(), 4);
  EXPECT_TRUE(allocator.CheckConsistency().ok());
}

TEST(BlockTableTest, ForkSharesEveryBlock) {
  KvBlockAllocator allocator(8, 4);
  BlockTable parent(&allocator);
  std::vector<BlockCopy> copies;
  ASSERT_TRUE(parent.AppendTokens(6, &copies).ok());
  absl::StatusOr<BlockTable> child = parent.Fork();
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(child->blocks(), parent.blocks());
  EXPECT_EQ(child->num_tokens(), 6);
  for (KvBlockId b : parent.blocks()) EXPECT_EQ(allocator.ref_count(b), 2);
  EXPECT_EQ(allocator.num_used(), 2);
}

TEST(BlockTableTest, CopyOnWriteOfASharedPartialLastBlock) {
  KvBlockAllocator allocator(8, 4);
  BlockTable parent(&allocator);
  std::vector<BlockCopy> copies;
  ASSERT_TRUE(parent.AppendTokens(6, &copies).ok());  // blocks 0 (full), 1 (2 of 4)
  absl::StatusOr<BlockTable> child = parent.Fork();
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(child->NumBlocksToAppend(1), 1);  // the copy
  ASSERT_TRUE(child->AppendTokens(1, &copies).ok());
  EXPECT_THAT(copies, ElementsAre(BlockCopy{1, 2}));
  EXPECT_THAT(child->blocks(), ElementsAre(0, 2));
  EXPECT_THAT(parent.blocks(), ElementsAre(0, 1));
  EXPECT_EQ(allocator.ref_count(0), 2);  // the full block stays shared
  EXPECT_EQ(allocator.ref_count(1), 1);
  EXPECT_EQ(allocator.ref_count(2), 1);
  // The parent is now the last holder of block 1: it writes in place.
  copies.clear();
  EXPECT_EQ(parent.NumBlocksToAppend(1), 0);
  ASSERT_TRUE(parent.AppendTokens(1, &copies).ok());
  EXPECT_THAT(copies, IsEmpty());
  EXPECT_THAT(parent.blocks(), ElementsAre(0, 1));
}

TEST(BlockTableTest, CopyOnWriteThenGrowIntoNewBlocks) {
  KvBlockAllocator allocator(8, 4);
  BlockTable parent(&allocator);
  std::vector<BlockCopy> copies;
  ASSERT_TRUE(parent.AppendTokens(3, &copies).ok());
  absl::StatusOr<BlockTable> child = parent.Fork();
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(child->NumBlocksToAppend(6), 3);  // copy + 2 new
  ASSERT_TRUE(child->AppendTokens(6, &copies).ok());
  EXPECT_THAT(copies, ElementsAre(BlockCopy{0, 1}));
  EXPECT_THAT(child->blocks(), ElementsAre(1, 2, 3));
  EXPECT_EQ(child->num_tokens(), 9);
}

TEST(BlockTableTest, NoCopyWhenTheSharedLastBlockIsFull) {
  KvBlockAllocator allocator(8, 4);
  BlockTable parent(&allocator);
  std::vector<BlockCopy> copies;
  ASSERT_TRUE(parent.AppendTokens(8, &copies).ok());
  absl::StatusOr<BlockTable> child = parent.Fork();
  ASSERT_TRUE(child.ok());
  ASSERT_TRUE(child->AppendTokens(1, &copies).ok());
  EXPECT_THAT(copies, IsEmpty());
  EXPECT_THAT(child->blocks(), ElementsAre(0, 1, 2));
}

TEST(BlockTableTest, CopyOnWriteFailsCleanlyWithoutABlock) {
  KvBlockAllocator allocator(2, 4);
  BlockTable parent(&allocator);
  std::vector<BlockCopy> copies;
  ASSERT_TRUE(parent.AppendTokens(6, &copies).ok());  // both blocks
  absl::StatusOr<BlockTable> child = parent.Fork();
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(child->AppendTokens(1, &copies).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(copies, IsEmpty());
  EXPECT_THAT(child->blocks(), ElementsAre(0, 1));
  EXPECT_EQ(allocator.ref_count(1), 2);
}

TEST(BlockTableTest, ManySamplesCopyAllButTheLastWriter) {
  KvBlockAllocator allocator(16, 4);
  BlockTable parent(&allocator);
  std::vector<BlockCopy> copies;
  ASSERT_TRUE(parent.AppendTokens(5, &copies).ok());
  std::vector<BlockTable> samples;
  for (int i = 0; i < 3; ++i) samples.push_back(*parent.Fork());
  EXPECT_EQ(allocator.ref_count(1), 4);
  for (BlockTable& s : samples) ASSERT_TRUE(s.AppendTokens(1, &copies).ok());
  ASSERT_TRUE(parent.AppendTokens(1, &copies).ok());
  EXPECT_EQ(copies.size(), 3u);  // the parent, last, writes in place
  for (const BlockCopy& c : copies) EXPECT_EQ(c.src, 1);
  EXPECT_EQ(allocator.ref_count(0), 4);
  EXPECT_EQ(allocator.num_used(), 5);
}

TEST(BlockTableTest, AppendCachedBlocksTakesReferences) {
  KvBlockAllocator allocator(8, 4);
  BlockTable owner(&allocator);
  std::vector<BlockCopy> copies;
  ASSERT_TRUE(owner.AppendTokens(8, &copies).ok());
  BlockTable reuser(&allocator);
  ASSERT_TRUE(reuser.AppendCachedBlocks(owner.blocks()).ok());
  EXPECT_EQ(reuser.num_tokens(), 8);
  EXPECT_EQ(allocator.ref_count(0), 2);
  EXPECT_EQ(allocator.ref_count(1), 2);
  ASSERT_TRUE(reuser.AppendTokens(1, &copies).ok());
  EXPECT_THAT(reuser.blocks(), ElementsAre(0, 1, 2));
  // Only after full blocks.
  EXPECT_EQ(reuser.AppendCachedBlocks(owner.blocks()).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(BlockTableTest, AppendCachedBlocksRollsBackOnAFreeBlock) {
  KvBlockAllocator allocator(4, 4);
  BlockTable owner(&allocator);
  std::vector<BlockCopy> copies;
  ASSERT_TRUE(owner.AppendTokens(4, &copies).ok());  // block 0
  BlockTable reuser(&allocator);
  const std::vector<KvBlockId> blocks = {0, 3};  // 3 is free
  EXPECT_EQ(reuser.AppendCachedBlocks(blocks).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(reuser.num_blocks(), 0);
  EXPECT_EQ(allocator.ref_count(0), 1);
}

// Random appends, forks and releases over many tables; after every operation each block's ref
// count must equal the number of tables that list it, and the allocator's lists must agree.
TEST(BlockTableTest, RandomOperationsKeepReferenceCountsExact) {
  constexpr int kNumBlocks = 32;
  constexpr int kBlockSize = 4;
  KvBlockAllocator allocator(kNumBlocks, kBlockSize);
  std::vector<std::unique_ptr<BlockTable>> tables;
  std::mt19937 rng(20250501);
  int copies_seen = 0;
  int exhausted_seen = 0;
  for (int op = 0; op < 20000; ++op) {
    const int action = static_cast<int>(rng() % 12);
    if (action < 6 && !tables.empty()) {
      BlockTable& t = *tables[rng() % tables.size()];
      const int n = static_cast<int>(rng() % 9);
      const int needed = t.NumBlocksToAppend(n);
      const int available = allocator.num_available();
      const std::vector<KvBlockId> before = t.blocks();
      std::vector<BlockCopy> copies;
      const absl::Status s = t.AppendTokens(n, &copies);
      ASSERT_EQ(s.ok(), needed <= available) << s;
      if (!s.ok()) {
        EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
        EXPECT_EQ(t.blocks(), before);
        ++exhausted_seen;
      } else {
        EXPECT_EQ(allocator.num_available(), available - needed);
      }
      for (const BlockCopy& c : copies) {
        // A copy replaces the old last block by a fresh one that only this table holds.
        EXPECT_EQ(allocator.ref_count(c.dst), 1);
        ++copies_seen;
      }
    } else if (action < 9 && tables.size() < 24) {
      if (tables.empty() || rng() % 3 == 0) {
        tables.push_back(std::make_unique<BlockTable>(&allocator));
      } else {
        absl::StatusOr<BlockTable> child = tables[rng() % tables.size()]->Fork();
        ASSERT_TRUE(child.ok());
        tables.push_back(std::make_unique<BlockTable>(*std::move(child)));
      }
    } else if (!tables.empty()) {
      const size_t i = rng() % tables.size();
      ASSERT_TRUE(tables[i]->Release().ok());
      tables.erase(tables.begin() + i);
    }
    std::map<KvBlockId, int> holders;
    for (const auto& t : tables) {
      EXPECT_LE(t->num_tokens(), t->num_blocks() * kBlockSize);
      EXPECT_GT(t->num_tokens(), (t->num_blocks() - 1) * kBlockSize);
      for (KvBlockId b : t->blocks()) ++holders[b];
    }
    for (KvBlockId b = 0; b < kNumBlocks; ++b) {
      const int expected = holders.count(b) ? holders[b] : 0;
      ASSERT_EQ(allocator.ref_count(b), expected) << "block " << b << " after op " << op;
    }
    ASSERT_TRUE(allocator.CheckConsistency().ok()) << allocator.CheckConsistency();
  }
  EXPECT_GT(copies_seen, 0);
  EXPECT_GT(exhausted_seen, 0);
  tables.clear();
  EXPECT_EQ(allocator.num_free(), kNumBlocks);
}

}  // namespace
}  // namespace r1serve::engine
