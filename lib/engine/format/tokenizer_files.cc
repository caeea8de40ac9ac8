#include "lib/engine/format/tokenizer_files.h"

#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "lib/base/status_macros.h"
#include "nlohmann/json.hpp"

namespace r1serve::engine {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

struct PreTokenizerRow {
  absl::string_view marker;  // a fragment of the split regex unique to the family
  absl::string_view pre;     // llama.cpp's tokenizer.ggml.pre
};

// Checked in order: DeepSeek-V3's sequence also contains a \p{N}{1,3} split.
constexpr PreTokenizerRow kPreTokenizers[] = {
    {"[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+", "deepseek-v3"},
    {R"(\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+)", "llama-bpe"},
    {R"([^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+)", "qwen2"},
};

// R1-Distill-Qwen's tokenizer: Qwen's regex with DeepSeek's special tokens. llama.cpp treats
// "deepseek-r1-qwen" exactly as "qwen2"; the name records where the vocabulary comes from.
constexpr absl::string_view kDeepSeekBos = "<｜begin▁of▁sentence｜>";

struct ThinkToken {
  int64_t id;
  absl::string_view placeholder;
  absl::string_view name;
};
constexpr ThinkToken kR1ThinkTokens[] = {
    {128798, "<｜place▁holder▁no▁798｜>", "<think>"},
    {128799, "<｜place▁holder▁no▁799｜>", "</think>"},
};

// The two edits that make DeepSeek-V3's chat template R1's (see the header).
constexpr absl::string_view kV3AssistantTurn =
    "{{'<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}";
constexpr absl::string_view kR1AssistantTurn =
    "{% set content = message['content'] %}{% if '</think>' in content %}"
    "{% set content = content.split('</think>')[-1] %}{% endif %}"
    "{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}";
constexpr absl::string_view kV3GenerationPrompt =
    "{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜>'}}{% endif %}";
constexpr absl::string_view kR1GenerationPrompt =
    "{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜><think>\\n'}}{% endif %}";

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::Status Invalid(const std::string& path, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", message));
}

// Renames one placeholder in tokenizer.json's text in place, leaving every other byte as it
// was (re-serializing the whole file would reorder or reformat 128k vocabulary entries).
// Returns false when the placeholder is not there.
absl::StatusOr<bool> RenameAddedToken(std::string* text, const ThinkToken& token,
                                      const std::string& path) {
  const std::string needle = absl::StrCat("\"", token.placeholder, "\"");
  const size_t at = text->find(needle);
  if (at == std::string::npos) return false;
  const size_t open = text->rfind('{', at);
  const size_t close = text->find('}', at);
  if (open == std::string::npos || close == std::string::npos) return false;
  Json entry = Json::parse(text->begin() + static_cast<std::ptrdiff_t>(open),
                           text->begin() + static_cast<std::ptrdiff_t>(close) + 1, nullptr, false);
  if (entry.is_discarded() || !entry.is_object() || entry.value("id", int64_t{-1}) != token.id) {
    return Invalid(path, absl::StrCat("placeholder ", token.placeholder, " is not the added token ",
                                      token.id));
  }
  // Only the three fields change; the entry's own layout (indentation, key order) is kept.
  std::string object = text->substr(open, close + 1 - open);
  object = absl::StrReplaceAll(object, {{needle, absl::StrCat("\"", token.name, "\"")}});
  for (const auto& [from, to] :
       {std::pair<absl::string_view, absl::string_view>{"\"special\": true", "\"special\": false"},
        {"\"special\":true", "\"special\":false"},
        {"\"normalized\": false", "\"normalized\": true"},
        {"\"normalized\":false", "\"normalized\":true"}}) {
    object = absl::StrReplaceAll(object, {{from, to}});
  }
  text->replace(open, close + 1 - open, object);
  return true;
}

std::string TokenContent(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content") && value["content"].is_string()) {
    return value["content"].get<std::string>();
  }
  return "";
}

bool LooksSpecial(const std::string& token) {
  const auto wrapped = [&](absl::string_view open, absl::string_view close) {
    return token.size() >= open.size() + close.size() && absl::StartsWith(token, open) &&
           absl::EndsWith(token, close);
  };
  return wrapped("<|", "|>") || wrapped("<｜", "｜>") || token == "<pad>" || token == "<mask>";
}

void CollectSplitRegexes(const Json& pre_tokenizer, std::string* out) {
  if (!pre_tokenizer.is_object()) return;
  if (pre_tokenizer.value("type", "") == "Split" && pre_tokenizer.contains("pattern") &&
      pre_tokenizer["pattern"].is_object() && pre_tokenizer["pattern"].contains("Regex") &&
      pre_tokenizer["pattern"]["Regex"].is_string()) {
    absl::StrAppend(out, pre_tokenizer["pattern"]["Regex"].get<std::string>(), "\n");
  }
  if (pre_tokenizer.contains("pretokenizers") && pre_tokenizer["pretokenizers"].is_array()) {
    for (const Json& child : pre_tokenizer["pretokenizers"]) CollectSplitRegexes(child, out);
  }
}

}  // namespace

absl::Status TokenizerFiles::PadVocabulary(int64_t vocab_size) {
  if (vocab_size < size()) {
    return absl::InvalidArgumentError(absl::StrCat("the model's vocabulary (", vocab_size,
                                                   ") is smaller than the tokenizer's (", size(),
                                                   ")"));
  }
  for (int64_t id = size(); id < vocab_size; ++id) {
    tokens.push_back(absl::StrCat("[PAD", id, "]"));
    token_types.push_back(static_cast<int32_t>(GgufTokenType::kUnused));
  }
  return absl::OkStatus();
}

void TokenizerFiles::AddToGguf(GgufWriter* writer) const {
  std::vector<GgufScalar> token_values(tokens.begin(), tokens.end());
  std::vector<GgufScalar> type_values;
  type_values.reserve(token_types.size());
  for (int32_t type : token_types) type_values.emplace_back(int64_t{type});
  std::vector<GgufScalar> merge_values(merges.begin(), merges.end());
  writer->AddMetadata("tokenizer.ggml.model", GgufValue::String("gpt2"));
  writer->AddMetadata("tokenizer.ggml.pre", GgufValue::String(pre));
  writer->AddMetadata("tokenizer.ggml.tokens",
                      GgufValue::Array(GgufType::kString, std::move(token_values)));
  writer->AddMetadata("tokenizer.ggml.token_type",
                      GgufValue::Array(GgufType::kInt32, std::move(type_values)));
  writer->AddMetadata("tokenizer.ggml.merges",
                      GgufValue::Array(GgufType::kString, std::move(merge_values)));
  if (bos_id >= 0)
    writer->AddMetadata("tokenizer.ggml.bos_token_id",
                        GgufValue::Uint32(static_cast<uint32_t>(bos_id)));
  if (eos_id >= 0)
    writer->AddMetadata("tokenizer.ggml.eos_token_id",
                        GgufValue::Uint32(static_cast<uint32_t>(eos_id)));
  if (pad_id >= 0)
    writer->AddMetadata("tokenizer.ggml.padding_token_id",
                        GgufValue::Uint32(static_cast<uint32_t>(pad_id)));
  if (add_bos) writer->AddMetadata("tokenizer.ggml.add_bos_token", GgufValue::Bool(*add_bos));
  if (add_eos) writer->AddMetadata("tokenizer.ggml.add_eos_token", GgufValue::Bool(*add_eos));
  if (!chat_template.empty())
    writer->AddMetadata("tokenizer.chat_template", GgufValue::String(chat_template));
}

absl::StatusOr<TokenizerFiles> LoadTokenizerFiles(const std::string& dir,
                                                  const TokenizerFilesOptions& options) {
  const std::string tokenizer_path = dir + "/tokenizer.json";
  const std::string config_path = dir + "/tokenizer_config.json";
  TokenizerFiles files;
  ASSIGN_OR_RETURN(files.tokenizer_json, ReadFile(tokenizer_path));
  ASSIGN_OR_RETURN(files.tokenizer_config_json, ReadFile(config_path));

  if (options.r1_think_tokens) {
    bool renamed_all = true;
    std::string text = files.tokenizer_json;
    for (const ThinkToken& token : kR1ThinkTokens) {
      ASSIGN_OR_RETURN(const bool renamed, RenameAddedToken(&text, token, tokenizer_path));
      renamed_all = renamed_all && renamed;
    }
    if (renamed_all) {
      files.tokenizer_json = std::move(text);
      files.adapted_for_r1 = true;
      OrderedJson config = OrderedJson::parse(files.tokenizer_config_json, nullptr, false);
      if (config.is_discarded() || !config.is_object())
        return Invalid(config_path, "is not a JSON object");
      if (config.contains("chat_template") && config["chat_template"].is_string()) {
        config["chat_template"] = absl::StrReplaceAll(
            config["chat_template"].get<std::string>(),
            {{kV3AssistantTurn, kR1AssistantTurn}, {kV3GenerationPrompt, kR1GenerationPrompt}});
      }
      if (config.contains("added_tokens_decoder") && config["added_tokens_decoder"].is_object()) {
        for (const ThinkToken& token : kR1ThinkTokens) {
          OrderedJson& entry = config["added_tokens_decoder"][std::to_string(token.id)];
          if (entry.is_object()) {
            entry["content"] = std::string(token.name);
            entry["special"] = false;
            entry["normalized"] = true;
          }
        }
      }
      files.tokenizer_config_json = config.dump(2, ' ', false) + "\n";
    }
  }

  const Json tokenizer = Json::parse(files.tokenizer_json, nullptr, false);
  if (tokenizer.is_discarded() || !tokenizer.is_object())
    return Invalid(tokenizer_path, "is not a JSON object");
  const Json config = Json::parse(files.tokenizer_config_json, nullptr, false);
  if (config.is_discarded() || !config.is_object())
    return Invalid(config_path, "is not a JSON object");
  if (!tokenizer.contains("model") || !tokenizer["model"].is_object() ||
      tokenizer["model"].value("type", "") != "BPE" || !tokenizer["model"].contains("vocab") ||
      !tokenizer["model"]["vocab"].is_object()) {
    return Invalid(tokenizer_path, "model is not a BPE model with a vocab object");
  }

  // id -> (content, type); added tokens take precedence over the vocab entry of the same id.
  std::map<int64_t, std::pair<std::string, GgufTokenType>> by_id;
  std::map<std::string, int64_t> id_of;
  for (const auto& [token, id] : tokenizer["model"]["vocab"].items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
        id.get<int64_t>() > (int64_t{1} << 24)) {
      return Invalid(tokenizer_path, absl::StrCat("vocab entry \"", token, "\" has an invalid id"));
    }
    by_id[id.get<int64_t>()] = {token, GgufTokenType::kNormal};
    id_of[token] = id.get<int64_t>();
  }
  bool has_deepseek_bos = false;
  if (tokenizer.contains("added_tokens") && tokenizer["added_tokens"].is_array()) {
    for (const Json& added : tokenizer["added_tokens"]) {
      if (!added.is_object() || !added.contains("id") || !added["id"].is_number_integer() ||
          !added.contains("content") || !added["content"].is_string() ||
          added["id"].get<int64_t>() < 0 || added["id"].get<int64_t>() > (int64_t{1} << 24)) {
        return Invalid(tokenizer_path, absl::StrCat("malformed added token ", added.dump()));
      }
      std::string content = added["content"].get<std::string>();
      const bool special = added.value("special", false) || LooksSpecial(content);
      has_deepseek_bos = has_deepseek_bos || content == kDeepSeekBos;
      id_of[content] = added["id"].get<int64_t>();
      if (!special) content = absl::StrReplaceAll(content, {{"▁", " "}});
      by_id[added["id"].get<int64_t>()] = {
          content, special ? GgufTokenType::kControl : GgufTokenType::kUserDefined};
    }
  }
  const int64_t size = by_id.empty() ? 0 : by_id.rbegin()->first + 1;
  files.tokens.resize(static_cast<size_t>(size));
  files.token_types.resize(static_cast<size_t>(size));
  for (int64_t id = 0; id < size; ++id) {
    auto it = by_id.find(id);
    files.tokens[id] = it == by_id.end() ? absl::StrCat("[PAD", id, "]") : it->second.first;
    files.token_types[id] =
        static_cast<int32_t>(it == by_id.end() ? GgufTokenType::kUnused : it->second.second);
  }

  if (tokenizer["model"].contains("merges") && tokenizer["model"]["merges"].is_array()) {
    for (const Json& merge : tokenizer["model"]["merges"]) {
      if (merge.is_string()) {
        files.merges.push_back(merge.get<std::string>());
      } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
                 merge[1].is_string()) {
        files.merges.push_back(
            absl::StrCat(merge[0].get<std::string>(), " ", merge[1].get<std::string>()));
      } else {
        return Invalid(tokenizer_path, absl::StrCat("malformed merge ", merge.dump()));
      }
    }
  }

  files.pre = options.gguf_pre;
  if (files.pre.empty()) {
    std::string regexes;
    if (tokenizer.contains("pre_tokenizer"))
      CollectSplitRegexes(tokenizer["pre_tokenizer"], &regexes);
    for (const PreTokenizerRow& row : kPreTokenizers) {
      if (absl::StrContains(regexes, row.marker)) {
        files.pre = std::string(row.pre);
        break;
      }
    }
    if (files.pre == "qwen2" && has_deepseek_bos) files.pre = "deepseek-r1-qwen";
    if (files.pre.empty()) {
      return Invalid(
          tokenizer_path,
          "pre-tokenizer not recognized as one llama.cpp knows (deepseek-v3, qwen2, llama-bpe); "
          "name it explicitly (gguf_pre)");
    }
  }

  const auto id_for = [&](absl::string_view key) -> int64_t {
    if (!config.contains(key)) return -1;
    auto it = id_of.find(TokenContent(config[std::string(key)]));
    return it == id_of.end() ? -1 : it->second;
  };
  files.bos_id = id_for("bos_token");
  files.eos_id = id_for("eos_token");
  files.pad_id = id_for("pad_token");
  if (config.contains("add_bos_token") && config["add_bos_token"].is_boolean()) {
    files.add_bos = config["add_bos_token"].get<bool>();
  }
  if (config.contains("add_eos_token") && config["add_eos_token"].is_boolean()) {
    files.add_eos = config["add_eos_token"].get<bool>();
  }
  if (config.contains("chat_template") && config["chat_template"].is_string()) {
    files.chat_template = config["chat_template"].get<std::string>();
  }
  return files;
}

}  // namespace r1serve::engine
