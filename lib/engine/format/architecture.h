// The architecture table: for each supported architecture, its names in each format, its
// hyperparameter keys and its tensors with their canonical names, per-format names, shapes and
// presence rules (in the manner of llama.cpp's llama-arch). Readers, writers and validation are
// driven by these rows; adding an architecture means adding rows, not branches.
//
//   const ArchitectureSpec* spec = FindArchitectureByHfClass("Qwen2ForCausalLM");
//   for (const ExpectedTensor& t : ExpectedTensors(config)) {
//     // t.canonical "blk.0.wq", t.hf_name "model.layers.0.self_attn.q_proj.weight",
//     // t.gguf_name "blk.0.attn_q.weight", t.shape {q_dim, hidden}
//   }
//
// Canonical tensors of one model (shapes row-major, outermost first):
//   token_embd          [vocab, hidden]
//   blk.L.attn_norm     [hidden]
//   blk.L.wq            [num_heads * head_dim, hidden]
//   blk.L.wk            [num_kv_heads * head_dim, hidden]
//   blk.L.wv            [num_kv_heads * head_dim, hidden]
//   blk.L.bq            [num_heads * head_dim]        only with attention_bias
//   blk.L.bk, blk.L.bv  [num_kv_heads * head_dim]     only with attention_bias
//   blk.L.wo            [hidden, num_heads * head_dim]
//   blk.L.ffn_norm      [hidden]
//   blk.L.w_gate        [intermediate, hidden]
//   blk.L.w_up          [intermediate, hidden]
//   blk.L.w_down        [hidden, intermediate]
//   output_norm         [hidden]
//   output              [vocab, hidden]               absent when tie_word_embeddings
//
// Canonical layout of wq/wk (and bq/bk): Hugging Face's. Within each head the rows come in the
// order rotate_half pairs them (row i with row i + head_dim / 2), which is what the RoPE contract
// in model_config.h assumes. llama.cpp's converter stores Llama's wq/wk with the rows of each head
// interleaved instead (HF row j * head_dim/2 + i is written at row 2i + j, LlamaModel.permute),
// because llama.cpp applies "normal" RoPE (pairs 2i, 2i+1) to the llama architecture; Qwen2 is
// stored unpermuted and roped in NEOX mode. The GGUF reader undoes the interleaving for the
// architectures marked gguf_interleaves_rope_rows, and the writer applies it, so that the same
// weights in either format give the same logits and the forward pass has no per-format logic.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "lib/engine/format/model_config.h"

namespace r1serve::engine {

// Symbolic sizes that shapes in the table are written in.
enum class Dim : uint8_t { kVocab, kHidden, kQDim, kKvDim, kIntermediate };

enum class Presence : uint8_t {
  kRequired,
  kIfAttentionBias,  // q/k/v biases
  kIfUntied,         // the output projection
};

// What a tensor is, for code that treats kinds of weights alike (the synthetic-model writer
// initializes norms near 1 and scales the output projection).
enum class TensorRole : uint8_t { kEmbedding, kNorm, kProjection, kBias, kOutput };

// Which head count groups a tensor's rows for rotary embedding (for the GGUF interleaving).
enum class RopeRows : uint8_t { kNone, kQueryHeads, kKvHeads };

struct TensorSpec {
  // Names, with "{L}" standing for the layer index in per-layer tensors.
  absl::string_view canonical;  // "blk.{L}.wq"
  absl::string_view hf;         // "model.layers.{L}.self_attn.q_proj.weight"
  absl::string_view gguf;       // "blk.{L}.attn_q.weight"
  int rank;                     // 1 or 2
  std::array<Dim, 2> shape;     // the first `rank` entries, outermost first
  Presence presence;
  RopeRows rope_rows;
  TensorRole role;
};

// Where a ModelConfig field comes from in each format, and what happens when a file lacks it.
enum class Fallback : uint8_t {
  kRequired,  // absent is an error
  kDefault,   // absent takes default_value
  kDerived,   // absent is computed by the reader (num_kv_heads = num_heads, head_dim = hidden /
              // num_heads, GGUF vocab_size = the token list's or token_embd's length)
};

struct HyperparameterSpec {
  absl::string_view field;                     // ModelConfig member name, for messages
  absl::string_view hf_key;                    // config.json key
  absl::string_view gguf_key;                  // GGUF key after "<gguf arch>."
  int64_t ModelConfig::*int_member = nullptr;  // exactly one of the two members is set
  double ModelConfig::*float_member = nullptr;
  Fallback hf_fallback = Fallback::kRequired;
  Fallback gguf_fallback = Fallback::kRequired;
  double default_value = 0;
};

struct ArchitectureSpec {
  Architecture id;
  absl::string_view hf_class;       // config.json "architectures"[0]
  absl::string_view hf_model_type;  // config.json "model_type"
  absl::string_view gguf_arch;      // GGUF general.architecture
  bool always_attention_bias;       // q/k/v biases regardless of config (Qwen2)
  bool gguf_interleaves_rope_rows;  // see the file comment
  bool supports_llama3_rope_scaling;
  // GGUF tensor holding the llama3 rope frequency factors [head_dim / 2] ("" when none).
  absl::string_view gguf_rope_freqs;
  // HF tensors that carry no weights and are skipped (older checkpoints saved the rotary
  // inverse frequencies as a buffer); matched by name suffix.
  std::span<const absl::string_view> hf_ignored_suffixes;
  std::span<const HyperparameterSpec> hyperparameters;
  std::span<const TensorSpec> tensors;
};

std::span<const ArchitectureSpec> AllArchitectures();
const ArchitectureSpec& GetArchitectureSpec(Architecture architecture);
// nullptr when no row matches.
const ArchitectureSpec* FindArchitectureByHfClass(absl::string_view hf_class);
const ArchitectureSpec* FindArchitectureByGgufName(absl::string_view gguf_arch);
// "Qwen2ForCausalLM, LlamaForCausalLM" / "qwen2, llama": for error messages.
std::string SupportedHfClasses();
std::string SupportedGgufArchitectures();

// One tensor that a model with a given config holds, resolved from the table.
struct ExpectedTensor {
  std::string canonical;
  std::string hf_name;
  std::string gguf_name;
  std::vector<int64_t> shape;  // outermost first
  RopeRows rope_rows = RopeRows::kNone;
  TensorRole role = TensorRole::kProjection;
  int64_t layer = -1;  // -1 for tensors outside the layers
};

// Every tensor the model holds, in canonical order: token_embd, the layers in order (each in
// table order), output_norm, output.
std::vector<ExpectedTensor> ExpectedTensors(const ModelConfig& config);

// The GGUF interleaving of rotary rows within one head (see the file comment), as row indices
// local to a tensor whose rows are consecutive heads of `head_dim` rows.
int64_t CanonicalRowToGgufRow(int64_t canonical_row, int64_t head_dim);
int64_t GgufRowToCanonicalRow(int64_t gguf_row, int64_t head_dim);

// Whether a GGUF file of this architecture stores `tensor` with interleaved rotary rows.
bool GgufInterleavesRows(const ArchitectureSpec& spec, const ExpectedTensor& tensor);

}  // namespace r1serve::engine
