// BlockTable: one sequence's map from logical KV blocks (token position / block_size) to physical
// blocks of a KvBlockAllocator, holding one reference on each. Blocks may be shared with other
// tables (forked samples of one prompt, prefix-cache hits); a shared block is never written: when
// a table must write into a shared, partially filled last block it first takes a private copy
// (copy on write) and tells the caller which copy the backend must make.
//
//   BlockTable table(&allocator);
//   std::vector<BlockCopy> copies;
//   RETURN_IF_ERROR(table.AppendTokens(/*num_tokens=*/20, &copies));   // 2 blocks of 16
//   ASSIGN_OR_RETURN(BlockTable sample, table.Fork());                 // shares both
//   RETURN_IF_ERROR(sample.AppendTokens(1, &copies));  // block 1 is shared and partial:
//   // copies == {{src: table.blocks()[1], dst: sample.blocks()[1]}}; copy, then compute.
//
// The table counts token slots (KV positions 0 .. num_tokens()-1 that are computed or about to
// be); it does not know token ids, tensor layouts or whether the KV is written yet. It owns its
// references: destroying or moving over a table releases them. The allocator must outlive it.
#pragma once

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "lib/engine/kv/block_allocator.h"

namespace r1serve::engine {

// A whole-block copy the backend performs before the forward pass that writes into `dst`.
struct BlockCopy {
  KvBlockId src = -1;
  KvBlockId dst = -1;

  friend bool operator==(const BlockCopy&, const BlockCopy&) = default;
};

class BlockTable {
 public:
  // An empty table over `allocator`, which must outlive it.
  explicit BlockTable(KvBlockAllocator* allocator);
  ~BlockTable();
  BlockTable(BlockTable&& other) noexcept;
  BlockTable& operator=(BlockTable&& other) noexcept;
  BlockTable(const BlockTable&) = delete;
  BlockTable& operator=(const BlockTable&) = delete;

  int block_size() const { return allocator_->block_size(); }
  // Token slots covered: positions [0, num_tokens()).
  int num_tokens() const { return num_tokens_; }
  int num_blocks() const { return static_cast<int>(blocks_.size()); }
  // Physical block of each logical block, in order.
  const std::vector<KvBlockId>& blocks() const { return blocks_; }

  // Blocks that AppendTokens(num_tokens) would take from the allocator: the copy of a shared
  // partial last block, if it would be written, plus the new blocks.
  int NumBlocksToAppend(int num_tokens) const;

  // Adds `num_tokens` >= 0 slots, allocating a block at each block boundary. If the last block is
  // partially filled and shared, it is first replaced by a fresh private block and {shared, fresh}
  // is appended to `copies`. All or nothing: RESOURCE_EXHAUSTED (when the allocator has fewer than
  // NumBlocksToAppend(num_tokens) available blocks) leaves the table and the allocator unchanged.
  absl::Status AppendTokens(int num_tokens, std::vector<BlockCopy>* copies);

  // Appends full blocks that already hold KV (a prefix-cache hit), taking a reference on each.
  // The table must end on a block boundary (typically it is empty). On error nothing changes.
  absl::Status AppendCachedBlocks(absl::Span<const KvBlockId> blocks);

  // A table that shares every block of this one (one more reference on each).
  absl::StatusOr<BlockTable> Fork() const;

  // Drops every reference, last block first, and empties the table. Releasing the deepest block
  // first puts a sequence's cached blocks on the evictable list deepest first, so eviction takes
  // the ends of prefix chains before their beginnings.
  absl::Status Release();

 private:
  KvBlockAllocator* allocator_;
  std::vector<KvBlockId> blocks_;
  int num_tokens_ = 0;
};

}  // namespace r1serve::engine
