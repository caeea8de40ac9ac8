#include "lib/engine/runtime/model_tokenizer.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "lib/base/status_macros.h"
#include "nlohmann/json.hpp"

namespace r1serve::engine {
namespace {

using Json = nlohmann::json;

// llama.cpp's token types (llama_token_type), as tokenizer.ggml.token_type stores them.
constexpr int64_t kTokenNormal = 1;
constexpr int64_t kTokenControl = 3;
constexpr int64_t kTokenUserDefined = 4;
constexpr int64_t kTokenUnused = 5;

// What tokenizer.json holds for each llama.cpp pre-tokenizer name, copied from the families'
// own tokenizer.json files (DeepSeek-V3/R1, Qwen2.5 and R1-Distill-Qwen, Llama 3).
struct PreTokenizerFamily {
  absl::string_view pre;
  std::vector<absl::string_view> split_regexes;
  Json normalizer;
  bool ignore_merges;
  bool bos_in_post_processor;  // Llama 3's TemplateProcessing prepends <|begin_of_text|>
};

constexpr absl::string_view kQwenRegex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const std::vector<PreTokenizerFamily>& Families() {
  static const auto* families = new std::vector<PreTokenizerFamily>{
      {"deepseek-v3",
       {"\\p{N}{1,3}", "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}"
        "\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"},
       Json{{"type", "Sequence"}, {"normalizers", Json::array()}},
       false,
       false},
      {"qwen2", {kQwenRegex}, Json{{"type", "NFC"}}, false, false},
      {"deepseek-r1-qwen", {kQwenRegex}, Json{{"type", "NFC"}}, false, false},
      {"llama-bpe",
       {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
        "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
       Json(nullptr),
       true,
       true},
  };
  return *families;
}

absl::Status Invalid(const GgufFile& gguf, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(gguf.name(), ": tokenizer: ", what));
}

absl::StatusOr<const GgufValue*> FindArray(const GgufFile& gguf, absl::string_view key) {
  const GgufValue* value = gguf.Find(key);
  if (value == nullptr) return Invalid(gguf, absl::StrCat(key, " is missing"));
  if (value->type != GgufType::kArray) return Invalid(gguf, absl::StrCat(key, " is not an array"));
  return value;
}

std::optional<int64_t> OptionalInt(const GgufFile& gguf, absl::string_view key) {
  if (gguf.Find(key) == nullptr) return std::nullopt;
  absl::StatusOr<int64_t> value = gguf.GetInt(key);
  return value.ok() ? std::optional<int64_t>(*value) : std::nullopt;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return std::move(text).str();
}

}  // namespace

absl::StatusOr<TokenizerJsonFiles> GgufTokenizerJson(const GgufFile& gguf) {
  if (gguf.Find("tokenizer.ggml.tokens") == nullptr) {
    return absl::NotFoundError(absl::StrCat(gguf.name(), ": has no tokenizer (tokenizer.ggml.*)"));
  }
  ASSIGN_OR_RETURN(std::string model_type, gguf.GetString("tokenizer.ggml.model"));
  if (model_type != "gpt2") {
    return Invalid(gguf, absl::StrCat("tokenizer.ggml.model \"", model_type,
                                      "\" is unsupported (supported: gpt2, byte-level BPE)"));
  }
  ASSIGN_OR_RETURN(std::string pre, gguf.GetString("tokenizer.ggml.pre"));
  const PreTokenizerFamily* family = nullptr;
  for (const PreTokenizerFamily& f : Families()) {
    if (f.pre == pre) family = &f;
  }
  if (family == nullptr) {
    return Invalid(gguf, absl::StrCat("tokenizer.ggml.pre \"", pre,
                                      "\" is unsupported (supported: deepseek-v3, qwen2, "
                                      "deepseek-r1-qwen, llama-bpe)"));
  }
  ASSIGN_OR_RETURN(const GgufValue* tokens, FindArray(gguf, "tokenizer.ggml.tokens"));
  ASSIGN_OR_RETURN(const GgufValue* types, FindArray(gguf, "tokenizer.ggml.token_type"));
  ASSIGN_OR_RETURN(const GgufValue* merges, FindArray(gguf, "tokenizer.ggml.merges"));
  if (types->elements.size() != tokens->elements.size()) {
    return Invalid(gguf, absl::StrCat("token_type has ", types->elements.size(), " entries for ",
                                      tokens->elements.size(), " tokens"));
  }

  Json vocab = Json::object();
  Json added = Json::array();
  for (size_t id = 0; id < tokens->elements.size(); ++id) {
    const std::string* token = std::get_if<std::string>(&tokens->elements[id]);
    const int64_t* type = std::get_if<int64_t>(&types->elements[id]);
    if (token == nullptr || type == nullptr) {
      return Invalid(gguf, absl::StrCat("token ", id, " is not a string with an integer type"));
    }
    if (*type == kTokenUnused) continue;  // "[PAD<i>]": the model's rows beyond the tokenizer
    vocab[*token] = id;
    if (*type == kTokenControl || *type == kTokenUserDefined) {
      added.push_back(Json{{"id", id},
                           {"content", *token},
                           {"single_word", false},
                           {"lstrip", false},
                           {"rstrip", false},
                           {"normalized", *type != kTokenControl},
                           {"special", *type == kTokenControl}});
    } else if (*type != kTokenNormal) {
      return Invalid(gguf, absl::StrCat("token ", id, " has type ", *type,
                                        ", which a byte-level BPE vocabulary does not use"));
    }
  }
  Json merge_list = Json::array();
  for (const GgufScalar& merge : merges->elements) {
    const std::string* text = std::get_if<std::string>(&merge);
    if (text == nullptr) return Invalid(gguf, "tokenizer.ggml.merges holds a non-string");
    merge_list.push_back(*text);
  }

  const auto token_text = [&](std::optional<int64_t> id) -> std::optional<std::string> {
    if (!id.has_value() || *id < 0 || *id >= static_cast<int64_t>(tokens->elements.size())) {
      return std::nullopt;
    }
    return std::get<std::string>(tokens->elements[static_cast<size_t>(*id)]);
  };
  const std::optional<int64_t> bos_id = OptionalInt(gguf, "tokenizer.ggml.bos_token_id");
  const std::optional<std::string> bos = token_text(bos_id);
  const std::optional<std::string> eos =
      token_text(OptionalInt(gguf, "tokenizer.ggml.eos_token_id"));

  Json pretokenizers = Json::array();
  for (absl::string_view regex : family->split_regexes) {
    pretokenizers.push_back(Json{{"type", "Split"},
                                 {"pattern", {{"Regex", std::string(regex)}}},
                                 {"behavior", "Isolated"},
                                 {"invert", false}});
  }
  pretokenizers.push_back(Json{{"type", "ByteLevel"},
                               {"add_prefix_space", false},
                               {"trim_offsets", false},
                               {"use_regex", false}});
  const Json byte_level = {{"type", "ByteLevel"},
                           {"add_prefix_space", false},
                           {"trim_offsets", false},
                           {"use_regex", false}};
  Json post_processor = byte_level;
  if (family->bos_in_post_processor && bos.has_value()) {
    const Json bos_piece = {{"SpecialToken", {{"id", *bos}, {"type_id", 0}}}};
    post_processor = Json{
        {"type", "TemplateProcessing"},
        {"single", Json::array({bos_piece, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
        {"pair", Json::array({bos_piece,
                              {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                              {{"SpecialToken", {{"id", *bos}, {"type_id", 1}}}},
                              {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}})},
        {"special_tokens",
         {{*bos,
           {{"id", *bos}, {"ids", Json::array({*bos_id})}, {"tokens", Json::array({*bos})}}}}}};
  }
  Json tokenizer = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", std::move(added)},
      {"normalizer", family->normalizer},
      {"pre_tokenizer", {{"type", "Sequence"}, {"pretokenizers", std::move(pretokenizers)}}},
      {"post_processor", std::move(post_processor)},
      {"decoder", byte_level},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"ignore_merges", family->ignore_merges},
        {"vocab", std::move(vocab)},
        {"merges", std::move(merge_list)}}},
  };

  Json config = Json::object();
  if (bos.has_value()) config["bos_token"] = *bos;
  if (eos.has_value()) config["eos_token"] = *eos;
  if (const GgufValue* add_bos = gguf.Find("tokenizer.ggml.add_bos_token")) {
    absl::StatusOr<bool> value = GgufAsBool(*add_bos);
    if (value.ok()) config["add_bos_token"] = *value;
  }
  if (gguf.Find("tokenizer.chat_template") != nullptr) {
    ASSIGN_OR_RETURN(std::string chat_template, gguf.GetString("tokenizer.chat_template"));
    config["chat_template"] = chat_template;
  }
  return TokenizerJsonFiles{tokenizer.dump(), config.dump()};
}

absl::StatusOr<ModelTokenizer> LoadModelTokenizer(const Model& model) {
  std::string tokenizer_json;
  std::string config_json;
  if (model.format() == ModelFormat::kGguf) {
    ASSIGN_OR_RETURN(TokenizerJsonFiles files, GgufTokenizerJson(*model.gguf()));
    tokenizer_json = std::move(files.tokenizer_json);
    config_json = std::move(files.tokenizer_config_json);
  } else {
    const std::string folder = model.source();
    if (!std::filesystem::exists(folder + "/tokenizer.json")) {
      return absl::NotFoundError(absl::StrCat(folder, " has no tokenizer.json"));
    }
    ASSIGN_OR_RETURN(tokenizer_json, ReadFile(folder + "/tokenizer.json"));
    if (std::filesystem::exists(folder + "/tokenizer_config.json")) {
      ASSIGN_OR_RETURN(config_json, ReadFile(folder + "/tokenizer_config.json"));
    }
  }
  ASSIGN_OR_RETURN(std::unique_ptr<text::Tokenizer> tokenizer,
                   text::Tokenizer::FromJson(tokenizer_json, config_json));
  ModelTokenizer result;
  result.bos_id = tokenizer->BosId();
  if (!config_json.empty()) {
    const Json config = Json::parse(config_json, nullptr, /*allow_exceptions=*/false);
    if (config.is_object() && config.contains("add_bos_token") &&
        config["add_bos_token"].is_boolean()) {
      result.add_bos = config["add_bos_token"].get<bool>();
    }
  }
  result.tokenizer = std::move(tokenizer);
  return result;
}

}  // namespace r1serve::engine
