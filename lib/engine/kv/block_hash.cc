#include "lib/engine/kv/block_hash.h"

namespace r1serve::engine {
namespace {

// One byte at a time on purpose: the definition is over little-endian bytes, and spelling the
// bytes out keeps the result the same on any host.
inline uint64_t MixByte(uint64_t h, uint8_t byte) { return (h ^ byte) * kFnv1a64Prime; }

inline uint64_t MixU64(uint64_t h, uint64_t value) {
  for (int shift = 0; shift < 64; shift += 8) h = MixByte(h, static_cast<uint8_t>(value >> shift));
  return h;
}

inline uint64_t MixI32(uint64_t h, int32_t value) {
  const uint32_t bits = static_cast<uint32_t>(value);
  for (int shift = 0; shift < 32; shift += 8) h = MixByte(h, static_cast<uint8_t>(bits >> shift));
  return h;
}

}  // namespace

uint64_t Fnv1a64(absl::Span<const uint8_t> bytes, uint64_t state) {
  for (uint8_t byte : bytes) state = MixByte(state, byte);
  return state;
}

uint64_t ChainBlockHash(std::optional<uint64_t> parent, absl::Span<const int32_t> block_ids) {
  uint64_t h = kFnv1a64OffsetBasis;
  if (parent.has_value()) h = MixU64(h, *parent);
  for (int32_t id : block_ids) h = MixI32(h, id);
  return h;
}

std::vector<uint64_t> BlockHashChain(absl::Span<const int32_t> token_ids, int block_size) {
  std::vector<uint64_t> chain;
  if (block_size <= 0) return chain;
  const size_t num_full = token_ids.size() / static_cast<size_t>(block_size);
  chain.reserve(num_full);
  std::optional<uint64_t> parent;
  for (size_t i = 0; i < num_full; ++i) {
    parent = ChainBlockHash(parent, token_ids.subspan(i * block_size, block_size));
    chain.push_back(*parent);
  }
  return chain;
}

}  // namespace r1serve::engine
