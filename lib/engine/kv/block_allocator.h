// KvBlockAllocator: the pool of paged-KV blocks of one engine instance. A block is a plain index
// into the backend's KV buffers (whatever their layout: per-layer K/V for GQA, one latent tensor
// for MLA); this class only counts who holds which block. It knows nothing of tensors.
//
//   KvBlockAllocator allocator(/*num_blocks=*/4096, /*block_size=*/16);
//   ASSIGN_OR_RETURN(KvBlockId block, allocator.Allocate());   // ref count 1
//   RETURN_IF_ERROR(allocator.AddRef(block));                  // a fork shares it: 2
//   RETURN_IF_ERROR(allocator.Release(block));                 // 1
//   RETURN_IF_ERROR(allocator.Release(block));                 // 0: free again
//
// Every block is in exactly one of three states:
// - free: holds nothing reusable; on the free list.
// - used: ref_count > 0 (one reference per BlockTable that lists it).
// - evictable: ref_count == 0 but marked cached (PrefixCache holds its KV for reuse). It counts as
//   available: Allocate() takes free blocks first and then evicts the least recently released
//   evictable block, telling the eviction callback (the PrefixCache) so that it forgets it.
//   AddRef() on an evictable block revives it (a prefix-cache hit).
//
// Misuse (unknown id, double release, reviving a free block) is an error status, never a crash:
// tests can assert on it, and the scheduler surfaces it as an internal error. Not thread-safe; the
// scheduler that owns it is driven by one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace r1serve::engine {

// Index of a physical KV block, in [0, num_blocks).
using KvBlockId = int32_t;

class KvBlockAllocator {
 public:
  // A snapshot for metrics and load reports.
  struct Stats {
    int64_t total_blocks = 0;
    int64_t free_blocks = 0;       // hold nothing
    int64_t used_blocks = 0;       // ref_count > 0
    int64_t evictable_blocks = 0;  // ref_count == 0, cached prefix KV kept until space is needed
    int64_t cached_blocks = 0;     // marked cached: used or evictable
    uint64_t allocations = 0;      // counter: successful Allocate() calls
    uint64_t evictions = 0;        // counter: evictable blocks taken by Allocate()

    // What a new sequence may use: free plus evictable (LoadReport.free_kv_blocks).
    int64_t available_blocks() const { return free_blocks + evictable_blocks; }
  };

  // `num_blocks` >= 1 blocks of `block_size` >= 1 tokens each (checked by the owner's config
  // validation; nonpositive values make an empty pool).
  KvBlockAllocator(int num_blocks, int block_size);
  KvBlockAllocator(const KvBlockAllocator&) = delete;
  KvBlockAllocator& operator=(const KvBlockAllocator&) = delete;

  int num_blocks() const { return static_cast<int>(ref_count_.size()); }
  int block_size() const { return block_size_; }
  int num_free() const { return static_cast<int>(free_list_.size()); }
  int num_evictable() const { return num_evictable_; }
  int num_available() const { return num_free() + num_evictable_; }
  int num_used() const { return num_blocks() - num_available(); }

  // A block with ref_count 1: a free one if any, else the least recently released evictable one
  // (its eviction is reported to the callback first). RESOURCE_EXHAUSTED when every block is used.
  absl::StatusOr<KvBlockId> Allocate();

  // One more holder of a used or evictable block (an evictable block becomes used again).
  // FAILED_PRECONDITION for a free block: it holds nothing to share.
  absl::Status AddRef(KvBlockId block);

  // One holder fewer. At zero the block becomes evictable if it is cached, else free.
  // FAILED_PRECONDITION when the block is not used (a double release).
  absl::Status Release(KvBlockId block);

  // Marks a used block as holding reusable prefix KV: when released it stays evictable instead of
  // becoming free. Only the PrefixCache calls this. FAILED_PRECONDITION unless the block is used.
  absl::Status MarkCached(KvBlockId block);

  // Called with each evictable block that Allocate() takes, before it is handed out. One callback
  // at a time; the PrefixCache installs its own.
  void SetEvictionCallback(std::function<void(KvBlockId)> callback);

  // 0 for free and evictable blocks; -1 for an id out of range.
  int ref_count(KvBlockId block) const;
  bool is_cached(KvBlockId block) const;
  bool is_valid(KvBlockId block) const { return block >= 0 && block < num_blocks(); }

  // Evictable blocks in eviction order: least recently released first.
  std::vector<KvBlockId> EvictableBlocks() const;

  Stats stats() const;

  // Audits the internal lists against the per-block states (O(num_blocks)); INTERNAL on the first
  // disagreement. For tests and debugging.
  absl::Status CheckConsistency() const;

 private:
  enum class State : uint8_t { kFree, kUsed, kEvictable };

  absl::Status CheckId(KvBlockId block) const;
  // The LRU list of evictable blocks is intrusive: lru_prev_/lru_next_ hold neighbours, and index
  // num_blocks() is the sentinel (next of the sentinel is the least recently released block).
  void LruPushBack(KvBlockId block);
  void LruRemove(KvBlockId block);
  int sentinel() const { return num_blocks(); }

  const int block_size_;
  std::vector<int32_t> ref_count_;    // [num_blocks]
  std::vector<State> state_;          // [num_blocks]
  std::vector<bool> cached_;          // [num_blocks]
  std::vector<KvBlockId> free_list_;  // a stack: the last entry is handed out next
  std::vector<int32_t> lru_prev_;     // [num_blocks + 1]
  std::vector<int32_t> lru_next_;     // [num_blocks + 1]
  int num_evictable_ = 0;
  int64_t num_cached_ = 0;
  uint64_t allocations_ = 0;
  uint64_t evictions_ = 0;
  std::function<void(KvBlockId)> eviction_callback_;
};

}  // namespace r1serve::engine
