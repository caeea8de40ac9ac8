#include "lib/engine/runtime/model_runner.h"

#include <cmath>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"

namespace r1serve::engine {

absl::StatusOr<std::unique_ptr<ModelRunner>> ModelRunner::Create(
    const Model& model, Backend* backend, const ModelRunnerOptions& options) {
  const ModelConfig& c = model.config();
  if (options.max_batch_tokens < 1 || options.max_logit_rows < 1) {
    return absl::InvalidArgumentError(absl::StrCat("max_batch_tokens (", options.max_batch_tokens,
                                                   ") and max_logit_rows (", options.max_logit_rows,
                                                   ") must be >= 1"));
  }
  const KvCacheSpec& kv = backend->kv_spec();
  if (kv.num_layers != c.num_layers || kv.num_kv_heads != c.num_kv_heads ||
      kv.head_dim != c.head_dim || kv.num_blocks < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the backend's KV cache (", kv.num_layers, " layers, ", kv.num_kv_heads, " KV heads of ",
        kv.head_dim, ", ", kv.num_blocks, " blocks) does not fit the model (", c.num_layers,
        " layers, ", c.num_kv_heads, " KV heads of ", c.head_dim, "): allocate it first"));
  }
  std::unique_ptr<ModelRunner> runner(new ModelRunner(model, backend, options));
  RETURN_IF_ERROR(runner->UploadWeights());
  RETURN_IF_ERROR(runner->AllocateActivations());
  return runner;
}

ModelRunner::ModelRunner(const Model& model, Backend* backend, const ModelRunnerOptions& options)
    : model_(model),
      config_(model.config()),
      backend_(backend),
      options_(options),
      inv_freq_(model.config().RopeInverseFrequencies()) {}

absl::Status ModelRunner::UploadWeights() {
  // A backend that copies a weight (a GPU's device memory, the CPU's packed Q8_0) no longer
  // reads the file's bytes: their pages leave the resident set.
  const auto upload = [this](const TensorView& tensor,
                             WeightUse use = WeightUse::kMatMul) -> absl::StatusOr<Weight> {
    ASSIGN_OR_RETURN(Weight weight, backend_->UploadWeight(tensor, use));
    if (weight.owner != nullptr) model_.ReleaseTensorPages(tensor);
    return weight;
  };
  const bool tied = &model_.output() == &model_.token_embd();
  ASSIGN_OR_RETURN(token_embd_,
                   upload(model_.token_embd(), tied ? WeightUse::kMatMul : WeightUse::kLookup));
  ASSIGN_OR_RETURN(output_norm_, upload(model_.output_norm(), WeightUse::kLookup));
  if (tied) {
    output_ = token_embd_;  // tied: one copy on a device, not two
  } else {
    ASSIGN_OR_RETURN(output_, upload(model_.output()));
  }
  layers_.resize(static_cast<size_t>(config_.num_layers));
  for (int64_t l = 0; l < config_.num_layers; ++l) {
    const engine::LayerWeights& in = model_.layer(l);
    LayerWeights& w = layers_[static_cast<size_t>(l)];
    ASSIGN_OR_RETURN(w.attn_norm, upload(*in.attn_norm, WeightUse::kLookup));
    ASSIGN_OR_RETURN(w.wq, upload(*in.wq));
    ASSIGN_OR_RETURN(w.wk, upload(*in.wk));
    ASSIGN_OR_RETURN(w.wv, upload(*in.wv));
    ASSIGN_OR_RETURN(w.wo, upload(*in.wo));
    ASSIGN_OR_RETURN(w.ffn_norm, upload(*in.ffn_norm, WeightUse::kLookup));
    ASSIGN_OR_RETURN(w.w_gate, upload(*in.w_gate));
    ASSIGN_OR_RETURN(w.w_up, upload(*in.w_up));
    ASSIGN_OR_RETURN(w.w_down, upload(*in.w_down));
    w.has_bias = in.bq != nullptr;
    if (w.has_bias) {
      ASSIGN_OR_RETURN(w.bq, upload(*in.bq, WeightUse::kLookup));
      ASSIGN_OR_RETURN(w.bk, upload(*in.bk, WeightUse::kLookup));
      ASSIGN_OR_RETURN(w.bv, upload(*in.bv, WeightUse::kLookup));
    }
  }
  return absl::OkStatus();
}

absl::Status ModelRunner::AllocateActivations() {
  const size_t t = static_cast<size_t>(options_.max_batch_tokens);
  const size_t r = static_cast<size_t>(options_.max_logit_rows);
  const size_t f = sizeof(float);
  const size_t hidden = static_cast<size_t>(config_.hidden_size);
  ASSIGN_OR_RETURN(x_, backend_->Allocate(t * hidden * f));
  ASSIGN_OR_RETURN(xb_, backend_->Allocate(t * hidden * f));
  ASSIGN_OR_RETURN(q_, backend_->Allocate(t * static_cast<size_t>(config_.q_dim()) * f));
  ASSIGN_OR_RETURN(k_, backend_->Allocate(t * static_cast<size_t>(config_.kv_dim()) * f));
  ASSIGN_OR_RETURN(v_, backend_->Allocate(t * static_cast<size_t>(config_.kv_dim()) * f));
  ASSIGN_OR_RETURN(attn_, backend_->Allocate(t * static_cast<size_t>(config_.q_dim()) * f));
  ASSIGN_OR_RETURN(out_, backend_->Allocate(t * hidden * f));
  ASSIGN_OR_RETURN(gate_,
                   backend_->Allocate(t * static_cast<size_t>(config_.intermediate_size) * f));
  ASSIGN_OR_RETURN(up_, backend_->Allocate(t * static_cast<size_t>(config_.intermediate_size) * f));
  ASSIGN_OR_RETURN(last_, backend_->Allocate(r * hidden * f));
  ASSIGN_OR_RETURN(logits_, backend_->Allocate(r * static_cast<size_t>(config_.vocab_size) * f));
  host_logits_.resize(r * static_cast<size_t>(config_.vocab_size));
  ids_.reserve(t);
  batch_.positions.reserve(t);
  batch_.kv_slots.reserve(t);
  logit_rows_.reserve(r);
  return absl::OkStatus();
}

absl::Status ModelRunner::Layout(std::span<const SequenceChunk> chunks) {
  const int block_size = backend_->kv_spec().block_size;
  const int num_blocks = backend_->kv_spec().num_blocks;
  batch_.num_rows = 0;
  batch_.sequences.clear();
  batch_.positions.clear();
  batch_.kv_slots.clear();
  ids_.clear();
  logit_rows_.clear();
  for (size_t i = 0; i < chunks.size(); ++i) {
    const SequenceChunk& chunk = chunks[i];
    const int64_t rows = static_cast<int64_t>(chunk.token_ids.size());
    const int64_t end = chunk.start_position + rows;
    if (rows == 0 || chunk.start_position < 0) {
      return absl::InvalidArgumentError(absl::StrCat("chunk ", i, " has no tokens"));
    }
    if (batch_.num_rows + rows > options_.max_batch_tokens) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the batch has more than max_batch_tokens = ", options_.max_batch_tokens, " rows"));
    }
    if (static_cast<int64_t>(chunk.block_table.size()) * block_size < end) {
      return absl::InvalidArgumentError(absl::StrCat("chunk ", i, ": ", chunk.block_table.size(),
                                                     " KV blocks of ", block_size,
                                                     " cannot hold positions up to ", end));
    }
    for (int32_t block : chunk.block_table) {
      if (block < 0 || block >= num_blocks) {
        return absl::InvalidArgumentError(
            absl::StrCat("chunk ", i, ": KV block ", block, " is outside [0, ", num_blocks, ")"));
      }
    }
    batch_.sequences.push_back(SequenceSlice{
        .first_row = batch_.num_rows,
        .num_rows = static_cast<int>(rows),
        .start_position = chunk.start_position,
        .block_table = chunk.block_table.data(),
        .num_blocks = static_cast<int>(chunk.block_table.size()),
    });
    for (int64_t r = 0; r < rows; ++r) {
      const int32_t token = chunk.token_ids[static_cast<size_t>(r)];
      if (token < 0 || token >= config_.vocab_size) {
        return absl::InvalidArgumentError(absl::StrCat("chunk ", i, ": token ", token,
                                                       " is outside the vocabulary [0, ",
                                                       config_.vocab_size, ")"));
      }
      const int32_t position = static_cast<int32_t>(chunk.start_position + r);
      ids_.push_back(token);
      batch_.positions.push_back(position);
      batch_.kv_slots.push_back(chunk.block_table[static_cast<size_t>(position / block_size)] *
                                    block_size +
                                position % block_size);
    }
    batch_.num_rows += static_cast<int>(rows);
    if (chunk.wants_logits) {
      if (static_cast<int>(logit_rows_.size()) == options_.max_logit_rows) {
        return absl::InvalidArgumentError(absl::StrCat(
            "more than max_logit_rows = ", options_.max_logit_rows, " chunks want logits"));
      }
      logit_rows_.push_back(batch_.num_rows - 1);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::span<float>> ModelRunner::Forward(
    std::span<const SequenceChunk> chunks, const std::function<void(int layer)>& on_kv_written) {
  RETURN_IF_ERROR(Layout(chunks));
  Backend& b = *backend_;
  const int t = batch_.num_rows;
  const int64_t hidden = config_.hidden_size;
  const int64_t intermediate = config_.intermediate_size;
  const int heads = static_cast<int>(config_.num_heads);
  const int kv_heads = static_cast<int>(config_.num_kv_heads);
  const int head_dim = static_cast<int>(config_.head_dim);
  const float eps = static_cast<float>(config_.rms_norm_eps);
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  float* x = x_.f32();
  float* xb = xb_.f32();
  float* q = q_.f32();
  float* k = k_.f32();
  float* v = v_.f32();
  float* attn = attn_.f32();
  float* out = out_.f32();
  float* gate = gate_.f32();
  float* up = up_.f32();

  b.Embed(token_embd_, ids_, x);
  for (int layer = 0; layer < static_cast<int>(layers_.size()); ++layer) {
    const LayerWeights& w = layers_[static_cast<size_t>(layer)];
    // Attention.
    b.RmsNorm(x, w.attn_norm, t, eps, xb);
    b.MatMul(w.wq, xb, t, q, w.has_bias ? &w.bq : nullptr);
    b.MatMul(w.wk, xb, t, k, w.has_bias ? &w.bk : nullptr);
    b.MatMul(w.wv, xb, t, v, w.has_bias ? &w.bv : nullptr);
    b.Rope(q, batch_, heads, head_dim, inv_freq_);
    b.Rope(k, batch_, kv_heads, head_dim, inv_freq_);
    b.WriteKv(layer, k, v, batch_);
    if (on_kv_written) on_kv_written(layer);
    b.Attention(layer, q, batch_, heads, scale, attn);
    b.MatMul(w.wo, attn, t, out, nullptr);
    b.Add(x, out, t * hidden);
    // Feed-forward (SwiGLU).
    b.RmsNorm(x, w.ffn_norm, t, eps, xb);
    b.MatMul(w.w_gate, xb, t, gate, nullptr);
    b.MatMul(w.w_up, xb, t, up, nullptr);
    b.SwiGlu(gate, up, t * intermediate, gate);
    b.MatMul(w.w_down, gate, t, out, nullptr);
    b.Add(x, out, t * hidden);
  }
  // Only the rows that are sampled go through the final norm and the output projection: the
  // norm is per row, and the projection is the single largest matmul of a decode step.
  const int r = static_cast<int>(logit_rows_.size());
  if (r == 0) return std::span<float>();
  b.GatherRows(x, hidden, logit_rows_, last_.f32());
  b.RmsNorm(last_.f32(), output_norm_, r, eps, last_.f32());
  b.MatMul(output_, last_.f32(), r, logits_.f32(), nullptr);
  const size_t logits_count = static_cast<size_t>(r) * static_cast<size_t>(config_.vocab_size);
  b.CopyToHost(host_logits_.data(), logits_, 0, logits_count * sizeof(float));
  b.Synchronize();
  return std::span<float>(host_logits_.data(), logits_count);
}

}  // namespace r1serve::engine
