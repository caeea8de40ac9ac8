// The two ends of a Prefill call's KV stream (prefill.proto), as plain logic with no sockets:
// KvChunker cuts an engine's KvSnapshot into KvChunks; KvStreamReceiver checks and assembles
// what arrives (header, chunks, first token, trailer) back into a KvSnapshot for
// Engine::ImportRequest. Every check the contract asks for is here, so it is tested here.
//
//   // prefill
//   KvChunker chunker(snapshot, /*first_block=*/0, max_chunk_bytes);
//   while (std::optional<v1::KvChunk> chunk = chunker.Next()) Send(*chunk);
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
#include "lib/engine/runtime/kv_snapshot.h"
#include "r1serve/v1/prefill.pb.h"

namespace r1serve::services {

inline constexpr uint64_t kDefaultMaxChunkBytes = uint64_t{1} << 20;

// The KvHeader message of a snapshot's stream.
v1::KvHeader KvHeaderToProto(const engine::KvSnapshot& snapshot, uint32_t first_block,
                             uint32_t cached_prefix_tokens);

class KvChunker {
 public:
  // Sends blocks [first_block, num_blocks) of every layer, layer by layer, each chunk at most
  // max_chunk_bytes of K plus V (0: kDefaultMaxChunkBytes) but always at least one block.
  // Slots past the prompt in its last block are sent as zeros (the contract's promise).
  KvChunker(std::shared_ptr<const engine::KvSnapshot> snapshot, uint32_t first_block,
            uint64_t max_chunk_bytes);

  // The next chunk, with its sequence number and CRC32C; nullopt after the last one.
  std::optional<v1::KvChunk> Next();

  uint64_t chunks_sent() const { return sequence_; }
  uint64_t bytes_sent() const { return bytes_; }

 private:
  const std::shared_ptr<const engine::KvSnapshot> snapshot_;
  const uint32_t first_block_;
  const uint32_t num_blocks_;
  uint32_t blocks_per_chunk_ = 1;
  int layer_ = 0;
  uint32_t next_block_ = 0;
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
