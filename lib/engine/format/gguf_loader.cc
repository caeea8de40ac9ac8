// Reading GGUF files into a Model; the contract is in model.h, the name and layout mapping in
// architecture.h.
#include <cstring>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/base/status_macros.h"
#include "lib/engine/format/architecture.h"
#include "lib/engine/format/model.h"

namespace r1serve::engine {
namespace {

absl::Status Error(const GgufFile& gguf, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(gguf.name(), ": ", message));
}

// NotFound from the metadata getters becomes nullopt; a wrong type stays an error.
template <typename T>
absl::StatusOr<std::optional<T>> Optional(absl::StatusOr<T> value) {
  if (value.ok()) return std::optional<T>(*value);
  if (absl::IsNotFound(value.status())) return std::optional<T>();
  return value.status();
}

// The canonical bytes of a tensor stored with interleaved rotary rows (architecture.h): row g
// of each head moves to GgufRowToCanonicalRow(g). For a 1-D tensor (a bias) the "rows" are its
// elements.
absl::StatusOr<std::unique_ptr<std::byte[]>> Deinterleave(const GgufFile& gguf,
                                                          const GgufTensorInfo& t,
                                                          int64_t head_dim) {
  const DType dtype = *t.dtype;
  int64_t unit = 0;
  int64_t rows = 0;
  if (t.shape.size() == 2) {
    unit = RowBytes(dtype, t.shape[1]);
    rows = t.shape[0];
  } else if (BlockValues(dtype) == 1) {
    unit = BlockBytes(dtype);
    rows = t.shape[0];
  } else {
    return Error(gguf,
                 absl::StrCat("tensor ", t.name, " is a 1-D ", DTypeName(dtype),
                              " tensor whose rotary elements would need reordering inside blocks"));
  }
  auto buffer = std::make_unique<std::byte[]>(static_cast<size_t>(t.size_bytes));
  for (int64_t g = 0; g < rows; ++g) {
    const int64_t c = GgufRowToCanonicalRow(g, head_dim);
    std::memcpy(buffer.get() + c * unit, t.data + g * unit, static_cast<size_t>(unit));
  }
  return buffer;
}

}  // namespace

absl::StatusOr<ModelConfig> ParseGgufConfig(const GgufFile& gguf) {
  ASSIGN_OR_RETURN(const std::string arch_name, gguf.GetString("general.architecture"));
  const ArchitectureSpec* spec = FindArchitectureByGgufName(arch_name);
  if (spec == nullptr) {
    return Error(gguf, absl::StrCat("unsupported architecture \"", arch_name,
                                    "\" (supported: ", SupportedGgufArchitectures(), ")"));
  }
  const std::string prefix = absl::StrCat(arch_name, ".");
  ModelConfig c;
  c.architecture = spec->id;
  c.num_kv_heads = 0;
  c.head_dim = 0;
  c.vocab_size = 0;
  for (const HyperparameterSpec& h : spec->hyperparameters) {
    const std::string key = prefix + std::string(h.gguf_key);
    if (gguf.Find(key) == nullptr) {
      if (h.gguf_fallback == Fallback::kRequired) {
        return Error(gguf, absl::StrCat("metadata key \"", key, "\" (", h.field, ") is missing"));
      }
      if (h.gguf_fallback == Fallback::kDefault) {
        if (h.float_member != nullptr) c.*h.float_member = h.default_value;
        if (h.int_member != nullptr) c.*h.int_member = static_cast<int64_t>(h.default_value);
      }
      continue;
    }
    if (h.int_member != nullptr) {
      ASSIGN_OR_RETURN(c.*h.int_member, gguf.GetInt(key));
    } else {
      ASSIGN_OR_RETURN(c.*h.float_member, gguf.GetDouble(key));
    }
  }
  if (c.num_kv_heads == 0) c.num_kv_heads = c.num_heads;
  if (c.head_dim == 0 && c.num_heads > 0) {
    if (c.hidden_size % c.num_heads != 0) {
      return Error(gguf, absl::StrCat("embedding_length ", c.hidden_size,
                                      " is not a multiple of head_count ", c.num_heads,
                                      " and no attention.key_length is given"));
    }
    c.head_dim = c.hidden_size / c.num_heads;
  }
  ASSIGN_OR_RETURN(std::optional<int64_t> value_length,
                   Optional(gguf.GetInt(prefix + "attention.value_length")));
  if (value_length && *value_length != c.head_dim) {
    return Error(gguf, absl::StrCat("attention.value_length ", *value_length,
                                    " differs from key_length ", c.head_dim, " (unsupported)"));
  }
  ASSIGN_OR_RETURN(std::optional<int64_t> rope_dims,
                   Optional(gguf.GetInt(prefix + "rope.dimension_count")));
  if (rope_dims && *rope_dims != c.head_dim) {
    return Error(gguf,
                 absl::StrCat("rope.dimension_count ", *rope_dims, " differs from the head size ",
                              c.head_dim, " (partial rotary embedding is unsupported)"));
  }
  ASSIGN_OR_RETURN(std::optional<std::string> scaling_type,
                   Optional(gguf.GetString(prefix + "rope.scaling.type")));
  if (scaling_type && *scaling_type != "none") {
    ASSIGN_OR_RETURN(std::optional<double> factor,
                     Optional(gguf.GetDouble(prefix + "rope.scaling.factor")));
    // A linear scaling by 1 is no scaling: some converters write it.
    if (*scaling_type != "linear" || (factor && *factor != 1.0)) {
      return Error(gguf,
                   absl::StrCat("rope.scaling.type \"", *scaling_type, "\" is not supported"));
    }
  }

  if (c.vocab_size == 0) {
    if (const GgufValue* tokens = gguf.Find("tokenizer.ggml.tokens");
        tokens != nullptr && tokens->type == GgufType::kArray) {
      c.vocab_size = static_cast<int64_t>(tokens->elements.size());
    } else if (const GgufTensorInfo* embd = gguf.FindTensor("token_embd.weight");
               embd != nullptr && embd->shape.size() == 2) {
      c.vocab_size = embd->shape[0];
    }
  }
  c.tie_word_embeddings = gguf.FindTensor("output.weight") == nullptr;
  c.attention_bias = spec->always_attention_bias || gguf.FindTensor("blk.0.attn_q.bias") != nullptr;

  if (!spec->gguf_rope_freqs.empty()) {
    if (const GgufTensorInfo* freqs = gguf.FindTensor(spec->gguf_rope_freqs)) {
      if (freqs->dtype != DType::kF32 || freqs->shape != std::vector<int64_t>{c.head_dim / 2}) {
        return Error(
            gguf, absl::StrCat("tensor ", freqs->name, " has type ", GgmlTypeName(freqs->ggml_type),
                               " and shape ", ShapeText(freqs->shape), ", expected F32 [",
                               c.head_dim / 2, "]"));
      }
      c.rope_scaling.type = RopeScalingType::kLlama3;
      c.rope_freq_factors.resize(static_cast<size_t>(c.head_dim / 2));
      std::memcpy(c.rope_freq_factors.data(), freqs->data,
                  c.rope_freq_factors.size() * sizeof(float));
    }
  }
  for (const auto& [key, member] : {std::pair<absl::string_view, int64_t ModelConfig::*>{
                                        "tokenizer.ggml.bos_token_id", &ModelConfig::bos_token_id},
                                    {"tokenizer.ggml.eos_token_id", &ModelConfig::eos_token_id}}) {
    ASSIGN_OR_RETURN(std::optional<int64_t> id, Optional(gguf.GetInt(key)));
    if (id) c.*member = *id;
  }
  absl::Status valid = ValidateConfig(c);
  if (!valid.ok()) return Error(gguf, valid.message());
  return c;
}

absl::StatusOr<std::unique_ptr<Model>> LoadGgufModel(const std::string& file) {
  ModelParts parts;
  parts.format = ModelFormat::kGguf;
  parts.source = file;
  ASSIGN_OR_RETURN(parts.gguf, GgufFile::Open(file));
  const GgufFile& gguf = *parts.gguf;
  ASSIGN_OR_RETURN(parts.config, ParseGgufConfig(gguf));
  const ModelConfig& c = parts.config;
  const ArchitectureSpec& spec = GetArchitectureSpec(c.architecture);

  std::set<absl::string_view> used;
  if (!spec.gguf_rope_freqs.empty()) used.insert(spec.gguf_rope_freqs);
  for (const ExpectedTensor& e : ExpectedTensors(c)) {
    const GgufTensorInfo* t = gguf.FindTensor(e.gguf_name);
    if (t == nullptr) {
      return Error(gguf,
                   absl::StrCat("tensor ", e.gguf_name, " (", e.canonical,
                                ") is missing; the metadata implies shape ", ShapeText(e.shape)));
    }
    if (!t->dtype) {
      return Error(gguf, absl::StrCat("tensor ", t->name, " has type ", GgmlTypeName(t->ggml_type),
                                      "; supported: F32, F16, BF16, Q8_0"));
    }
    if (t->shape != e.shape) {
      return Error(
          gguf, absl::StrCat("tensor ", t->name, " has shape ", ShapeText(t->shape),
                             " (outermost first) but the metadata implies ", ShapeText(e.shape)));
    }
    used.insert(t->name);
    const std::byte* data = t->data;
    if (GgufInterleavesRows(spec, e)) {
      ASSIGN_OR_RETURN(std::unique_ptr<std::byte[]> buffer, Deinterleave(gguf, *t, c.head_dim));
      data = buffer.get();
      parts.owned_buffers.push_back(std::move(buffer));
    }
    parts.tensors.push_back({e.canonical, *t->dtype, t->shape, data, t->size_bytes});
  }
  for (const GgufTensorInfo& t : gguf.tensors()) {
    if (used.count(t.name) != 0) continue;
    std::string hint;
    if (t.name.find(".bias") != std::string::npos) {
      hint = " (biases must be present in every layer or in none)";
    } else if (t.name.rfind("blk.", 0) == 0) {
      hint = absl::StrCat(" (the metadata has block_count=", c.num_layers, ")");
    }
    return Error(gguf, absl::StrCat("unexpected tensor ", t.name, hint));
  }
  return Model::Assemble(std::move(parts));
}

}  // namespace r1serve::engine
