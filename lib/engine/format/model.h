// A loaded model: its config and its canonical weight tensors, whatever format it came from
// (a Hugging Face folder of safetensors, or a GGUF file). This is what the forward pass reads.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Model> model, LoadModel("/models/R1-Distill-Qwen-1.5B"));
//   const ModelConfig& c = model->config();
//   const LayerWeights& l0 = model->layer(0);
//   // l0.wq->shape == {c.num_heads * c.head_dim, c.hidden_size}; l0.bq is null without bias.
//   const TensorView& lm_head = model->output();  // token_embd itself when tied
//   LOG(INFO) << model->fingerprint() << " " << model->weight_bytes();
//
// Weights stay in their stored dtype (F32, F16, BF16 or Q8_0) inside the file mappings; the
// one exception is GGUF Llama's wq/wk (and bq/bk), whose rows the loader reorders into the
// canonical layout in memory the Model owns (architecture.h explains why). Tensor dtypes may
// differ within one model: llama.cpp keeps norms and biases F32 in an F16 or Q8_0 file.
//
// Validation at load: the architecture is supported, the config is consistent
// (ValidateConfig), every required tensor is present with the shape the config implies and a
// supported dtype, no unexpected tensor is present (a layer beyond num_layers, a bias the config
// rules out), and every tensor lies inside its file. Each failure is an InvalidArgument
// (NotFound for missing files) naming the file, the tensor, what was expected and what was found.
//
// Fingerprint (KV-stream compatibility: two processes agree on it exactly when they compute
// with the same weights): SHA-256, as lowercase hex, of
//   "r1serve-model-fingerprint-v1\n" + NumericConfigText(config)
//   then for each canonical tensor in canonical order:
//     "<name> <dtype> <dim0>x<dim1> <size_bytes>\n" + sample
//   where sample is the tensor's canonical bytes [0, 4096), the 4096 bytes centred on its middle
//   and its last 4096 bytes (clipped to the tensor; a tensor under 12 KiB contributes all of it).
// It depends on canonical content only: sharding, file names, metadata, tensor order in the
// files and GGUF's row interleaving do not change it; a different dtype or value does (the
// sample is a spot check, not a proof: two files differing only outside the samples collide).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lib/engine/format/gguf.h"
#include "lib/engine/format/model_config.h"
#include "lib/engine/format/safetensors.h"
#include "lib/engine/format/tensor_view.h"

namespace r1serve::engine {

enum class ModelFormat : uint8_t { kHuggingFace, kGguf };

// Pointers into Model::tensors(); valid as long as the Model.
struct LayerWeights {
  const TensorView* attn_norm = nullptr;  // [hidden]
  const TensorView* wq = nullptr;         // [num_heads * head_dim, hidden]
  const TensorView* wk = nullptr;         // [num_kv_heads * head_dim, hidden]
  const TensorView* wv = nullptr;         // [num_kv_heads * head_dim, hidden]
  const TensorView* bq = nullptr;         // [num_heads * head_dim], null without attention_bias
  const TensorView* bk = nullptr;         // [num_kv_heads * head_dim], null without attention_bias
  const TensorView* bv = nullptr;         // [num_kv_heads * head_dim], null without attention_bias
  const TensorView* wo = nullptr;         // [hidden, num_heads * head_dim]
  const TensorView* ffn_norm = nullptr;   // [hidden]
  const TensorView* w_gate = nullptr;     // [intermediate, hidden]
  const TensorView* w_up = nullptr;       // [intermediate, hidden]
  const TensorView* w_down = nullptr;     // [hidden, intermediate]
};

// What a format reader hands over to become a Model: the config, the canonical tensors (in
// canonical order, see ExpectedTensors) and whatever keeps their bytes alive.
struct ModelParts {
  ModelFormat format = ModelFormat::kHuggingFace;
  std::string source;  // folder or file it was loaded from
  ModelConfig config;
  std::vector<TensorView> tensors;
  std::unique_ptr<GgufFile> gguf;
  std::vector<std::unique_ptr<SafetensorsFile>> shards;
  std::vector<std::unique_ptr<std::byte[]>> owned_buffers;
};

class Model {
 public:
  // Checks the parts against the architecture table (names, order, shapes) and computes the
  // fingerprint. Readers call this; others call LoadModel.
  static absl::StatusOr<std::unique_ptr<Model>> Assemble(ModelParts parts);

  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelConfig& config() const { return parts_.config; }
  ModelFormat format() const { return parts_.format; }
  const std::string& source() const { return parts_.source; }

  const TensorView& token_embd() const { return *token_embd_; }    // [vocab, hidden]
  const TensorView& output_norm() const { return *output_norm_; }  // [hidden]
  const TensorView& output() const { return *output_; }            // [vocab, hidden]
  const LayerWeights& layer(int64_t index) const { return layers_[static_cast<size_t>(index)]; }

  // All canonical tensors in canonical order, and lookup by canonical name ("blk.0.wq").
  const std::vector<TensorView>& tensors() const { return parts_.tensors; }
  const TensorView* FindTensor(absl::string_view canonical_name) const;

  const std::string& fingerprint() const { return fingerprint_; }  // 64 hex digits
  int64_t weight_bytes() const { return weight_bytes_; }  // sum of the canonical tensors' bytes

  // The GGUF file's metadata (tokenizer, chat template...) when loaded from GGUF, else null.
  const GgufFile* gguf() const { return parts_.gguf.get(); }

  // For a backend that has copied `tensor` (Weight::owner set): drops the tensor's file pages
  // from the resident set, so that the model does not cost its memory twice. The view stays
  // valid (a later read faults the pages back in); tensors in memory the Model owns stay.
  void ReleaseTensorPages(const TensorView& tensor) const;

 private:
  explicit Model(ModelParts parts) : parts_(std::move(parts)) {}

  ModelParts parts_;
  const TensorView* token_embd_ = nullptr;
  const TensorView* output_norm_ = nullptr;
  const TensorView* output_ = nullptr;
  std::vector<LayerWeights> layers_;
  std::string fingerprint_;
  int64_t weight_bytes_ = 0;
};

// A directory is read as a Hugging Face model folder, a file as GGUF.
absl::StatusOr<std::unique_ptr<Model>> LoadModel(const std::string& path);
// config.json plus model.safetensors, or the shards model.safetensors.index.json names.
absl::StatusOr<std::unique_ptr<Model>> LoadHfModel(const std::string& folder);
absl::StatusOr<std::unique_ptr<Model>> LoadGgufModel(const std::string& file);

// The config alone, from config.json's text / a parsed GGUF file (whose tensor directory tells
// whether the output is tied, whether q/k/v have biases and the llama3 rope factors).
absl::StatusOr<ModelConfig> ParseHfConfig(absl::string_view config_json, const std::string& name);
absl::StatusOr<ModelConfig> ParseGgufConfig(const GgufFile& gguf);

}  // namespace r1serve::engine
