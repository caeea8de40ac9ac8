// Routing hashes of KV blocks: the FNV-1a-64 hash chain that proto/r1serve/v1/common.proto
// (PrefixCacheSummary.block_hashes) defines. An engine reports the hashes of the full blocks its
// prefix cache holds; the gateway hashes a prompt's leading full blocks the same way and routes to
// the instance holding the longest chain. Both sides link this file, so they cannot drift apart.
//
//   std::vector<uint64_t> chain = BlockHashChain(prompt_ids, /*block_size=*/16);
//   // chain[i] identifies the whole prefix prompt_ids[0, 16 * (i + 1)).
//
// Definition (byte-exact, endian-independent):
//   FNV-1a-64: h = 0xcbf29ce484222325; for each byte b: h ^= b; h *= 0x100000001b3 (mod 2^64).
//   hash(block 0) = FNV-1a-64(ids of block 0)
//   hash(block i) = FNV-1a-64(hash(block i-1) as 8 little-endian bytes, then ids of block i)
//   where a block's ids are its block_size token ids, each as a 4-byte little-endian two's
//   complement integer. Only full blocks have a hash; a trailing partial block has none.
//
// FNV is fast and well spread but not collision resistant: these hashes route; they never decide
// by themselves that two prefixes are equal (PrefixCache verifies the token ids on every hit).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/types/span.h"

namespace r1serve::engine {

inline constexpr uint64_t kFnv1a64OffsetBasis = 0xcbf29ce484222325ULL;
inline constexpr uint64_t kFnv1a64Prime = 0x100000001b3ULL;

// Continues an FNV-1a-64 hash `state` over `bytes`. Start from kFnv1a64OffsetBasis.
uint64_t Fnv1a64(absl::Span<const uint8_t> bytes, uint64_t state = kFnv1a64OffsetBasis);

// The chained hash of one full block: `parent` is the previous block's hash, nullopt for block 0.
// `block_ids` must hold exactly one block's token ids (the caller knows the block size).
uint64_t ChainBlockHash(std::optional<uint64_t> parent, absl::Span<const int32_t> block_ids);

// Hashes of every full leading block of `token_ids` (token_ids.size() / block_size of them).
// `block_size` must be positive.
std::vector<uint64_t> BlockHashChain(absl::Span<const int32_t> token_ids, int block_size);

}  // namespace r1serve::engine
