#include "lib/engine/kv/block_table.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace r1serve::engine {
namespace {

int CeilDiv(int a, int b) { return (a + b - 1) / b; }

}  // namespace

BlockTable::BlockTable(KvBlockAllocator* allocator) : allocator_(allocator) {}

BlockTable::~BlockTable() { Release().IgnoreError(); }

BlockTable::BlockTable(BlockTable&& other) noexcept
    : allocator_(other.allocator_),
      blocks_(std::exchange(other.blocks_, {})),
      num_tokens_(std::exchange(other.num_tokens_, 0)) {}

BlockTable& BlockTable::operator=(BlockTable&& other) noexcept {
  if (this != &other) {
    Release().IgnoreError();
    allocator_ = other.allocator_;
    blocks_ = std::exchange(other.blocks_, {});
    num_tokens_ = std::exchange(other.num_tokens_, 0);
  }
  return *this;
}

int BlockTable::NumBlocksToAppend(int num_tokens) const {
  if (num_tokens <= 0) return 0;
  const bool copy_last =
      num_tokens_ % block_size() != 0 && allocator_->ref_count(blocks_.back()) > 1;
  return (copy_last ? 1 : 0) + CeilDiv(num_tokens_ + num_tokens, block_size()) - num_blocks();
}

absl::Status BlockTable::AppendTokens(int num_tokens, std::vector<BlockCopy>* copies) {
  if (num_tokens < 0) {
    return absl::InvalidArgumentError(absl::StrCat("cannot append ", num_tokens, " tokens"));
  }
  const int needed = NumBlocksToAppend(num_tokens);
  if (needed > allocator_->num_available()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("appending ", num_tokens, " tokens needs ", needed, " KV blocks but only ",
                     allocator_->num_available(), " are available"));
  }
  // From here on every Allocate() succeeds: `needed` blocks are available and nothing else
  // allocates in between.
  if (num_tokens > 0 && num_tokens_ % block_size() != 0 &&
      allocator_->ref_count(blocks_.back()) > 1) {
    absl::StatusOr<KvBlockId> fresh = allocator_->Allocate();
    if (!fresh.ok()) return fresh.status();
    const KvBlockId shared = blocks_.back();
    copies->push_back({shared, *fresh});
    blocks_.back() = *fresh;
    if (absl::Status s = allocator_->Release(shared); !s.ok()) return s;
  }
  const int target_blocks = CeilDiv(num_tokens_ + num_tokens, block_size());
  while (num_blocks() < target_blocks) {
    absl::StatusOr<KvBlockId> fresh = allocator_->Allocate();
    if (!fresh.ok()) return fresh.status();
    blocks_.push_back(*fresh);
  }
  num_tokens_ += num_tokens;
  return absl::OkStatus();
}

absl::Status BlockTable::AppendCachedBlocks(absl::Span<const KvBlockId> blocks) {
  if (num_tokens_ % block_size() != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cached blocks can only follow full blocks; the table holds ", num_tokens_, " tokens"));
  }
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (absl::Status s = allocator_->AddRef(blocks[i]); !s.ok()) {
      for (size_t j = 0; j < i; ++j) allocator_->Release(blocks[j]).IgnoreError();
      return s;
    }
  }
  blocks_.insert(blocks_.end(), blocks.begin(), blocks.end());
  num_tokens_ += static_cast<int>(blocks.size()) * block_size();
  return absl::OkStatus();
}

absl::StatusOr<BlockTable> BlockTable::Fork() const {
  BlockTable child(allocator_);
  for (KvBlockId block : blocks_) {
    // `child` releases what it took so far if this fails.
    if (absl::Status s = allocator_->AddRef(block); !s.ok()) return s;
    child.blocks_.push_back(block);
  }
  child.num_tokens_ = num_tokens_;
  return child;
}

absl::Status BlockTable::Release() {
  absl::Status status;
  for (auto it = blocks_.rbegin(); it != blocks_.rend(); ++it) {
    status.Update(allocator_->Release(*it));
  }
  blocks_.clear();
  num_tokens_ = 0;
  return status;
}

}  // namespace r1serve::engine
