#include "services/engine_common/kv_stream.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "lib/engine/format/dtype.h"
#include "services/engine_common/crc32c.h"
#include "services/engine_common/proto_conversion.h"

namespace r1serve::services {
namespace {

// Zeroes the slots of positions >= used_tokens in the block at `block` (h.block_bytes bytes,
// laid out [num_kv_heads, block_size, head_dim]), in place.
void ZeroUnusedSlots(const engine::KvHeader& h, int used_tokens, char* block) {
  if (used_tokens >= h.block_size) return;
  const size_t row_bytes =
      static_cast<size_t>(h.block_bytes) / (static_cast<size_t>(h.num_kv_heads) * h.block_size);
  for (int head = 0; head < h.num_kv_heads; ++head) {
    const size_t begin = (static_cast<size_t>(head) * h.block_size + used_tokens) * row_bytes;
    std::memset(block + begin, 0, (h.block_size - used_tokens) * row_bytes);
  }
}

}  // namespace

v1::KvHeader KvHeaderToProto(const engine::KvHeader& kv, int num_prompt_tokens,
                             uint32_t first_block, uint32_t cached_prefix_tokens) {
  v1::KvHeader header;
  header.set_model_fingerprint(kv.model_fingerprint);
  *header.mutable_kv_cache() = KvCacheSpecFromHeader(kv);
  header.set_num_prompt_tokens(static_cast<uint32_t>(num_prompt_tokens));
  header.set_num_blocks(
      static_cast<uint32_t>((num_prompt_tokens + kv.block_size - 1) / kv.block_size));
  header.set_first_block(first_block);
  header.set_cached_prefix_tokens(cached_prefix_tokens);
  return header;
}

KvChunker::KvChunker(const engine::KvHeader& header, int num_prompt_tokens, uint32_t first_block,
                     uint64_t max_chunk_bytes)
    : header_(header), num_prompt_tokens_(num_prompt_tokens), first_block_(first_block) {
  if (max_chunk_bytes == 0) max_chunk_bytes = kDefaultMaxChunkBytes;
  const uint64_t pair_bytes = 2 * static_cast<uint64_t>(header_.block_bytes);
  if (pair_bytes > 0) {
    blocks_per_chunk_ = static_cast<uint32_t>(std::max<uint64_t>(1, max_chunk_bytes / pair_bytes));
  }
}

std::vector<v1::KvChunk> KvChunker::Cut(engine::KvLayerBlocks blocks) {
  const size_t block_bytes = static_cast<size_t>(header_.block_bytes);
  const uint32_t last_block =
      static_cast<uint32_t>((num_prompt_tokens_ + header_.block_size - 1) / header_.block_size) - 1;
  std::vector<v1::KvChunk> chunks;
  uint32_t block = std::max(static_cast<uint32_t>(blocks.first_block), first_block_);
  const uint32_t end = static_cast<uint32_t>(blocks.first_block + blocks.num_blocks);
  while (block < end) {
    const uint32_t count = std::min(blocks_per_chunk_, end - block);
    const size_t offset = (block - static_cast<uint32_t>(blocks.first_block)) * block_bytes;
    const bool whole = offset == 0 && count * block_bytes == blocks.k.size();
    std::string k = whole ? std::move(blocks.k) : blocks.k.substr(offset, count * block_bytes);
    std::string v = whole ? std::move(blocks.v) : blocks.v.substr(offset, count * block_bytes);
    if (block + count - 1 == last_block) {
      const int used = num_prompt_tokens_ - static_cast<int>(last_block) * header_.block_size;
      ZeroUnusedSlots(header_, used, k.data() + k.size() - block_bytes);
      ZeroUnusedSlots(header_, used, v.data() + v.size() - block_bytes);
    }
    v1::KvChunk& chunk = chunks.emplace_back();
    chunk.set_sequence(sequence_++);
    chunk.set_layer(static_cast<uint32_t>(blocks.layer));
    chunk.set_first_block(block);
    chunk.set_num_blocks(count);
    chunk.set_crc32c(Crc32cExtend(Crc32c(k), v));
    bytes_ += k.size() + v.size();
    chunk.set_k_bytes(std::move(k));
    chunk.set_v_bytes(std::move(v));
    block += count;
  }
  return chunks;
}

KvStreamReceiver::KvStreamReceiver(engine::KvHeader ours, std::vector<int32_t> prompt, int samples)
    : ours_(std::move(ours)), samples_(std::max(samples, 1)) {
  snapshot_.header = ours_;
  snapshot_.token_ids = std::move(prompt);
}

absl::Status KvStreamReceiver::OnHeader(const v1::KvHeader& header) {
  if (header_received_) return absl::DataLossError("KV stream: a second KvHeader");
  if (header.model_fingerprint() != ours_.model_fingerprint) {
    return absl::FailedPreconditionError(absl::StrCat(
        "KV stream: model fingerprint differs: ours ", ours_.model_fingerprint, ", prefill's ",
        header.model_fingerprint(), " (the instances serve different weights)"));
  }
  if (absl::Status spec = CheckKvCacheSpec(ours_, header.kv_cache()); !spec.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("KV stream: ", spec.message()));
  }
  const uint32_t tokens = static_cast<uint32_t>(snapshot_.num_tokens());
  const uint32_t blocks = static_cast<uint32_t>(snapshot_.num_blocks());
  if (header.num_prompt_tokens() != tokens || header.num_blocks() != blocks ||
      header.first_block() != 0) {
    return absl::DataLossError(
        absl::StrCat("KV stream: header says ", header.num_prompt_tokens(), " tokens in ",
                     header.num_blocks(), " blocks from block ", header.first_block(),
                     "; expected ", tokens, " tokens in ", blocks, " blocks from block 0"));
  }
  header_ = header;
  header_received_ = true;
  // Each layer sized in place (one zeroing pass; assign() from a zeroed string would make a
  // second, copying pass over every layer).
  snapshot_.layers.resize(static_cast<size_t>(ours_.num_layers));
  for (std::string& layer : snapshot_.layers) {
    layer.resize(2 * blocks * static_cast<size_t>(ours_.block_bytes));
  }
  received_.assign(static_cast<size_t>(ours_.num_layers) * blocks, false);
  return absl::OkStatus();
}

absl::Status KvStreamReceiver::OnChunk(const v1::KvChunk& chunk) {
  if (!header_received_) return absl::DataLossError("KV stream: a KvChunk before the KvHeader");
  if (chunk.sequence() != next_sequence_) {
    return absl::DataLossError(absl::StrCat("KV stream: chunk sequence ", chunk.sequence(),
                                            " where ", next_sequence_,
                                            " was due (chunks lost or reordered)"));
  }
  ++next_sequence_;
  const uint32_t blocks = header_.num_blocks();
  if (chunk.layer() >= static_cast<uint32_t>(ours_.num_layers) || chunk.num_blocks() == 0 ||
      chunk.first_block() < header_.first_block() || chunk.first_block() >= blocks ||
      chunk.num_blocks() > blocks - chunk.first_block()) {
    return absl::DataLossError(absl::StrCat("KV stream: chunk ", chunk.sequence(), " names layer ",
                                            chunk.layer(), " blocks [", chunk.first_block(), ", +",
                                            chunk.num_blocks(), ") outside the header's range"));
  }
  const size_t block_bytes = static_cast<size_t>(ours_.block_bytes);
  const size_t want = chunk.num_blocks() * block_bytes;
  if (chunk.k_bytes().size() != want || chunk.v_bytes().size() != want) {
    return absl::DataLossError(absl::StrCat("KV stream: chunk ", chunk.sequence(), " holds ",
                                            chunk.k_bytes().size(), "+", chunk.v_bytes().size(),
                                            " bytes; ", want, "+", want, " expected"));
  }
  const uint32_t crc = Crc32cExtend(Crc32c(chunk.k_bytes()), chunk.v_bytes());
  if (crc != chunk.crc32c()) {
    return absl::DataLossError(absl::StrCat("KV stream: chunk ", chunk.sequence(), " (layer ",
                                            chunk.layer(), ") failed its CRC32C check"));
  }
  std::string& layer = snapshot_.layers[chunk.layer()];
  for (uint32_t i = 0; i < chunk.num_blocks(); ++i) {
    const size_t slot = size_t{chunk.layer()} * blocks + chunk.first_block() + i;
    if (received_[slot]) {
      return absl::DataLossError(absl::StrCat("KV stream: layer ", chunk.layer(), " block ",
                                              chunk.first_block() + i, " received twice"));
    }
    received_[slot] = true;
  }
  std::memcpy(layer.data() + chunk.first_block() * block_bytes, chunk.k_bytes().data(), want);
  std::memcpy(layer.data() + (blocks + chunk.first_block()) * block_bytes, chunk.v_bytes().data(),
              want);
  bytes_ += 2 * want;
  return absl::OkStatus();
}

absl::Status KvStreamReceiver::OnFirstToken(const v1::FirstToken& first_token) {
  if (!header_received_) return absl::DataLossError("KV stream: FirstToken before the KvHeader");
  if (!snapshot_.first_tokens.empty()) return absl::DataLossError("KV stream: a second FirstToken");
  if (first_token.tokens_size() != samples_) {
    return absl::DataLossError(absl::StrCat("KV stream: FirstToken carries ",
                                            first_token.tokens_size(), " tokens for ", samples_,
                                            " samples"));
  }
  for (const v1::TokenLogprob& t : first_token.tokens()) {
    snapshot_.first_tokens.push_back(SampledTokenFromProto(t));
  }
  return absl::OkStatus();
}

absl::Status KvStreamReceiver::OnTrailer(const v1::PrefillTrailer& trailer) {
  if (!header_received_) return absl::DataLossError("KV stream: trailer before the KvHeader");
  if (trailer.num_chunks() != next_sequence_ || trailer.kv_bytes() != bytes_) {
    return absl::DataLossError(absl::StrCat("KV stream: trailer counts ", trailer.num_chunks(),
                                            " chunks / ", trailer.kv_bytes(), " bytes; received ",
                                            next_sequence_, " / ", bytes_));
  }
  if (std::find(received_.begin(), received_.end(), false) != received_.end()) {
    return absl::DataLossError("KV stream: ended with (layer, block) pairs missing");
  }
  if (snapshot_.first_tokens.empty()) return absl::DataLossError("KV stream: no FirstToken");
  return absl::OkStatus();
}

}  // namespace r1serve::services
