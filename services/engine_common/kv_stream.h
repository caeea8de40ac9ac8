// The two ends of a Prefill call's KV stream (prefill.proto), as plain logic with no sockets:
// KvChunker cuts the engine's streamed layer blocks into KvChunks; KvStreamReceiver checks and
// assembles what arrives (header, chunks, first token, trailer) back into a KvSnapshot for
// Engine::ImportRequest. Every check the contract asks for is here, so it is tested here.
//
//   // prefill
//   KvChunker chunker(engine.kv_header(), prompt.size(), /*first_block=*/0, max_chunk_bytes);
//   for (v1::KvChunk& chunk : chunker.Cut(layer_blocks)) Send(std::move(chunk));
//   // decode
//   KvStreamReceiver receiver(engine.kv_header(), prompt, sampling.n);
//   RETURN_IF_ERROR(receiver.OnHeader(response.header()));  // ... OnChunk, OnFirstToken
//   RETURN_IF_ERROR(receiver.OnTrailer(response.trailer()));
//   engine::KvSnapshot snapshot = receiver.TakeSnapshot();
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "lib/engine/runtime/engine.h"
#include "lib/engine/runtime/kv_snapshot.h"
#include "r1serve/v1/prefill.pb.h"

namespace r1serve::services {

inline constexpr uint64_t kDefaultMaxChunkBytes = uint64_t{1} << 20;

// The KvHeader message of the stream of a prompt's KV.
v1::KvHeader KvHeaderToProto(const engine::KvHeader& header, int num_prompt_tokens,
                             uint32_t first_block, uint32_t cached_prefix_tokens);

class KvChunker {
 public:
  // For a prompt of num_prompt_tokens whose blocks [first_block, ...) are sent; each chunk at
  // most max_chunk_bytes of K plus V (0: kDefaultMaxChunkBytes) but always at least one block.
  KvChunker(const engine::KvHeader& header, int num_prompt_tokens, uint32_t first_block,
            uint64_t max_chunk_bytes);

  // Cuts one layer's blocks (Engine's kv_sink, or a snapshot's layer) into chunks, with their
  // sequence numbers and CRC32C. Blocks before first_block are left out; slots past the prompt
  // in its last block are sent as zeros (the contract's promise). Blocks that make exactly one
  // chunk move into it without a copy (RequestOptions::kv_sink_max_blocks = blocks_per_chunk()).
  std::vector<v1::KvChunk> Cut(engine::KvLayerBlocks blocks);

  // The most blocks one chunk holds.
  uint32_t blocks_per_chunk() const { return blocks_per_chunk_; }
  uint64_t chunks_sent() const { return sequence_; }
  uint64_t bytes_sent() const { return bytes_; }

 private:
  const engine::KvHeader header_;
  const int num_prompt_tokens_;
  const uint32_t first_block_;
  uint32_t blocks_per_chunk_ = 1;
  uint64_t sequence_ = 0;
  uint64_t bytes_ = 0;
};

class KvStreamReceiver {
 public:
  // `ours`: the receiving engine's header; `prompt`: the tokens whose KV is expected; `samples`:
  // how many first tokens (SamplingParams.n, at least 1).
  KvStreamReceiver(engine::KvHeader ours, std::vector<int32_t> prompt, int samples);

  // FAILED_PRECONDITION when the model fingerprint or cache geometry differs (naming the
  // field), DATA_LOSS when the header's counts disagree with the prompt or come twice.
  absl::Status OnHeader(const v1::KvHeader& header);
  // DATA_LOSS for a gap or repeat in sequence numbers, a checksum mismatch, a block outside the
  // header's range or received twice, or wrong byte sizes.
  absl::Status OnChunk(const v1::KvChunk& chunk);
  // DATA_LOSS unless exactly `samples` tokens, once.
  absl::Status OnFirstToken(const v1::FirstToken& first_token);
  // DATA_LOSS when chunks or bytes are missing (the trailer's totals, every (layer, block)).
  absl::Status OnTrailer(const v1::PrefillTrailer& trailer);

  bool header_received() const { return header_received_; }
  bool first_token_received() const { return !snapshot_.first_tokens.empty(); }
  uint64_t bytes_received() const { return bytes_; }
  const v1::KvHeader& header() const { return header_; }

  // After OnTrailer succeeded: the assembled snapshot (prompt, KV, first tokens).
  engine::KvSnapshot TakeSnapshot() { return std::move(snapshot_); }

 private:
  const engine::KvHeader ours_;
  const int samples_;
  engine::KvSnapshot snapshot_;
  v1::KvHeader header_;
  bool header_received_ = false;
  uint64_t next_sequence_ = 0;
  uint64_t bytes_ = 0;
  std::vector<bool> received_;  // [num_layers * num_blocks]
};

}  // namespace r1serve::services
