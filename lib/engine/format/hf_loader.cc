// Reading Hugging Face model folders (config.json and safetensors weights) into a Model; the
// contract is in model.h.
#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/base/status_macros.h"
#include "lib/engine/format/architecture.h"
#include "lib/engine/format/model.h"
#include "nlohmann/json.hpp"

namespace r1serve::engine {
namespace {

using Json = nlohmann::json;

absl::Status ConfigError(const std::string& name, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(name, ": ", message));
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool FileExists(const std::string& path) { return std::ifstream(path).good(); }

// A key that is present and not null.
const Json* Field(const Json& object, absl::string_view key) {
  auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

absl::StatusOr<int64_t> IntField(const Json& value, const std::string& name,
                                 absl::string_view key) {
  if (!value.is_number_integer()) {
    return ConfigError(name, absl::StrCat("\"", key, "\" must be an integer, got ", value.dump()));
  }
  return value.get<int64_t>();
}

absl::StatusOr<double> NumberField(const Json& value, const std::string& name,
                                   absl::string_view key) {
  if (!value.is_number()) {
    return ConfigError(name, absl::StrCat("\"", key, "\" must be a number, got ", value.dump()));
  }
  return value.get<double>();
}

absl::StatusOr<int64_t> TokenIdField(const Json& config, const std::string& name,
                                     absl::string_view key) {
  const Json* value = Field(config, key);
  if (value == nullptr) return -1;
  if (value->is_array()) {  // several eos ids: the first is the one the model names first
    if (value->empty()) return -1;
    return IntField((*value)[0], name, key);
  }
  return IntField(*value, name, key);
}

absl::Status ParseRopeScaling(const Json& config, const ArchitectureSpec& spec,
                              const std::string& name, ModelConfig* c) {
  const Json* scaling = Field(config, "rope_scaling");
  if (scaling == nullptr) return absl::OkStatus();
  if (!scaling->is_object()) return ConfigError(name, "\"rope_scaling\" must be an object or null");
  const Json* type = Field(*scaling, "rope_type");
  if (type == nullptr) type = Field(*scaling, "type");  // older transformers spelled it "type"
  const std::string type_name =
      type != nullptr && type->is_string() ? type->get<std::string>() : "";
  if (type_name == "default") return absl::OkStatus();
  if (type_name != "llama3" || !spec.supports_llama3_rope_scaling) {
    return ConfigError(
        name, absl::StrCat("rope_scaling type \"", type_name, "\" is not supported for ",
                           spec.hf_class, " (supported: ",
                           spec.supports_llama3_rope_scaling ? "none, llama3" : "none", ")"));
  }
  RopeScaling& s = c->rope_scaling;
  s.type = RopeScalingType::kLlama3;
  const std::pair<absl::string_view, double*> numbers[] = {
      {"factor", &s.factor},
      {"low_freq_factor", &s.low_freq_factor},
      {"high_freq_factor", &s.high_freq_factor}};
  for (const auto& [key, out] : numbers) {
    const Json* v = Field(*scaling, key);
    if (v == nullptr) return ConfigError(name, absl::StrCat("rope_scaling lacks \"", key, "\""));
    ASSIGN_OR_RETURN(*out, NumberField(*v, name, key));
  }
  const Json* original = Field(*scaling, "original_max_position_embeddings");
  if (original == nullptr) {
    return ConfigError(name, "rope_scaling lacks \"original_max_position_embeddings\"");
  }
  ASSIGN_OR_RETURN(s.original_max_position_embeddings,
                   IntField(*original, name, "original_max_position_embeddings"));
  if (!(s.factor > 0) || !(s.high_freq_factor > s.low_freq_factor) || !(s.low_freq_factor > 0) ||
      s.original_max_position_embeddings <= 0) {
    return ConfigError(
        name, absl::StrCat("rope_scaling llama3 parameters are inconsistent: ", scaling->dump()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ModelConfig> ParseHfConfig(absl::string_view config_json, const std::string& name) {
  const Json config = Json::parse(config_json.begin(), config_json.end(), nullptr, false);
  if (config.is_discarded() || !config.is_object()) {
    return ConfigError(name, "is not a JSON object");
  }
  std::string hf_class;
  if (const Json* architectures = Field(config, "architectures")) {
    if (!architectures->is_array() || architectures->empty() || !(*architectures)[0].is_string()) {
      return ConfigError(name, "\"architectures\" must be a non-empty array of strings");
    }
    hf_class = (*architectures)[0].get<std::string>();
  } else if (const Json* model_type = Field(config, "model_type");
             model_type && model_type->is_string()) {
    for (const ArchitectureSpec& spec : AllArchitectures()) {
      if (spec.hf_model_type == model_type->get<std::string>())
        hf_class = std::string(spec.hf_class);
    }
    if (hf_class.empty()) hf_class = model_type->get<std::string>();
  } else {
    return ConfigError(name, "has neither \"architectures\" nor \"model_type\"");
  }
  const ArchitectureSpec* spec = FindArchitectureByHfClass(hf_class);
  if (spec == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": unsupported architecture \"", hf_class,
                                                   "\" (supported: ", SupportedHfClasses(), ")"));
  }

  ModelConfig c;
  c.architecture = spec->id;
  c.num_kv_heads = 0;
  c.head_dim = 0;
  for (const HyperparameterSpec& h : spec->hyperparameters) {
    const Json* value = Field(config, h.hf_key);
    if (value == nullptr) {
      if (h.hf_fallback == Fallback::kRequired) {
        return ConfigError(name, absl::StrCat("\"", h.hf_key, "\" is missing"));
      }
      if (h.hf_fallback == Fallback::kDefault) {
        if (h.float_member != nullptr) c.*h.float_member = h.default_value;
        if (h.int_member != nullptr) c.*h.int_member = static_cast<int64_t>(h.default_value);
      }
      continue;
    }
    if (h.int_member != nullptr) {
      ASSIGN_OR_RETURN(c.*h.int_member, IntField(*value, name, h.hf_key));
    } else {
      ASSIGN_OR_RETURN(c.*h.float_member, NumberField(*value, name, h.hf_key));
    }
  }
  if (c.num_kv_heads == 0) c.num_kv_heads = c.num_heads;
  if (c.head_dim == 0) {
    if (c.num_heads <= 0 || c.hidden_size % c.num_heads != 0) {
      return ConfigError(name, absl::StrCat("hidden_size ", c.hidden_size,
                                            " is not a multiple of num_attention_heads ",
                                            c.num_heads, " and no head_dim is given"));
    }
    c.head_dim = c.hidden_size / c.num_heads;
  }

  if (const Json* act = Field(config, "hidden_act"); act && *act != "silu") {
    return ConfigError(
        name, absl::StrCat("hidden_act ", act->dump(), " is not supported (supported: \"silu\")"));
  }
  if (const Json* sliding = Field(config, "use_sliding_window"); sliding && *sliding == true) {
    return ConfigError(name, "use_sliding_window=true is not supported");
  }
  if (const Json* mlp_bias = Field(config, "mlp_bias"); mlp_bias && *mlp_bias == true) {
    return ConfigError(name, "mlp_bias=true is not supported");
  }
  if (const Json* tie = Field(config, "tie_word_embeddings")) {
    if (!tie->is_boolean()) return ConfigError(name, "\"tie_word_embeddings\" must be a boolean");
    c.tie_word_embeddings = tie->get<bool>();
  }
  c.attention_bias = spec->always_attention_bias;
  if (const Json* bias = Field(config, "attention_bias"); bias && !spec->always_attention_bias) {
    if (!bias->is_boolean()) return ConfigError(name, "\"attention_bias\" must be a boolean");
    c.attention_bias = bias->get<bool>();
  }
  RETURN_IF_ERROR(ParseRopeScaling(config, *spec, name, &c));
  if (c.rope_scaling.type == RopeScalingType::kLlama3 && c.head_dim > 0 && c.head_dim % 2 == 0) {
    c.rope_freq_factors = Llama3RopeFreqFactors(c.head_dim, c.rope_theta, c.rope_scaling);
  }
  ASSIGN_OR_RETURN(c.bos_token_id, TokenIdField(config, name, "bos_token_id"));
  ASSIGN_OR_RETURN(c.eos_token_id, TokenIdField(config, name, "eos_token_id"));
  absl::Status valid = ValidateConfig(c);
  if (!valid.ok()) return ConfigError(name, valid.message());
  return c;
}

absl::StatusOr<std::unique_ptr<Model>> LoadHfModel(const std::string& folder) {
  const std::string config_path = folder + "/config.json";
  ASSIGN_OR_RETURN(const std::string config_text, ReadFile(config_path));
  ModelParts parts;
  parts.format = ModelFormat::kHuggingFace;
  parts.source = folder;
  ASSIGN_OR_RETURN(parts.config, ParseHfConfig(config_text, config_path));
  const ModelConfig& c = parts.config;
  const ArchitectureSpec& spec = GetArchitectureSpec(c.architecture);

  // The weight files: the shards an index names, or the single model.safetensors.
  const std::string index_path = folder + "/model.safetensors.index.json";
  std::map<std::string, std::string> weight_map;  // tensor -> shard file name
  std::vector<std::string> shard_names;
  if (FileExists(index_path)) {
    ASSIGN_OR_RETURN(const std::string index_text, ReadFile(index_path));
    const Json index = Json::parse(index_text, nullptr, false);
    if (index.is_discarded() || !index.is_object() || !index.contains("weight_map") ||
        !index["weight_map"].is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(index_path, ": has no \"weight_map\" object"));
    }
    std::set<std::string> unique;
    for (const auto& [tensor, shard] : index["weight_map"].items()) {
      if (!shard.is_string() || absl::StrContains(shard.get<std::string>(), "/")) {
        return absl::InvalidArgumentError(absl::StrCat(index_path, ": weight_map[\"", tensor,
                                                       "\"] must be a file name in the folder"));
      }
      weight_map[tensor] = shard.get<std::string>();
      unique.insert(shard.get<std::string>());
    }
    shard_names.assign(unique.begin(), unique.end());
  } else if (FileExists(folder + "/model.safetensors")) {
    shard_names.push_back("model.safetensors");
  } else {
    return absl::NotFoundError(
        absl::StrCat(folder,
                     ": no model.safetensors or model.safetensors.index.json (only safetensors "
                     "weights are supported)"));
  }

  std::map<std::string, const SafetensorsTensor*, std::less<>> present;
  std::map<std::string, std::string> present_in;  // tensor -> shard path, for messages
  for (const std::string& shard_name : shard_names) {
    ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> shard,
                     SafetensorsFile::Open(folder + "/" + shard_name));
    for (const SafetensorsTensor& t : shard->tensors()) {
      if (!present.emplace(t.name, &t).second) {
        return absl::InvalidArgumentError(absl::StrCat(shard->name(), ": tensor ", t.name,
                                                       " also appears in ", present_in[t.name]));
      }
      present_in[t.name] = shard->name();
    }
    parts.shards.push_back(std::move(shard));
  }
  for (const auto& [tensor, shard_name] : weight_map) {
    auto it = present_in.find(tensor);
    if (it == present_in.end() || !absl::EndsWith(it->second, "/" + shard_name)) {
      return absl::InvalidArgumentError(absl::StrCat(
          index_path, ": names ", tensor, " in ", shard_name, " but that shard does not hold it"));
    }
  }

  std::set<std::string> used;
  for (const ExpectedTensor& e : ExpectedTensors(c)) {
    auto it = present.find(e.hf_name);
    if (it == present.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(folder, ": tensor ", e.hf_name, " (", e.canonical,
                       ") is missing; config.json implies shape ", ShapeText(e.shape)));
    }
    const SafetensorsTensor& t = *it->second;
    const std::string where = absl::StrCat(present_in[t.name], ": tensor ", t.name);
    if (!t.dtype) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, " has dtype ", t.dtype_name, "; supported: F32, F16, BF16"));
    }
    if (t.shape != e.shape) {
      return absl::InvalidArgumentError(absl::StrCat(where, " has shape ", ShapeText(t.shape),
                                                     " but config.json implies ",
                                                     ShapeText(e.shape)));
    }
    used.insert(t.name);
    parts.tensors.push_back({e.canonical, *t.dtype, t.shape, t.data, t.size_bytes});
  }
  for (const auto& [name, tensor] : present) {
    if (used.count(name) != 0) continue;
    const bool ignored =
        std::any_of(spec.hf_ignored_suffixes.begin(), spec.hf_ignored_suffixes.end(),
                    [&](absl::string_view suffix) { return absl::EndsWith(name, suffix); });
    // Tied checkpoints sometimes save the (identical) lm_head anyway.
    if (ignored || (c.tie_word_embeddings && name == "lm_head.weight")) continue;
    std::string hint;
    if (absl::StrContains(name, "_proj.bias")) {
      hint = " (config.json rules out attention bias)";
    } else if (absl::StartsWith(name, "model.layers.")) {
      hint = absl::StrCat(" (config.json has num_hidden_layers=", c.num_layers, ")");
    }
    return absl::InvalidArgumentError(
        absl::StrCat(present_in[name], ": unexpected tensor ", name, hint));
  }
  return Model::Assemble(std::move(parts));
}

}  // namespace r1serve::engine
