// ModelRunner: the forward pass of a dense decoder-only transformer (Qwen2, Llama 3) over one
// step's batch: sequences of different lengths flattened into one run of rows, no padding, each
// reading and writing its KV through its block table. The pass is written as straight lines of
// backend ops (llama2.c style); the speed lives in the backend's kernels.
//
//   std::unique_ptr<Backend> backend = CreateCpuBackend({.num_threads = 2});
//   RETURN_IF_ERROR(backend->AllocateKvCache(spec));
//   ASSIGN_OR_RETURN(std::unique_ptr<ModelRunner> runner,
//                    ModelRunner::Create(model, backend.get(), {.max_batch_tokens = 2048}));
//   std::vector<SequenceChunk> chunks = {
//       {.token_ids = prompt, .start_position = 0, .block_table = blocks, .wants_logits = true}};
//   ASSIGN_OR_RETURN(std::span<const float> logits, runner->Forward(chunks));
//   // logits: [chunks wanting logits, vocab], in chunk order
//
// Per layer, for the T rows of the batch (shapes outermost first):
//   xb = rmsnorm(x) · attn_norm                     x, xb   [T, hidden]
//   q, k, v = xb · wq^T + bq, xb · wk^T + bk, ...   q [T, heads, head_dim], k, v [T, kv_heads,
//   head_dim] rope(q), rope(k)                                NEOX pairs (i, i + head_dim/2)
//   cache[layer] <- k, v at each row's slot
//   attn = causal attention of q over the cache      [T, heads, head_dim]
//   x += attn · wo^T
//   xb = rmsnorm(x) · ffn_norm
//   x += (silu(xb · w_gate^T) * (xb · w_up^T)) · w_down^T
// then only the rows whose logits are wanted: rmsnorm · output_norm, · output^T, to the host.
//
// Not thread-safe: one caller (the engine's step) at a time. The model and the backend must
// outlive the runner; the backend's KV cache must be allocated before the first Forward.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/engine/backend/backend.h"
#include "lib/engine/format/model.h"

namespace r1serve::engine {

struct ModelRunnerOptions {
  // Most rows (tokens) in one forward pass: the activation buffers are sized for it once.
  int max_batch_tokens = 2048;
  // Most rows whose logits one pass returns (sampling sequences of a step).
  int max_logit_rows = 256;
};

// One sequence's share of a forward pass: the tokens at positions
// [start_position, start_position + token_ids.size()), whose KV the pass computes and stores.
struct SequenceChunk {
  std::span<const int32_t> token_ids;
  int32_t start_position = 0;
  // Physical KV blocks of positions [0, start_position + token_ids.size()), in order.
  std::span<const int32_t> block_table;
  // Return the logits of this chunk's last row (the next token's distribution).
  bool wants_logits = false;
};

class ModelRunner {
 public:
  // Uploads the weights (on the CPU: views of the mapped file) and allocates the activation
  // buffers for `options`. INVALID_ARGUMENT when the backend's KV cache does not match the
  // model (layers, KV heads, head size) or the options are not positive.
  static absl::StatusOr<std::unique_ptr<ModelRunner>> Create(const Model& model, Backend* backend,
                                                             const ModelRunnerOptions& options);

  ModelRunner(const ModelRunner&) = delete;
  ModelRunner& operator=(const ModelRunner&) = delete;

  // Computes the chunks' KV and the logits of those that want them: [num wanting, vocab_size]
  // row-major, in chunk order, in host memory owned by the runner and valid until the next call.
  // INVALID_ARGUMENT for a batch beyond the options, an empty chunk, a token outside the
  // vocabulary, or a block table too short for its positions.
  // `on_kv_written`, when set, is called with each layer's index as soon as that layer's KV of
  // every chunk is in the cache (before its attention runs), so that a caller can send the KV
  // out while later layers compute (the prefill -> decode stream).
  absl::StatusOr<std::span<float>> Forward(
      std::span<const SequenceChunk> chunks,
      const std::function<void(int layer)>& on_kv_written = nullptr);

  const ModelRunnerOptions& options() const { return options_; }

 private:
  // The backend's copies of one layer's weights.
  struct LayerWeights {
    Weight attn_norm, wq, wk, wv, wo, ffn_norm, w_gate, w_up, w_down;
    Weight bq, bk, bv;  // used when has_bias
    bool has_bias = false;
  };

  ModelRunner(const Model& model, Backend* backend, const ModelRunnerOptions& options);
  absl::Status UploadWeights();
  absl::Status AllocateActivations();
  // Fills batch_, ids_ and logit_rows_ from the chunks, checking them.
  absl::Status Layout(std::span<const SequenceChunk> chunks);

  const Model& model_;
  const ModelConfig& config_;
  Backend* backend_;
  const ModelRunnerOptions options_;
  std::vector<float> inv_freq_;  // [head_dim / 2] rotary frequencies

  Weight token_embd_, output_norm_, output_;
  std::vector<LayerWeights> layers_;

  // Activations, allocated once for max_batch_tokens rows (T) / max_logit_rows rows (R).
  DeviceBuffer x_;                  // [T, hidden] the residual stream
  DeviceBuffer xb_;                 // [T, hidden] normalized input of a sublayer
  DeviceBuffer q_;                  // [T, heads, head_dim]
  DeviceBuffer k_;                  // [T, kv_heads, head_dim]
  DeviceBuffer v_;                  // [T, kv_heads, head_dim]
  DeviceBuffer attn_;               // [T, heads, head_dim]
  DeviceBuffer out_;                // [T, hidden] a sublayer's output before the residual add
  DeviceBuffer gate_;               // [T, intermediate]
  DeviceBuffer up_;                 // [T, intermediate]
  DeviceBuffer last_;               // [R, hidden] the rows whose logits are wanted
  DeviceBuffer logits_;             // [R, vocab]
  std::vector<float> host_logits_;  // [R, vocab]

  // The current batch (host side).
  BatchLayout batch_;
  std::vector<int32_t> ids_;         // [T]
  std::vector<int32_t> logit_rows_;  // [R] batch rows whose logits are wanted
};

}  // namespace r1serve::engine
