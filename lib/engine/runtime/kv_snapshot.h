// KvSnapshot: the KV cache of one sequence's first tokens, taken out of one engine and put into
// another (the prefill -> decode handoff), with the compatibility header that says whether the
// receiving engine can use it. The bytes are the backend's cache blocks as they are (dtype and
// block layout of the cache), one string per layer, so that a service can send them layer by
// layer, each as one chunk.
//
//   // prefill instance: the request's last event carries the snapshot (RequestOptions.export_kv)
//   std::shared_ptr<const KvSnapshot> kv = event.kv;
//   // decode instance:
//   RETURN_IF_ERROR(CheckKvCompatible(decode_engine.kv_header(), kv->header));
//   ASSIGN_OR_RETURN(RequestId id, decode_engine.ImportRequest(prompt, params, *kv));
//
// Layout of layers[l]: the num_blocks() blocks of K, then as many blocks of V, each
// header.block_bytes bytes ([num_kv_heads, block_size, head_dim] in header.dtype), block j
// holding positions [j * block_size, (j + 1) * block_size). Slots at positions >= num_tokens in
// the last block hold whatever the exporter's cache held there: they are never read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "lib/engine/format/dtype.h"
#include "lib/engine/sampler/sequence_sampler.h"

namespace r1serve::engine {

// What two engines must agree on to exchange KV: the same weights (model fingerprint) and the
// same cache geometry.
struct KvHeader {
  std::string model_fingerprint;  // Model::fingerprint(), 64 hex digits
  DType dtype = DType::kF16;      // of the cached K/V values
  int block_size = 0;             // tokens per block
  int num_layers = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  int64_t block_bytes = 0;  // one block of K (or V) of one layer

  friend bool operator==(const KvHeader&, const KvHeader&) = default;
};

struct KvSnapshot {
  KvHeader header;
  // Positions [0, num_tokens) hold KV; token_ids are the tokens at those positions (the prompt).
  std::vector<int32_t> token_ids;
  std::vector<std::string> layers;  // [num_layers], see the file comment
  // The tokens sampled from the logits after the last position, one per sample of the request
  // (SamplingParams.n), with their logprobs when asked for. Empty when nothing was sampled.
  std::vector<SampledToken> first_tokens;

  int num_tokens() const { return static_cast<int>(token_ids.size()); }
  int num_blocks() const {
    return header.block_size == 0 ? 0 : (num_tokens() + header.block_size - 1) / header.block_size;
  }
};

// OK when a snapshot made under `theirs` can be imported where `ours` holds; else
// FAILED_PRECONDITION naming every field that differs (ours vs theirs).
absl::Status CheckKvCompatible(const KvHeader& ours, const KvHeader& theirs);

// Checks the snapshot's own consistency: a compatible header, token ids, one layer string of
// 2 * num_blocks() * block_bytes bytes per layer. INVALID_ARGUMENT naming what is wrong.
absl::Status CheckKvSnapshot(const KvHeader& ours, const KvSnapshot& snapshot);

}  // namespace r1serve::engine
