#include "lib/engine/format/random_model.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/base/status_macros.h"
#include "lib/engine/format/architecture.h"
#include "lib/engine/format/gguf_writer.h"
#include "lib/engine/format/random_weights.h"
#include "lib/engine/format/safetensors.h"
#include "nlohmann/json.hpp"

namespace r1serve::engine {
namespace {

using Json = nlohmann::json;
using Sink = std::function<absl::Status(std::span<const std::byte>)>;

constexpr int64_t kChunkBytes = int64_t{8} << 20;

// llama_ftype values for general.file_type.
uint32_t GgufFileType(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return 0;
    case DType::kF16:
      return 1;
    case DType::kQ8_0:
      return 7;
    case DType::kBF16:
      return 32;
  }
  return 0;
}

absl::string_view TorchDTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "float32";
    case DType::kBF16:
      return "bfloat16";
    case DType::kF16:
    case DType::kQ8_0:
      return "float16";
  }
  return "float16";
}

// The dtype of the values themselves: what the HF copy stores (safetensors has no Q8_0).
DType ValueDType(DType dtype) { return dtype == DType::kQ8_0 ? DType::kF16 : dtype; }

absl::StatusOr<ModelConfig> PreparedConfig(const RandomModelOptions& options) {
  ModelConfig config = options.config;
  const ArchitectureSpec& spec = GetArchitectureSpec(config.architecture);
  if (spec.always_attention_bias) config.attention_bias = true;
  if (config.rope_scaling.type == RopeScalingType::kLlama3) {
    if (!spec.supports_llama3_rope_scaling) {
      return absl::InvalidArgumentError(absl::StrCat("llama3 rope scaling is not part of the ",
                                                     ArchitectureName(config.architecture),
                                                     " architecture"));
    }
    const RopeScaling& s = config.rope_scaling;
    if (!(s.factor > 0) || !(s.low_freq_factor > 0) || !(s.high_freq_factor > s.low_freq_factor) ||
        s.original_max_position_embeddings <= 0) {
      return absl::InvalidArgumentError(
          "llama3 rope scaling needs factor > 0, 0 < low_freq_factor < "
          "high_freq_factor and original_max_position_embeddings > 0");
    }
    config.rope_freq_factors = Llama3RopeFreqFactors(config.head_dim, config.rope_theta, s);
  } else {
    config.rope_freq_factors.clear();
  }
  RETURN_IF_ERROR(ValidateConfig(config));
  return config;
}

RandomWeights MakeWeights(const RandomModelOptions& options, const ModelConfig& config) {
  return RandomWeights({.seed = options.seed,
                        .std = options.weight_std,
                        .output_scale = options.output_scale,
                        .tied_output = config.tie_word_embeddings,
                        .value_dtype = ValueDType(options.dtype)});
}

// Generates one tensor in its stored order and dtype and hands the bytes to `sink` in chunks.
// With `interleave`, stored row g holds canonical row GgufRowToCanonicalRow(g) (for a 1-D
// tensor, element g).
absl::Status StreamTensor(const RandomWeights& weights, const ExpectedTensor& t, DType stored,
                          bool interleave, int64_t head_dim, int threads, const Sink& sink) {
  const int64_t cols = t.shape.back();
  const int64_t rows = t.shape.size() == 2 ? t.shape[0] : 1;
  const int64_t row_bytes = RowBytes(stored, cols);
  if (t.shape.size() == 1) {
    std::vector<float> values(static_cast<size_t>(cols));
    weights.FillRows(t, 0, 1, values.data());
    if (interleave) {
      std::vector<float> stored_order(values.size());
      for (int64_t g = 0; g < cols; ++g)
        stored_order[g] = values[GgufRowToCanonicalRow(g, head_dim)];
      values.swap(stored_order);
    }
    std::vector<std::byte> bytes(static_cast<size_t>(row_bytes));
    EncodeRow(stored, values.data(), cols, bytes.data());
    return sink(bytes);
  }
  const int64_t chunk_rows = std::max<int64_t>(1, kChunkBytes / row_bytes);
  std::vector<std::byte> chunk(static_cast<size_t>(std::min(rows, chunk_rows) * row_bytes));
  const auto fill = [&](int64_t begin, int64_t end, int64_t chunk_begin) {
    std::vector<float> values(static_cast<size_t>(cols));
    for (int64_t s = begin; s < end; ++s) {
      const int64_t c = interleave ? GgufRowToCanonicalRow(s, head_dim) : s;
      weights.FillRows(t, c, 1, values.data());
      EncodeRow(stored, values.data(), cols, chunk.data() + (s - chunk_begin) * row_bytes);
    }
  };
  for (int64_t begin = 0; begin < rows; begin += chunk_rows) {
    const int64_t end = std::min(rows, begin + chunk_rows);
    const int64_t workers = std::clamp<int64_t>(threads, 1, (end - begin + 15) / 16);
    std::vector<std::thread> pool;
    for (int64_t w = 1; w < workers; ++w) {
      const int64_t a = begin + (end - begin) * w / workers;
      const int64_t b = begin + (end - begin) * (w + 1) / workers;
      pool.emplace_back(fill, a, b, begin);
    }
    fill(begin, begin + (end - begin) / workers, begin);
    for (std::thread& thread : pool) thread.join();
    RETURN_IF_ERROR(sink(
        std::span<const std::byte>(chunk.data(), static_cast<size_t>((end - begin) * row_bytes))));
  }
  return absl::OkStatus();
}

absl::Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat(path, ": write failed"));
  return absl::OkStatus();
}

Json HfConfigJson(const ModelConfig& c, DType dtype, double weight_std) {
  const ArchitectureSpec& spec = GetArchitectureSpec(c.architecture);
  Json j;
  j["architectures"] = {std::string(spec.hf_class)};
  j["model_type"] = std::string(spec.hf_model_type);
  for (const HyperparameterSpec& h : spec.hyperparameters) {
    const std::string key(h.hf_key);
    if (h.int_member == &ModelConfig::head_dim && c.head_dim * c.num_heads == c.hidden_size)
      continue;
    if (h.int_member != nullptr) {
      j[key] = c.*h.int_member;
    } else {
      j[key] = c.*h.float_member;
    }
  }
  j["hidden_act"] = "silu";
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  if (!spec.always_attention_bias) {
    j["attention_bias"] = c.attention_bias;
    j["mlp_bias"] = false;
  }
  if (c.rope_scaling.type == RopeScalingType::kLlama3) {
    j["rope_scaling"] = {
        {"rope_type", "llama3"},
        {"factor", c.rope_scaling.factor},
        {"low_freq_factor", c.rope_scaling.low_freq_factor},
        {"high_freq_factor", c.rope_scaling.high_freq_factor},
        {"original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings}};
  } else {
    j["rope_scaling"] = nullptr;
  }
  if (c.bos_token_id >= 0) j["bos_token_id"] = c.bos_token_id;
  if (c.eos_token_id >= 0) j["eos_token_id"] = c.eos_token_id;
  j["torch_dtype"] = std::string(TorchDTypeName(dtype));
  j["initializer_range"] = weight_std;
  j["attention_dropout"] = 0.0;
  j["use_cache"] = true;
  return j;
}

// DeepSeek's recommended sampling for R1, as the R1-Distill folders ship it.
Json GenerationConfigJson(const ModelConfig& c) {
  Json j = {
      {"_from_model_config", true}, {"do_sample", true}, {"temperature", 0.6}, {"top_p", 0.95}};
  if (c.bos_token_id >= 0) j["bos_token_id"] = c.bos_token_id;
  if (c.eos_token_id >= 0) j["eos_token_id"] = c.eos_token_id;
  return j;
}

}  // namespace

absl::Status WriteHfModel(const RandomModelOptions& options, const TokenizerFiles* tokenizer,
                          const std::string& folder) {
  ASSIGN_OR_RETURN(const ModelConfig config, PreparedConfig(options));
  const DType dtype = ValueDType(options.dtype);
  const RandomWeights weights = MakeWeights(options, config);
  const std::vector<ExpectedTensor> tensors = ExpectedTensors(config);

  std::error_code error;
  std::filesystem::create_directories(folder, error);
  if (error) return absl::InternalError(absl::StrCat(folder, ": cannot create: ", error.message()));

  // Greedy sharding in canonical order, as transformers' save_pretrained does by size.
  std::vector<std::vector<size_t>> shards(1);
  int64_t shard_size = 0;
  int64_t total_size = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    int64_t bytes = BlockBytes(dtype);
    for (int64_t d : tensors[i].shape) bytes *= d;
    if (options.shard_bytes > 0 && shard_size > 0 && shard_size + bytes > options.shard_bytes) {
      shards.emplace_back();
      shard_size = 0;
    }
    shards.back().push_back(i);
    shard_size += bytes;
    total_size += bytes;
  }
  const bool sharded = shards.size() > 1;
  Json weight_map = Json::object();
  for (size_t s = 0; s < shards.size(); ++s) {
    const std::string shard_name =
        sharded ? absl::StrFormat("model-%05d-of-%05d.safetensors", s + 1, shards.size())
                : "model.safetensors";
    SafetensorsWriter writer;
    writer.AddMetadata("format", "pt");
    for (size_t i : shards[s]) {
      RETURN_IF_ERROR(writer.AddTensor(tensors[i].hf_name, dtype, tensors[i].shape));
      weight_map[tensors[i].hf_name] = shard_name;
    }
    RETURN_IF_ERROR(writer.Open(folder + "/" + shard_name));
    const Sink sink = [&](std::span<const std::byte> bytes) { return writer.Write(bytes); };
    for (size_t i : shards[s]) {
      RETURN_IF_ERROR(StreamTensor(weights, tensors[i], dtype, /*interleave=*/false,
                                   config.head_dim, options.threads, sink));
    }
    RETURN_IF_ERROR(writer.Close());
  }
  if (sharded) {
    const Json index = {{"metadata", {{"total_size", total_size}}}, {"weight_map", weight_map}};
    RETURN_IF_ERROR(WriteText(folder + "/model.safetensors.index.json", index.dump(2) + "\n"));
  }
  RETURN_IF_ERROR(
      WriteText(folder + "/config.json",
                HfConfigJson(config, options.dtype, options.weight_std).dump(2) + "\n"));
  RETURN_IF_ERROR(
      WriteText(folder + "/generation_config.json", GenerationConfigJson(config).dump(2) + "\n"));
  if (tokenizer != nullptr) {
    RETURN_IF_ERROR(WriteText(folder + "/tokenizer.json", tokenizer->tokenizer_json));
    RETURN_IF_ERROR(WriteText(folder + "/tokenizer_config.json", tokenizer->tokenizer_config_json));
  }
  return absl::OkStatus();
}

absl::Status WriteGgufModel(const RandomModelOptions& options, const TokenizerFiles* tokenizer,
                            const std::string& file) {
  ASSIGN_OR_RETURN(const ModelConfig config, PreparedConfig(options));
  const ArchitectureSpec& spec = GetArchitectureSpec(config.architecture);
  const RandomWeights weights = MakeWeights(options, config);
  const std::string arch(spec.gguf_arch);

  GgufWriter writer;
  writer.AddMetadata("general.architecture", GgufValue::String(arch));
  writer.AddMetadata("general.type", GgufValue::String("model"));
  writer.AddMetadata(
      "general.name",
      GgufValue::String(options.name.empty()
                            ? absl::StrCat("r1serve-random-", ArchitectureName(config.architecture))
                            : options.name));
  writer.AddMetadata("general.file_type", GgufValue::Uint32(GgufFileType(options.dtype)));
  writer.AddMetadata("general.quantization_version", GgufValue::Uint32(2));
  const bool explicit_head_dim = config.head_dim * config.num_heads != config.hidden_size;
  for (const HyperparameterSpec& h : spec.hyperparameters) {
    const std::string key = absl::StrCat(arch, ".", h.gguf_key);
    if (h.int_member == &ModelConfig::head_dim) {
      if (!explicit_head_dim) continue;
      writer.AddMetadata(absl::StrCat(arch, ".attention.value_length"),
                         GgufValue::Uint32(config.head_dim));
    }
    if (h.int_member != nullptr) {
      writer.AddMetadata(key, GgufValue::Uint32(static_cast<uint32_t>(config.*h.int_member)));
    } else {
      writer.AddMetadata(key, GgufValue::Float32(static_cast<float>(config.*h.float_member)));
    }
  }
  writer.AddMetadata(absl::StrCat(arch, ".rope.dimension_count"),
                     GgufValue::Uint32(config.head_dim));
  if (tokenizer != nullptr) {
    TokenizerFiles vocabulary = *tokenizer;
    RETURN_IF_ERROR(vocabulary.PadVocabulary(config.vocab_size));
    vocabulary.AddToGguf(&writer);
  }
  // The config's ids are the model's (the tool takes them from the tokenizer).
  if (config.bos_token_id >= 0) {
    writer.AddMetadata("tokenizer.ggml.bos_token_id",
                       GgufValue::Uint32(static_cast<uint32_t>(config.bos_token_id)));
  }
  if (config.eos_token_id >= 0) {
    writer.AddMetadata("tokenizer.ggml.eos_token_id",
                       GgufValue::Uint32(static_cast<uint32_t>(config.eos_token_id)));
  }

  if (!config.rope_freq_factors.empty()) {
    RETURN_IF_ERROR(writer.AddTensor(std::string(spec.gguf_rope_freqs), DType::kF32,
                                     {static_cast<int64_t>(config.rope_freq_factors.size())}));
  }
  const std::vector<ExpectedTensor> tensors = ExpectedTensors(config);
  std::vector<DType> stored(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const ExpectedTensor& t = tensors[i];
    // As convert_hf_to_gguf.py: 1-D tensors stay F32; Q8_0 needs whole blocks per row.
    stored[i] = t.shape.size() == 1 ? DType::kF32 : options.dtype;
    if (stored[i] == DType::kQ8_0 && t.shape.back() % kQ8_0BlockValues != 0)
      stored[i] = DType::kF16;
    RETURN_IF_ERROR(writer.AddTensor(t.gguf_name, stored[i], t.shape));
  }
  RETURN_IF_ERROR(writer.Open(file));
  const Sink sink = [&](std::span<const std::byte> bytes) { return writer.Write(bytes); };
  if (!config.rope_freq_factors.empty()) {
    RETURN_IF_ERROR(sink(std::as_bytes(std::span<const float>(config.rope_freq_factors))));
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    RETURN_IF_ERROR(StreamTensor(weights, tensors[i], stored[i],
                                 GgufInterleavesRows(spec, tensors[i]), config.head_dim,
                                 options.threads, sink));
  }
  return writer.Close();
}

}  // namespace r1serve::engine
