#include "lib/engine/runtime/generation_config.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace r1serve::engine {

absl::StatusOr<GenerationConfig> LoadGenerationConfig(const Model& model) {
  GenerationConfig result;
  if (model.format() != ModelFormat::kHuggingFace) return result;
  const std::string path = model.source() + "/generation_config.json";
  if (!std::filesystem::exists(path)) return result;
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  const nlohmann::json json = nlohmann::json::parse(text.str(), nullptr, false);
  if (!json.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a JSON object"));
  }
  const auto number = [&](const char* key, auto* out) -> absl::Status {
    if (!json.contains(key) || json[key].is_null()) return absl::OkStatus();
    if (!json[key].is_number()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", key, " is not a number"));
    }
    *out = json[key].get<std::remove_pointer_t<decltype(out)>>();
    return absl::OkStatus();
  };
  for (absl::Status s :
       {number("temperature", &result.defaults.temperature),
        number("top_p", &result.defaults.top_p), number("top_k", &result.defaults.top_k),
        number("min_p", &result.defaults.min_p),
        number("repetition_penalty", &result.defaults.repetition_penalty)}) {
    if (!s.ok()) return s;
  }
  if (json.contains("do_sample") && json["do_sample"].is_boolean() &&
      !json["do_sample"].get<bool>()) {
    result.defaults.temperature = 0;  // transformers' greedy decoding
  }
  if (json.contains("eos_token_id")) {
    const nlohmann::json& eos = json["eos_token_id"];
    if (eos.is_number_integer()) {
      result.eos_token_ids.push_back(eos.get<int32_t>());
    } else if (eos.is_array()) {
      for (const nlohmann::json& id : eos) {
        if (!id.is_number_integer()) {
          return absl::InvalidArgumentError(
              absl::StrCat(path, ": eos_token_id holds a non-integer"));
        }
        result.eos_token_ids.push_back(id.get<int32_t>());
      }
    } else if (!eos.is_null()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": eos_token_id is neither an integer nor a list"));
    }
  }
  return result;
}

}  // namespace r1serve::engine
