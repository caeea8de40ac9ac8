#include "lib/text/tokenizer.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"
#include "lib/text/added_vocabulary.h"
#include "lib/text/bpe_model.h"
#include "lib/text/byte_level.h"
#include "lib/text/normalizer.h"
#include "lib/text/pre_tokenizer.h"
#include "lib/text/utf8.h"

namespace r1serve::text {
namespace {

using Json = nlohmann::json;

// obj[key], or null when obj is not an object or lacks the key (never copies, never inserts).
const Json& Field(const Json& obj, const char* key) {
  static const Json* null = new Json();
  if (!obj.is_object()) return *null;
  auto it = obj.find(key);
  return it == obj.end() ? *null : *it;
}

absl::Status Invalid(std::string_view where, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(std::string(where), " ", std::string(what)));
}

// Which chat template family a template is: the first row whose markers all occur in it.
struct FamilyMarkers {
  ChatFamily family;
  std::array<std::string_view, 2> markers;  // "" = no marker
};
constexpr FamilyMarkers kFamilyMarkers[] = {
    {ChatFamily::kDeepSeekR1, {"<｜Assistant｜>", ""}},
    {ChatFamily::kLlama3, {"<|start_header_id|>", ""}},
    {ChatFamily::kQwen2, {"<|im_start|>", "You are Qwen, created by Alibaba Cloud"}},
    {ChatFamily::kQwen3, {"<|im_start|>", ""}},
};

ChatFamily DetectChatFamily(std::string_view chat_template) {
  for (const FamilyMarkers& row : kFamilyMarkers) {
    if (std::all_of(row.markers.begin(), row.markers.end(), [&](std::string_view marker) {
          return marker.empty() || chat_template.find(marker) != std::string_view::npos;
        })) {
      return row.family;
    }
  }
  return ChatFamily::kUnknown;
}

absl::StatusOr<Json> ParseJson(std::string_view text, std::string_view what) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what), " is not valid JSON: ", e.what()));
  }
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read ", path));
  return std::move(contents).str();
}

absl::Status WithFile(const absl::Status& status, const std::string& path) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(path, ": ", status.message()));
}

// A special-token field of tokenizer_config.json: a string, {"content": ...} or null.
absl::StatusOr<std::optional<std::string>> TokenField(const Json& config, const char* key) {
  if (!config.contains(key) || config[key].is_null()) return std::nullopt;
  const Json& value = config[key];
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content") && value["content"].is_string()) {
    return value["content"].get<std::string>();
  }
  return Invalid(absl::StrCat("tokenizer_config.json: ", key),
                 "is neither a string nor {\"content\": string}");
}

absl::StatusOr<TokenizerConfig> ParseConfig(std::string_view config_json) {
  TokenizerConfig config;
  if (config_json.empty()) return config;
  ASSIGN_OR_RETURN(Json json, ParseJson(config_json, "tokenizer_config.json"));
  if (!json.is_object()) return Invalid("tokenizer_config.json", "is not a JSON object");
  ASSIGN_OR_RETURN(config.bos_token, TokenField(json, "bos_token"));
  ASSIGN_OR_RETURN(config.eos_token, TokenField(json, "eos_token"));
  ASSIGN_OR_RETURN(config.pad_token, TokenField(json, "pad_token"));
  if (json.contains("chat_template") && !json["chat_template"].is_null()) {
    const Json& t = json["chat_template"];
    if (t.is_string()) {
      config.chat_template = t.get<std::string>();
    } else if (t.is_array()) {
      // Named templates: [{"name": ..., "template": ...}]; the one named "default" is the chat
      // template (others are e.g. "tool_use").
      for (const Json& entry : t) {
        if (entry.is_object() && entry.value("name", "") == "default" &&
            entry.contains("template") && entry["template"].is_string()) {
          config.chat_template = entry["template"].get<std::string>();
        }
      }
    } else {
      return Invalid("tokenizer_config.json: chat_template",
                     "is neither a string nor a list of {name, template}");
    }
  }
  config.chat_family = DetectChatFamily(config.chat_template);
  return config;
}

absl::StatusOr<std::unique_ptr<BpeModel>> ParseModel(const Json& json) {
  if (!json.is_object()) return Invalid("tokenizer.json", "has no \"model\" object");
  if (!json.contains("type") || !json["type"].is_string()) {
    return Invalid("model", "has no \"type\"");
  }
  const std::string type = json["type"].get<std::string>();
  if (type != "BPE") {
    return Invalid("model:",
                   absl::StrCat("model type \"", type, "\" is unsupported (supported: BPE)"));
  }
  if (json.contains("dropout") && json["dropout"].is_number() &&
      json["dropout"].get<double>() > 0) {
    return Invalid("model.dropout", "is set: BPE dropout (random merges) is unsupported");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (json.contains(key) && json[key].is_string() && !json[key].get<std::string>().empty()) {
      return Invalid(absl::StrCat("model.", key), "is set: only byte-level BPE is supported");
    }
  }
  const Json& vocab_json = Field(json, "vocab");
  if (!vocab_json.is_object()) return Invalid("model.vocab", "is not an object");
  std::vector<std::pair<std::string, TokenId>> vocab;
  vocab.reserve(vocab_json.size());
  for (const auto& [token, id] : vocab_json.items()) {
    if (!id.is_number_integer()) {
      return Invalid("model.vocab", absl::StrCat("entry \"", token, "\" has no integer id"));
    }
    vocab.emplace_back(token, id.get<TokenId>());
  }
  const Json& merges_json = Field(json, "merges");
  if (!merges_json.is_array()) return Invalid("model.merges", "is not a list");
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(merges_json.size());
  for (size_t i = 0; i < merges_json.size(); ++i) {
    const Json& m = merges_json[i];
    if (m.is_string()) {  // the older "left right" spelling
      const std::string& s = m.get_ref<const std::string&>();
      const size_t space = s.find(' ');
      if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos) {
        return Invalid(absl::StrCat("model.merges[", i, "]"),
                       absl::StrCat("\"", s, "\" is not two tokens separated by a space"));
      }
      merges.emplace_back(s.substr(0, space), s.substr(space + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      return Invalid(absl::StrCat("model.merges[", i, "]"), "is neither \"a b\" nor [a, b]");
    }
  }
  bool ignore_merges = false;
  if (json.contains("ignore_merges") && json["ignore_merges"].is_boolean()) {
    ignore_merges = json["ignore_merges"].get<bool>();
  }
  return BpeModel::Create(std::move(vocab), std::move(merges), ignore_merges);
}

absl::StatusOr<std::vector<AddedVocabulary::Entry>> ParseAddedTokens(const Json& json) {
  std::vector<AddedVocabulary::Entry> entries;
  if (json.is_null()) return entries;
  if (!json.is_array()) return Invalid("added_tokens", "is not a list");
  for (size_t i = 0; i < json.size(); ++i) {
    const Json& t = json[i];
    const std::string where = absl::StrCat("added_tokens[", i, "]");
    if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() ||
        !t.contains("content") || !t["content"].is_string()) {
      return Invalid(where, "needs an integer \"id\" and a string \"content\"");
    }
    AddedVocabulary::Entry e;
    e.id = t["id"].get<TokenId>();
    if (e.id < 0) return Invalid(where, "has a negative id");
    e.content = t["content"].get<std::string>();
    if (ValidUtf8Prefix(e.content) != e.content.size()) {
      return Invalid(where, "content is not valid UTF-8");
    }
    auto flag = [&](const char* key, bool fallback) {
      return t.contains(key) && t[key].is_boolean() ? t[key].get<bool>() : fallback;
    };
    e.special = flag("special", false);
    e.single_word = flag("single_word", false);
    e.lstrip = flag("lstrip", false);
    e.rstrip = flag("rstrip", false);
    e.normalized = flag("normalized", !e.special);  // HF's default: special tokens are not
    entries.push_back(std::move(e));
  }
  return entries;
}

// The ids HF gives added tokens. It does not trust the file's ids: loading replays
// AddedVocabulary::add_tokens, where a content seen before keeps that id, a content in the
// model's vocabulary takes the model's id, and a new one gets one past the largest id so far
// (at least the model's token count). For the files we serve this changes nothing (checked);
// for others it is what HF encodes with. A content defined twice keeps its last flags, and
// special tokens come first, as in HF's matcher.
std::vector<AddedVocabulary::Entry> AssignAddedTokenIds(
    std::vector<AddedVocabulary::Entry> file_entries, const BpeModel& model) {
  const TokenId model_count = model.TokenCount();
  absl::flat_hash_map<std::string, TokenId> id_of;  // content -> id
  std::optional<TokenId> max_id;
  std::vector<AddedVocabulary::Entry> entries;  // one per content, in first-seen order
  absl::flat_hash_map<std::string, size_t> index_of;
  for (AddedVocabulary::Entry& e : file_entries) {
    if (e.content.empty()) continue;
    TokenId id;
    if (auto it = id_of.find(e.content); it != id_of.end()) {
      id = it->second;
    } else if (std::optional<TokenId> model_id = model.TokenToId(e.content)) {
      id = *model_id;
    } else if (!max_id) {
      id = model_count;
    } else {
      id = (*max_id >= model_count || model_count == 0) ? *max_id + 1 : model_count;
    }
    id_of[e.content] = id;
    max_id = std::max(max_id.value_or(id), id);
    e.id = id;
    if (auto it = index_of.find(e.content); it != index_of.end()) {
      const bool was_special = entries[it->second].special;
      entries[it->second] = std::move(e);
      entries[it->second].special |= was_special;  // special-ness goes by content, once set
    } else {
      index_of[e.content] = entries.size();
      entries.push_back(std::move(e));
    }
  }
  // Special tokens first: the order HF builds its matcher in (it matters only when two
  // tokens are spelled alike once normalized).
  std::stable_partition(entries.begin(), entries.end(),
                        [](const AddedVocabulary::Entry& e) { return e.special; });
  return entries;
}

// The ids a post-processor puts around a single sequence when add_special_tokens is on.
absl::Status ParsePostProcessor(const Json& json, const std::string& where,
                                std::vector<TokenId>* prefix, std::vector<TokenId>* suffix) {
  if (json.is_null()) return absl::OkStatus();
  if (!json.is_object() || !json.contains("type") || !json["type"].is_string()) {
    return Invalid(where, "has no \"type\"");
  }
  const std::string type = json["type"].get<std::string>();
  if (type == "ByteLevel") return absl::OkStatus();  // it only adjusts offsets
  if (type == "Sequence") {
    const Json& list = Field(json, "processors");
    if (!list.is_array()) return Invalid(where, ".processors is not a list");
    for (size_t i = 0; i < list.size(); ++i) {
      RETURN_IF_ERROR(
          ParsePostProcessor(list[i], absl::StrCat(where, ".processors[", i, "]"), prefix, suffix));
    }
    return absl::OkStatus();
  }
  if (type != "TemplateProcessing") {
    return Invalid(where + ":", absl::StrCat("post-processor type \"", type,
                                             "\" is unsupported (supported: ByteLevel, "
                                             "TemplateProcessing, Sequence)"));
  }
  const Json& single = Field(json, "single");
  const Json& specials = Field(json, "special_tokens");
  if (!single.is_array()) return Invalid(where, ".single is not a list");
  std::vector<TokenId> before, after;
  bool seen_sequence = false;
  for (const Json& piece : single) {
    if (piece.contains("Sequence")) {
      if (seen_sequence) return Invalid(where, ".single holds more than one sequence");
      seen_sequence = true;
      continue;
    }
    if (!piece.contains("SpecialToken") || !piece["SpecialToken"].contains("id") ||
        !piece["SpecialToken"]["id"].is_string()) {
      return Invalid(where, ".single has an item that is neither Sequence nor SpecialToken");
    }
    const std::string name = piece["SpecialToken"]["id"].get<std::string>();
    if (!specials.is_object() || !specials.contains(name) || !specials[name].contains("ids") ||
        !specials[name]["ids"].is_array()) {
      return Invalid(where, absl::StrCat(".special_tokens lacks the ids of \"", name, "\""));
    }
    for (const Json& id : specials[name]["ids"]) {
      if (!id.is_number_integer()) return Invalid(where, ".special_tokens has a non-integer id");
      (seen_sequence ? after : before).push_back(id.get<TokenId>());
    }
  }
  if (!seen_sequence) return Invalid(where, ".single has no Sequence");
  // A later processor wraps what the earlier ones produced.
  prefix->insert(prefix->begin(), before.begin(), before.end());
  suffix->insert(suffix->end(), after.begin(), after.end());
  return absl::OkStatus();
}

absl::Status CheckDecoder(const Json& json) {
  if (json.is_object() && json.contains("type") && json["type"] == "ByteLevel") {
    return absl::OkStatus();
  }
  if (json.is_null()) {
    return Invalid("tokenizer.json", "has no decoder: byte-level BPE needs the ByteLevel decoder");
  }
  return Invalid("decoder:",
                 absl::StrCat("decoder type ", json.contains("type") ? json["type"].dump() : "null",
                              " is unsupported (supported: ByteLevel)"));
}

class BpeTokenizer final : public Tokenizer {
 public:
  static absl::StatusOr<std::unique_ptr<Tokenizer>> Create(std::string_view tokenizer_json,
                                                           std::string_view config_json);

  std::vector<TokenId> Encode(std::string_view text, bool add_special_tokens) const override;
  absl::StatusOr<std::string> Decode(const std::vector<TokenId>& ids,
                                     bool skip_special_tokens) const override;
  std::string_view TokenBytes(TokenId id, bool skip_special_tokens) const override {
    if (skip_special_tokens && special_[id]) return {};
    return std::string_view(decoded_pool_)
        .substr(decoded_offsets_[id], decoded_offsets_[id + 1] - decoded_offsets_[id]);
  }
  int32_t VocabSize() const override { return vocab_size_; }
  std::optional<std::string> IdToToken(TokenId id) const override;
  std::optional<TokenId> TokenToId(std::string_view token) const override;
  bool IsSpecial(TokenId id) const override { return IsValidId(id) && special_[id]; }
  const std::vector<AddedToken>& AddedTokens() const override { return added_tokens_; }
  const TokenizerConfig& Config() const override { return config_; }

 private:
  // Normalizes, looks for normalized added tokens, pre-tokenizes and runs BPE on a stretch of
  // text free of non-normalized added tokens.
  void EncodeStretch(std::string_view stretch, std::vector<TokenId>* ids) const;
  void EncodePlain(std::string_view text, std::vector<TokenId>* ids) const;

  std::unique_ptr<Normalizer> normalizer_;  // null: none
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<BpeModel> model_;
  AddedVocabulary added_;
  absl::flat_hash_map<std::string, TokenId> added_ids_;  // content -> id
  std::vector<int32_t> added_entry_;  // [vocab_size_]: index into added_.entries(), or -1
  std::vector<TokenId> prefix_ids_;   // post-processor template around a single sequence
  std::vector<TokenId> suffix_ids_;
  std::vector<AddedToken> added_tokens_;
  TokenizerConfig config_;
  int32_t vocab_size_ = 0;
  // What each id decodes to, before UTF-8 repair: pool[offsets[id], offsets[id + 1]).
  std::string decoded_pool_;
  std::vector<uint32_t> decoded_offsets_;
  std::vector<bool> special_;  // [vocab_size_]
};

absl::StatusOr<std::unique_ptr<Tokenizer>> BpeTokenizer::Create(std::string_view tokenizer_json,
                                                                std::string_view config_json) {
  auto tok = std::unique_ptr<BpeTokenizer>(new BpeTokenizer());
  ASSIGN_OR_RETURN(tok->config_, ParseConfig(config_json));
  ASSIGN_OR_RETURN(Json json, ParseJson(tokenizer_json, "tokenizer.json"));
  if (!json.is_object()) return Invalid("tokenizer.json", "is not a JSON object");
  auto field = [&](const char* key) -> const Json& { return Field(json, key); };
  if (!field("model").is_object()) return Invalid("tokenizer.json", "has no \"model\"");
  ASSIGN_OR_RETURN(tok->model_, ParseModel(field("model")));
  ASSIGN_OR_RETURN(tok->normalizer_, Normalizer::FromJson(field("normalizer")));
  ASSIGN_OR_RETURN(tok->pre_tokenizer_, PreTokenizer::FromJson(field("pre_tokenizer")));
  RETURN_IF_ERROR(CheckDecoder(field("decoder")));
  RETURN_IF_ERROR(ParsePostProcessor(field("post_processor"), "post_processor", &tok->prefix_ids_,
                                     &tok->suffix_ids_));
  ASSIGN_OR_RETURN(std::vector<AddedVocabulary::Entry> entries,
                   ParseAddedTokens(field("added_tokens")));

  entries = AssignAddedTokenIds(std::move(entries), *tok->model_);

  tok->vocab_size_ = tok->model_->IdEnd();
  for (const auto& e : entries) tok->vocab_size_ = std::max(tok->vocab_size_, e.id + 1);
  for (TokenId id : tok->prefix_ids_) {
    if (id < 0 || id >= tok->vocab_size_) return Invalid("post_processor", "names an unknown id");
  }
  for (TokenId id : tok->suffix_ids_) {
    if (id < 0 || id >= tok->vocab_size_) return Invalid("post_processor", "names an unknown id");
  }
  tok->added_entry_.assign(tok->vocab_size_, -1);
  absl::flat_hash_set<std::string> special_contents;
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    tok->added_entry_[e.id] = static_cast<int32_t>(i);
    tok->added_ids_.emplace(e.content, e.id);
    tok->added_tokens_.push_back({e.id, e.content, e.special});
    if (e.special) special_contents.insert(e.content);
  }
  const Normalizer* normalizer = tok->normalizer_.get();
  tok->added_ = AddedVocabulary(std::move(entries), [normalizer](std::string_view content) {
    if (normalizer == nullptr) return std::string(content);
    std::string storage;
    return std::string(normalizer->Normalize(content, &storage));
  });

  // Decode tables. As HF: an id is spelled by its added token if it has one, else by the
  // vocabulary; the ByteLevel decoder maps a spelling back to bytes when every character is in
  // the byte alphabet, and keeps the spelling's own UTF-8 otherwise (e.g. "<｜User｜>").
  // "Special" goes by spelling: HF skips any token whose text is a special added token's.
  tok->decoded_offsets_.reserve(tok->vocab_size_ + 1);
  tok->special_.resize(tok->vocab_size_);
  for (TokenId id = 0; id < tok->vocab_size_; ++id) {
    tok->decoded_offsets_.push_back(tok->decoded_pool_.size());
    std::optional<std::string> spelling = tok->IdToToken(id);
    if (!spelling) continue;  // a hole in the id space decodes to nothing, as in HF
    tok->special_[id] = special_contents.contains(*spelling);
    const size_t before = tok->decoded_pool_.size();
    if (!ByteLevelToBytes(*spelling, &tok->decoded_pool_)) {
      tok->decoded_pool_.resize(before);
      tok->decoded_pool_ += *spelling;
    }
  }
  tok->decoded_offsets_.push_back(tok->decoded_pool_.size());
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

std::optional<std::string> BpeTokenizer::IdToToken(TokenId id) const {
  if (!IsValidId(id)) return std::nullopt;
  if (added_entry_[id] >= 0) return added_.entries()[added_entry_[id]].content;
  if (std::optional<std::string_view> token = model_->IdToToken(id)) return std::string(*token);
  return std::nullopt;
}

std::optional<TokenId> BpeTokenizer::TokenToId(std::string_view token) const {
  if (auto it = added_ids_.find(absl::string_view(token.data(), token.size()));
      it != added_ids_.end()) {
    return it->second;
  }
  return model_->TokenToId(token);
}

std::vector<TokenId> BpeTokenizer::Encode(std::string_view text, bool add_special_tokens) const {
  // HF takes a Rust &str; bytes that are not UTF-8 are repaired first, as a caller converting
  // them to a string would (one U+FFFD per maximal invalid subpart).
  std::string repaired;
  if (ValidUtf8Prefix(text) != text.size()) {
    repaired = Utf8Lossy(text);
    text = repaired;
  }
  std::vector<TokenId> ids;
  ids.reserve(text.size() / 3 + prefix_ids_.size() + suffix_ids_.size() + 4);
  if (add_special_tokens) ids.insert(ids.end(), prefix_ids_.begin(), prefix_ids_.end());
  std::vector<AddedVocabulary::Match> matches;
  added_.Find(text, /*normalized=*/false, &matches);
  size_t done = 0;
  for (const AddedVocabulary::Match& m : matches) {
    EncodeStretch(text.substr(done, m.begin - done), &ids);
    ids.push_back(m.id);
    done = m.end;
  }
  EncodeStretch(text.substr(done), &ids);
  if (add_special_tokens) ids.insert(ids.end(), suffix_ids_.begin(), suffix_ids_.end());
  return ids;
}

void BpeTokenizer::EncodeStretch(std::string_view stretch, std::vector<TokenId>* ids) const {
  if (stretch.empty()) return;
  std::string storage;
  const std::string_view normalized =
      normalizer_ ? normalizer_->Normalize(stretch, &storage) : stretch;
  if (!added_.HasNormalizedTokens()) {
    EncodePlain(normalized, ids);
    return;
  }
  std::vector<AddedVocabulary::Match> matches;
  added_.Find(normalized, /*normalized=*/true, &matches);
  size_t done = 0;
  for (const AddedVocabulary::Match& m : matches) {
    EncodePlain(normalized.substr(done, m.begin - done), ids);
    ids->push_back(m.id);
    done = m.end;
  }
  EncodePlain(normalized.substr(done), ids);
}

void BpeTokenizer::EncodePlain(std::string_view text, std::vector<TokenId>* ids) const {
  pre_tokenizer_->Split(text, [&](std::string_view piece) { model_->Tokenize(piece, ids); });
}

absl::StatusOr<std::string> BpeTokenizer::Decode(const std::vector<TokenId>& ids,
                                                 bool skip_special_tokens) const {
  std::string bytes;
  for (TokenId id : ids) {
    // HF skips unknown ids silently; an id from nowhere is a caller's bug we prefer to report.
    if (!IsValidId(id)) {
      return absl::OutOfRangeError(
          absl::StrCat("token id ", id, " is outside the vocabulary [0, ", vocab_size_, ")"));
    }
    bytes += TokenBytes(id, skip_special_tokens);
  }
  if (ValidUtf8Prefix(bytes) == bytes.size()) return bytes;
  return Utf8Lossy(bytes);
}

}  // namespace

std::string_view ChatFamilyName(ChatFamily family) {
  switch (family) {
    case ChatFamily::kDeepSeekR1:
      return "deepseek_r1";
    case ChatFamily::kQwen2:
      return "qwen2";
    case ChatFamily::kQwen3:
      return "qwen3";
    case ChatFamily::kLlama3:
      return "llama3";
    case ChatFamily::kUnknown:
      break;
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromFiles(
    const std::string& tokenizer_json_path, const std::string& config_path) {
  ASSIGN_OR_RETURN(std::string tokenizer_json, ReadFile(tokenizer_json_path));
  std::string config_json;
  if (!config_path.empty()) {
    ASSIGN_OR_RETURN(config_json, ReadFile(config_path));
    // Validate the config alone first so that its errors name its own file.
    RETURN_IF_ERROR(WithFile(ParseConfig(config_json).status(), config_path));
  }
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = FromJson(tokenizer_json, config_json);
  if (!tok.ok()) return WithFile(tok.status(), tokenizer_json_path);
  return tok;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromJson(std::string_view tokenizer_json,
                                                               std::string_view config_json) {
  return BpeTokenizer::Create(tokenizer_json, config_json);
}

std::optional<TokenId> Tokenizer::BosId() const {
  if (!Config().bos_token) return std::nullopt;
  return TokenToId(*Config().bos_token);
}

std::optional<TokenId> Tokenizer::EosId() const {
  if (!Config().eos_token) return std::nullopt;
  return TokenToId(*Config().eos_token);
}

}  // namespace r1serve::text
