// Writing synthetic (random-weight) models of any shape as a Hugging Face folder and/or a GGUF
// file, deterministically: the same options give byte-identical files. The weights are the same
// numbers in both formats (random_weights.h), laid out as each format's real converters lay
// them out, so the loaders and the forward pass are exercised exactly as with real checkpoints.
//
//   RandomModelOptions options;
//   options.config.architecture = Architecture::kQwen2;  // and every size, vocab_size included
//   options.dtype = DType::kF16;
//   options.seed = 42;
//   ASSIGN_OR_RETURN(TokenizerFiles tok, LoadTokenizerFiles(dir, {}));
//   RETURN_IF_ERROR(WriteHfModel(options, &tok, "/tmp/tiny"));       // folder
//   RETURN_IF_ERROR(WriteGgufModel(options, &tok, "/tmp/tiny.gguf"));  // file
//
// HF folder: config.json, generation_config.json, model.safetensors (or model-0000i-of-0000n
// shards plus model.safetensors.index.json when over shard_bytes), and tokenizer.json +
// tokenizer_config.json when a tokenizer is given. Every tensor in `dtype` (F16 when dtype is
// Q8_0, which safetensors lacks).
// GGUF file: general.*, the architecture's hyperparameter keys, the tokenizer (tokenizer.ggml.*)
// and the tensors as llama.cpp's convert_hf_to_gguf.py writes them: 1-D tensors (norms, biases)
// F32, matrices in `dtype` (Q8_0 falls back to F16 for rows not a multiple of 32), Llama's
// wq/wk rows interleaved (architecture.h), llama3 rope factors as rope_freqs.weight.
// Tensors are generated and written in chunks (a few MB at a time, on `threads` threads), so
// memory use does not grow with the model.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "lib/engine/format/dtype.h"
#include "lib/engine/format/model_config.h"
#include "lib/engine/format/tokenizer_files.h"

namespace r1serve::engine {

struct RandomModelOptions {
  ModelConfig config;  // validated; rope_freq_factors derived here for llama3 scaling
  DType dtype = DType::kF16;
  uint64_t seed = 0;
  double weight_std = 0.02;
  double output_scale = 1.0;  // multiplies the output projection (see random_weights.h)
  int64_t shard_bytes = 0;    // HF: split safetensors above this many bytes; 0 = one file
  int threads = 2;
  std::string name;  // general.name; default "r1serve-random-<arch>"
};

// `tokenizer` may be null (no tokenizer files / metadata). The folder is created if needed.
absl::Status WriteHfModel(const RandomModelOptions& options, const TokenizerFiles* tokenizer,
                          const std::string& folder);
// The tokenizer's GGUF vocabulary is padded to config.vocab_size ("[PAD<i>]").
absl::Status WriteGgufModel(const RandomModelOptions& options, const TokenizerFiles* tokenizer,
                            const std::string& file);

}  // namespace r1serve::engine
