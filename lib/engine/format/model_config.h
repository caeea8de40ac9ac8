// The hyperparameters of a dense decoder-only transformer of the DeepSeek-R1-Distill families
// (Qwen2 and Llama 3), as both model formats describe them. A ModelConfig is what the forward
// pass, the KV cache and the KV-stream compatibility header size themselves from.
//
//   const ModelConfig& config = model.config();
//   int64_t kv_dim = config.kv_dim();                         // num_kv_heads * head_dim
//   std::vector<float> inv_freq = config.RopeInverseFrequencies();  // [head_dim / 2]
//
// RoPE contract (one layout for every format; see architecture.h for how GGUF weights are
// brought to it): rotary embedding is applied to the whole head (head_dim), pairing dimension i
// with dimension i + head_dim / 2 (Hugging Face's rotate_half, llama.cpp's "NEOX" mode):
//   x'[i]        = x[i] cos(p w_i) - x[i + d/2] sin(p w_i)
//   x'[i + d/2]  = x[i + d/2] cos(p w_i) + x[i] sin(p w_i),   for i in [0, d/2), position p,
// with w_i = RopeInverseFrequencies()[i] = rope_theta^(-2i/d) / rope_freq_factors[i].
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace r1serve::engine {

enum class Architecture : uint8_t {
  kQwen2,   // DeepSeek-R1-Distill-Qwen: GQA, q/k/v bias, no rope scaling
  kLlama3,  // DeepSeek-R1-Distill-Llama: GQA, rope scaling "llama3"
};

// "qwen2" / "llama3" (our names; the formats' own names live in the architecture table).
absl::string_view ArchitectureName(Architecture architecture);
std::optional<Architecture> ArchitectureFromName(absl::string_view name);

enum class RopeScalingType : uint8_t {
  kNone,
  kLlama3,  // Llama 3.1's frequency-dependent scaling (HF rope_scaling.rope_type "llama3")
};

struct RopeScaling {
  RopeScalingType type = RopeScalingType::kNone;
  // kLlama3 parameters, named as in HF's rope_scaling. A GGUF file stores only the resulting
  // per-frequency factors (tensor rope_freqs.weight), so a config read from GGUF has them 0;
  // ModelConfig::rope_freq_factors is what the forward pass uses in both cases.
  double factor = 0;
  double low_freq_factor = 0;
  double high_freq_factor = 0;
  int64_t original_max_position_embeddings = 0;
};

struct ModelConfig {
  Architecture architecture = Architecture::kQwen2;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;  // usually hidden_size / num_heads; formats may state it explicitly
  int64_t intermediate_size = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  // Divisors of the rotary frequencies, [head_dim / 2]; empty means all 1 (no scaling). For
  // llama3 scaling: computed from rope_scaling (HF) or read from rope_freqs.weight (GGUF).
  std::vector<float> rope_freq_factors;
  bool tie_word_embeddings = false;  // the output projection is token_embd
  bool attention_bias = false;       // q/k/v projections have biases (always for Qwen2)
  int64_t bos_token_id = -1;         // -1: the model names none
  int64_t eos_token_id = -1;         // the first one when the model names several

  int64_t q_dim() const { return num_heads * head_dim; }
  int64_t kv_dim() const { return num_kv_heads * head_dim; }

  // w_i for i in [0, head_dim / 2), computed in double and rounded once (see the file comment).
  std::vector<float> RopeInverseFrequencies() const;
};

// Checks the invariants the rest of the engine relies on: positive sizes, num_heads a multiple
// of num_kv_heads, even head_dim, finite positive eps and theta, rope_freq_factors empty or
// [head_dim / 2] of finite positive values, token ids inside the vocabulary. The message names
// the field and its value.
absl::Status ValidateConfig(const ModelConfig& config);

// llama.cpp's and HF's llama3 rope scaling as per-frequency divisors, [head_dim / 2]:
// 1 for wavelengths below original_max / high_freq_factor, `factor` above
// original_max / low_freq_factor, and a smooth interpolation in between.
std::vector<float> Llama3RopeFreqFactors(int64_t head_dim, double rope_theta,
                                         const RopeScaling& scaling);

// One line per field, stable across versions of this code: the text that the model
// fingerprint hashes (see model.h). Only what changes the computed logits is in it.
std::string NumericConfigText(const ModelConfig& config);

}  // namespace r1serve::engine
