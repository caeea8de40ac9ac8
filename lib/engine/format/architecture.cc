#include "lib/engine/format/architecture.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace r1serve::engine {
namespace {

using D = Dim;
using M = ModelConfig;

// Hyperparameters of the Llama family (Qwen2 and Llama 3 share them). HF defaults are those of
// transformers' Qwen2Config / LlamaConfig; GGUF requirements are llama.cpp's.
constexpr HyperparameterSpec kLlamaFamilyHyperparameters[] = {
    {"vocab_size", "vocab_size", "vocab_size", &M::vocab_size, nullptr, Fallback::kRequired,
     Fallback::kDerived},
    {"hidden_size", "hidden_size", "embedding_length", &M::hidden_size},
    {"num_layers", "num_hidden_layers", "block_count", &M::num_layers},
    {"num_heads", "num_attention_heads", "attention.head_count", &M::num_heads},
    {"num_kv_heads", "num_key_value_heads", "attention.head_count_kv", &M::num_kv_heads, nullptr,
     Fallback::kDerived, Fallback::kDerived},
    {"head_dim", "head_dim", "attention.key_length", &M::head_dim, nullptr, Fallback::kDerived,
     Fallback::kDerived},
    {"intermediate_size", "intermediate_size", "feed_forward_length", &M::intermediate_size},
    {"max_position_embeddings", "max_position_embeddings", "context_length",
     &M::max_position_embeddings},
    {"rms_norm_eps", "rms_norm_eps", "attention.layer_norm_rms_epsilon", nullptr, &M::rms_norm_eps,
     Fallback::kDefault, Fallback::kRequired, 1e-6},
    {"rope_theta", "rope_theta", "rope.freq_base", nullptr, &M::rope_theta, Fallback::kDefault,
     Fallback::kDefault, 10000.0},
};

// The dense decoder's tensors; HF names as transformers' Qwen2/Llama modules save them, GGUF
// names as llama.cpp's llama-arch tables them. One row per tensor, so the table stays a table.
// clang-format off
constexpr TensorSpec kDenseDecoderTensors[] = {
  // canonical, HF name, GGUF name, rank, shape, presence, rotary rows, role
  {"token_embd", "model.embed_tokens.weight", "token_embd.weight",
   2, {D::kVocab, D::kHidden}, Presence::kRequired, RopeRows::kNone, TensorRole::kEmbedding},
  {"blk.{L}.attn_norm", "model.layers.{L}.input_layernorm.weight", "blk.{L}.attn_norm.weight",
   1, {D::kHidden}, Presence::kRequired, RopeRows::kNone, TensorRole::kNorm},
  {"blk.{L}.wq", "model.layers.{L}.self_attn.q_proj.weight", "blk.{L}.attn_q.weight",
   2, {D::kQDim, D::kHidden}, Presence::kRequired, RopeRows::kQueryHeads, TensorRole::kProjection},
  {"blk.{L}.wk", "model.layers.{L}.self_attn.k_proj.weight", "blk.{L}.attn_k.weight",
   2, {D::kKvDim, D::kHidden}, Presence::kRequired, RopeRows::kKvHeads, TensorRole::kProjection},
  {"blk.{L}.wv", "model.layers.{L}.self_attn.v_proj.weight", "blk.{L}.attn_v.weight",
   2, {D::kKvDim, D::kHidden}, Presence::kRequired, RopeRows::kNone, TensorRole::kProjection},
  {"blk.{L}.bq", "model.layers.{L}.self_attn.q_proj.bias", "blk.{L}.attn_q.bias",
   1, {D::kQDim}, Presence::kIfAttentionBias, RopeRows::kQueryHeads, TensorRole::kBias},
  {"blk.{L}.bk", "model.layers.{L}.self_attn.k_proj.bias", "blk.{L}.attn_k.bias",
   1, {D::kKvDim}, Presence::kIfAttentionBias, RopeRows::kKvHeads, TensorRole::kBias},
  {"blk.{L}.bv", "model.layers.{L}.self_attn.v_proj.bias", "blk.{L}.attn_v.bias",
   1, {D::kKvDim}, Presence::kIfAttentionBias, RopeRows::kNone, TensorRole::kBias},
  {"blk.{L}.wo", "model.layers.{L}.self_attn.o_proj.weight", "blk.{L}.attn_output.weight",
   2, {D::kHidden, D::kQDim}, Presence::kRequired, RopeRows::kNone, TensorRole::kProjection},
  {"blk.{L}.ffn_norm", "model.layers.{L}.post_attention_layernorm.weight", "blk.{L}.ffn_norm.weight",
   1, {D::kHidden}, Presence::kRequired, RopeRows::kNone, TensorRole::kNorm},
  {"blk.{L}.w_gate", "model.layers.{L}.mlp.gate_proj.weight", "blk.{L}.ffn_gate.weight",
   2, {D::kIntermediate, D::kHidden}, Presence::kRequired, RopeRows::kNone, TensorRole::kProjection},
  {"blk.{L}.w_up", "model.layers.{L}.mlp.up_proj.weight", "blk.{L}.ffn_up.weight",
   2, {D::kIntermediate, D::kHidden}, Presence::kRequired, RopeRows::kNone, TensorRole::kProjection},
  {"blk.{L}.w_down", "model.layers.{L}.mlp.down_proj.weight", "blk.{L}.ffn_down.weight",
   2, {D::kHidden, D::kIntermediate}, Presence::kRequired, RopeRows::kNone, TensorRole::kProjection},
  {"output_norm", "model.norm.weight", "output_norm.weight",
   1, {D::kHidden}, Presence::kRequired, RopeRows::kNone, TensorRole::kNorm},
  {"output", "lm_head.weight", "output.weight",
   2, {D::kVocab, D::kHidden}, Presence::kIfUntied, RopeRows::kNone, TensorRole::kOutput},
};
// clang-format on

constexpr absl::string_view kRotaryBufferSuffixes[] = {".rotary_emb.inv_freq"};

constexpr ArchitectureSpec kArchitectures[] = {
    {
        .id = Architecture::kQwen2,
        .hf_class = "Qwen2ForCausalLM",
        .hf_model_type = "qwen2",
        .gguf_arch = "qwen2",
        .always_attention_bias = true,
        .gguf_interleaves_rope_rows = false,  // llama.cpp ropes qwen2 in NEOX mode
        .supports_llama3_rope_scaling = false,
        .gguf_rope_freqs = "",
        .hf_ignored_suffixes = kRotaryBufferSuffixes,
        .hyperparameters = kLlamaFamilyHyperparameters,
        .tensors = kDenseDecoderTensors,
    },
    {
        .id = Architecture::kLlama3,
        .hf_class = "LlamaForCausalLM",
        .hf_model_type = "llama",
        .gguf_arch = "llama",
        .always_attention_bias = false,
        .gguf_interleaves_rope_rows = true,  // llama.cpp ropes llama in NORM mode
        .supports_llama3_rope_scaling = true,
        .gguf_rope_freqs = "rope_freqs.weight",
        .hf_ignored_suffixes = kRotaryBufferSuffixes,
        .hyperparameters = kLlamaFamilyHyperparameters,
        .tensors = kDenseDecoderTensors,
    },
};

int64_t DimSize(Dim dim, const ModelConfig& c) {
  switch (dim) {
    case Dim::kVocab:
      return c.vocab_size;
    case Dim::kHidden:
      return c.hidden_size;
    case Dim::kQDim:
      return c.q_dim();
    case Dim::kKvDim:
      return c.kv_dim();
    case Dim::kIntermediate:
      return c.intermediate_size;
  }
  return 0;
}

bool IsPresent(Presence presence, const ModelConfig& c) {
  switch (presence) {
    case Presence::kRequired:
      return true;
    case Presence::kIfAttentionBias:
      return c.attention_bias;
    case Presence::kIfUntied:
      return !c.tie_word_embeddings;
  }
  return false;
}

bool IsPerLayer(const TensorSpec& spec) {
  return spec.canonical.find("{L}") != absl::string_view::npos;
}

ExpectedTensor Resolve(const TensorSpec& spec, const ModelConfig& c, int64_t layer) {
  const std::string index = std::to_string(layer);
  const auto name = [&](absl::string_view pattern) {
    std::string text(pattern);
    if (const size_t at = text.find("{L}"); at != std::string::npos) text.replace(at, 3, index);
    return text;
  };
  ExpectedTensor t;
  t.canonical = name(spec.canonical);
  t.hf_name = name(spec.hf);
  t.gguf_name = name(spec.gguf);
  for (int d = 0; d < spec.rank; ++d) t.shape.push_back(DimSize(spec.shape[d], c));
  t.rope_rows = spec.rope_rows;
  t.role = spec.role;
  t.layer = layer;
  return t;
}

}  // namespace

std::span<const ArchitectureSpec> AllArchitectures() { return kArchitectures; }

const ArchitectureSpec& GetArchitectureSpec(Architecture architecture) {
  for (const ArchitectureSpec& spec : kArchitectures) {
    if (spec.id == architecture) return spec;
  }
  return kArchitectures[0];  // unreachable: every enumerator has a row
}

const ArchitectureSpec* FindArchitectureByHfClass(absl::string_view hf_class) {
  for (const ArchitectureSpec& spec : kArchitectures) {
    if (spec.hf_class == hf_class) return &spec;
  }
  return nullptr;
}

const ArchitectureSpec* FindArchitectureByGgufName(absl::string_view gguf_arch) {
  for (const ArchitectureSpec& spec : kArchitectures) {
    if (spec.gguf_arch == gguf_arch) return &spec;
  }
  return nullptr;
}

std::string SupportedHfClasses() {
  return absl::StrJoin(kArchitectures, ", ", [](std::string* out, const ArchitectureSpec& spec) {
    absl::StrAppend(out, spec.hf_class);
  });
}

std::string SupportedGgufArchitectures() {
  return absl::StrJoin(kArchitectures, ", ", [](std::string* out, const ArchitectureSpec& spec) {
    absl::StrAppend(out, spec.gguf_arch);
  });
}

std::vector<ExpectedTensor> ExpectedTensors(const ModelConfig& config) {
  const ArchitectureSpec& arch = GetArchitectureSpec(config.architecture);
  std::vector<ExpectedTensor> result;
  const auto add = [&](const TensorSpec& spec, int64_t layer) {
    if (IsPresent(spec.presence, config)) result.push_back(Resolve(spec, config, layer));
  };
  // Table order is canonical order; per-layer rows sit together between the global ones.
  bool layers_done = false;
  for (size_t i = 0; i < arch.tensors.size(); ++i) {
    const TensorSpec& spec = arch.tensors[i];
    if (!IsPerLayer(spec)) {
      add(spec, -1);
      continue;
    }
    if (layers_done) continue;
    layers_done = true;
    for (int64_t layer = 0; layer < config.num_layers; ++layer) {
      for (size_t j = i; j < arch.tensors.size() && IsPerLayer(arch.tensors[j]); ++j) {
        add(arch.tensors[j], layer);
      }
    }
  }
  return result;
}

int64_t CanonicalRowToGgufRow(int64_t canonical_row, int64_t head_dim) {
  const int64_t half = head_dim / 2;
  const int64_t head = canonical_row / head_dim;
  const int64_t local = canonical_row % head_dim;  // = j * half + i
  return head * head_dim + 2 * (local % half) + local / half;
}

int64_t GgufRowToCanonicalRow(int64_t gguf_row, int64_t head_dim) {
  const int64_t half = head_dim / 2;
  const int64_t head = gguf_row / head_dim;
  const int64_t local = gguf_row % head_dim;  // = 2 * i + j
  return head * head_dim + (local % 2) * half + local / 2;
}

bool GgufInterleavesRows(const ArchitectureSpec& spec, const ExpectedTensor& tensor) {
  return spec.gguf_interleaves_rope_rows && tensor.rope_rows != RopeRows::kNone;
}

}  // namespace r1serve::engine
