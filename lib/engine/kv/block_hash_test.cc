#include "lib/engine/kv/block_hash.h"

#include <cstring>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace r1serve::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<uint8_t> Bytes(std::string_view s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// Little-endian bytes spelled out by hand, independent of the implementation's helpers.
void AppendLe(std::vector<uint8_t>& out, uint64_t value, int num_bytes) {
  for (int i = 0; i < num_bytes; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

TEST(Fnv1a64Test, MatchesPublishedTestVectors) {
  EXPECT_EQ(Fnv1a64(Bytes("")), 0xcbf29ce484222325ULL);
  EXPECT_EQ(Fnv1a64(Bytes("a")), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(Fnv1a64(Bytes("foobar")), 0x85944171f73967e8ULL);
}

TEST(Fnv1a64Test, ContinuesFromAState) {
  EXPECT_EQ(Fnv1a64(Bytes("bar"), Fnv1a64(Bytes("foo"))), Fnv1a64(Bytes("foobar")));
}

// Golden values computed outside this code base (Python, struct.pack('<4i', ...)): they pin the
// definition that the gateway and every engine share.
TEST(ChainBlockHashTest, GoldenValues) {
  const uint64_t h0 = ChainBlockHash(std::nullopt, std::vector<int32_t>{1, 2, 3, 4});
  EXPECT_EQ(h0, 0x84c39a079fc08121ULL);
  EXPECT_EQ(ChainBlockHash(h0, std::vector<int32_t>{5, 6, 7, 8}), 0x3df4016b15395f30ULL);
  EXPECT_EQ(ChainBlockHash(std::nullopt, std::vector<int32_t>{-1, 151643}), 0x3b37bb34da5a4ae8ULL);
}

TEST(ChainBlockHashTest, IsFnvOverLittleEndianParentThenIds) {
  const std::vector<int32_t> ids = {151646, 0, -7, 42, 1 << 30};
  const uint64_t parent = 0x0123456789abcdefULL;
  std::vector<uint8_t> root_bytes;
  for (int32_t id : ids) AppendLe(root_bytes, static_cast<uint32_t>(id), 4);
  EXPECT_EQ(ChainBlockHash(std::nullopt, ids), Fnv1a64(root_bytes));

  std::vector<uint8_t> chained_bytes;
  AppendLe(chained_bytes, parent, 8);
  chained_bytes.insert(chained_bytes.end(), root_bytes.begin(), root_bytes.end());
  EXPECT_EQ(ChainBlockHash(parent, ids), Fnv1a64(chained_bytes));
}

TEST(ChainBlockHashTest, ParentZeroDiffersFromNoParent) {
  const std::vector<int32_t> ids = {1, 2};
  EXPECT_NE(ChainBlockHash(std::nullopt, ids), ChainBlockHash(0, ids));
}

TEST(BlockHashChainTest, HashesOnlyFullBlocks) {
  const std::vector<int32_t> ids = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const std::vector<uint64_t> chain = BlockHashChain(ids, 4);
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(chain[0], 0x84c39a079fc08121ULL);
  EXPECT_EQ(chain[1], 0x3df4016b15395f30ULL);
  EXPECT_THAT(BlockHashChain(std::vector<int32_t>{1, 2, 3}, 4), IsEmpty());
  EXPECT_THAT(BlockHashChain(ids, 0), IsEmpty());
}

TEST(BlockHashChainTest, EqualPrefixesGiveEqualLeadingHashes) {
  const std::vector<int32_t> a = {10, 11, 12, 13, 20, 21, 22, 23, 30, 31, 32, 33};
  std::vector<int32_t> b = a;
  b[9] = 99;  // third block differs
  const std::vector<uint64_t> ha = BlockHashChain(a, 4);
  const std::vector<uint64_t> hb = BlockHashChain(b, 4);
  EXPECT_EQ(ha[0], hb[0]);
  EXPECT_EQ(ha[1], hb[1]);
  EXPECT_NE(ha[2], hb[2]);
}

TEST(BlockHashChainTest, AnEarlierDifferenceChangesEveryLaterHash) {
  const std::vector<int32_t> a = {10, 11, 12, 13, 20, 21, 22, 23};
  std::vector<int32_t> b = a;
  b[0] = 9;  // first block differs; the second is equal on its own
  const std::vector<uint64_t> ha = BlockHashChain(a, 4);
  const std::vector<uint64_t> hb = BlockHashChain(b, 4);
  EXPECT_NE(ha[0], hb[0]);
  EXPECT_NE(ha[1], hb[1]);
  // The same block content at another depth hashes differently too.
  EXPECT_NE(BlockHashChain(std::vector<int32_t>{20, 21, 22, 23}, 4)[0], ha[1]);
}

TEST(BlockHashChainTest, BlockSizeChangesTheHashes) {
  const std::vector<int32_t> ids = {1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_THAT(BlockHashChain(ids, 8), ElementsAre(ChainBlockHash(std::nullopt, ids)));
  EXPECT_NE(BlockHashChain(ids, 8)[0], BlockHashChain(ids, 4)[1]);
}

}  // namespace
}  // namespace r1serve::engine
