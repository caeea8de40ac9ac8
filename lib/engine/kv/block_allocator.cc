#include "lib/engine/kv/block_allocator.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace r1serve::engine {

KvBlockAllocator::KvBlockAllocator(int num_blocks, int block_size)
    : block_size_(block_size),
      ref_count_(std::max(num_blocks, 0), 0),
      state_(std::max(num_blocks, 0), State::kFree),
      cached_(std::max(num_blocks, 0), false),
      lru_prev_(std::max(num_blocks, 0) + 1),
      lru_next_(std::max(num_blocks, 0) + 1) {
  // Reversed so that a fresh pool hands out 0, 1, 2, ...: deterministic and easy to read in tests.
  free_list_.reserve(ref_count_.size());
  for (int i = num_blocks - 1; i >= 0; --i) free_list_.push_back(i);
  lru_prev_[sentinel()] = sentinel();
  lru_next_[sentinel()] = sentinel();
}

absl::Status KvBlockAllocator::CheckId(KvBlockId block) const {
  if (is_valid(block)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("KV block ", block, " is out of range [0, ", num_blocks(), ")"));
}

void KvBlockAllocator::LruPushBack(KvBlockId block) {
  const int last = lru_prev_[sentinel()];
  lru_prev_[block] = last;
  lru_next_[block] = sentinel();
  lru_next_[last] = block;
  lru_prev_[sentinel()] = block;
  ++num_evictable_;
}

void KvBlockAllocator::LruRemove(KvBlockId block) {
  lru_next_[lru_prev_[block]] = lru_next_[block];
  lru_prev_[lru_next_[block]] = lru_prev_[block];
  --num_evictable_;
}

absl::StatusOr<KvBlockId> KvBlockAllocator::Allocate() {
  KvBlockId block;
  if (!free_list_.empty()) {
    block = free_list_.back();
    free_list_.pop_back();
  } else if (num_evictable_ > 0) {
    block = lru_next_[sentinel()];
    LruRemove(block);
    cached_[block] = false;
    --num_cached_;
    ++evictions_;
    if (eviction_callback_) eviction_callback_(block);
  } else {
    return absl::ResourceExhaustedError(
        absl::StrCat("all ", num_blocks(), " KV blocks are in use"));
  }
  state_[block] = State::kUsed;
  ref_count_[block] = 1;
  ++allocations_;
  return block;
}

absl::Status KvBlockAllocator::AddRef(KvBlockId block) {
  if (absl::Status s = CheckId(block); !s.ok()) return s;
  switch (state_[block]) {
    case State::kFree:
      return absl::FailedPreconditionError(
          absl::StrCat("KV block ", block, " is free: there is nothing to share"));
    case State::kEvictable:
      LruRemove(block);
      state_[block] = State::kUsed;
      break;
    case State::kUsed:
      break;
  }
  ++ref_count_[block];
  return absl::OkStatus();
}

absl::Status KvBlockAllocator::Release(KvBlockId block) {
  if (absl::Status s = CheckId(block); !s.ok()) return s;
  if (state_[block] != State::kUsed) {
    return absl::FailedPreconditionError(
        absl::StrCat("KV block ", block, " released while not in use (double release)"));
  }
  if (--ref_count_[block] > 0) return absl::OkStatus();
  if (cached_[block]) {
    state_[block] = State::kEvictable;
    LruPushBack(block);
  } else {
    state_[block] = State::kFree;
    free_list_.push_back(block);
  }
  return absl::OkStatus();
}

absl::Status KvBlockAllocator::MarkCached(KvBlockId block) {
  if (absl::Status s = CheckId(block); !s.ok()) return s;
  if (state_[block] != State::kUsed) {
    return absl::FailedPreconditionError(
        absl::StrCat("KV block ", block, " must be in use to be marked cached"));
  }
  if (!cached_[block]) {
    cached_[block] = true;
    ++num_cached_;
  }
  return absl::OkStatus();
}

void KvBlockAllocator::SetEvictionCallback(std::function<void(KvBlockId)> callback) {
  eviction_callback_ = std::move(callback);
}

int KvBlockAllocator::ref_count(KvBlockId block) const {
  return is_valid(block) ? ref_count_[block] : -1;
}

bool KvBlockAllocator::is_cached(KvBlockId block) const {
  return is_valid(block) && cached_[block];
}

std::vector<KvBlockId> KvBlockAllocator::EvictableBlocks() const {
  std::vector<KvBlockId> blocks;
  blocks.reserve(num_evictable_);
  for (int b = lru_next_[sentinel()]; b != sentinel(); b = lru_next_[b]) blocks.push_back(b);
  return blocks;
}

KvBlockAllocator::Stats KvBlockAllocator::stats() const {
  Stats s;
  s.total_blocks = num_blocks();
  s.free_blocks = num_free();
  s.evictable_blocks = num_evictable_;
  s.used_blocks = num_used();
  s.cached_blocks = num_cached_;
  s.allocations = allocations_;
  s.evictions = evictions_;
  return s;
}

absl::Status KvBlockAllocator::CheckConsistency() const {
  std::vector<int> seen(num_blocks(), 0);
  for (KvBlockId b : free_list_) {
    if (!is_valid(b) || state_[b] != State::kFree || ref_count_[b] != 0 || cached_[b] ||
        seen[b]++ != 0) {
      return absl::InternalError(absl::StrCat("free list entry ", b, " is inconsistent"));
    }
  }
  int lru_length = 0;
  for (int b = lru_next_[sentinel()]; b != sentinel(); b = lru_next_[b]) {
    if (!is_valid(b) || state_[b] != State::kEvictable || ref_count_[b] != 0 || !cached_[b] ||
        seen[b]++ != 0 || lru_next_[lru_prev_[b]] != b) {
      return absl::InternalError(absl::StrCat("evictable list entry ", b, " is inconsistent"));
    }
    ++lru_length;
  }
  if (lru_length != num_evictable_) {
    return absl::InternalError(absl::StrCat("evictable list holds ", lru_length,
                                            " blocks but the count says ", num_evictable_));
  }
  int64_t cached = 0;
  for (KvBlockId b = 0; b < num_blocks(); ++b) {
    cached += cached_[b] ? 1 : 0;
    if (state_[b] == State::kUsed && (ref_count_[b] <= 0 || seen[b] != 0)) {
      return absl::InternalError(absl::StrCat("used block ", b, " has ref count ", ref_count_[b]));
    }
    if (state_[b] != State::kUsed && seen[b] != 1) {
      return absl::InternalError(absl::StrCat("unused block ", b, " is on no list"));
    }
  }
  if (cached != num_cached_) {
    return absl::InternalError(
        absl::StrCat(cached, " blocks are cached but the count says ", num_cached_));
  }
  return absl::OkStatus();
}

}  // namespace r1serve::engine
