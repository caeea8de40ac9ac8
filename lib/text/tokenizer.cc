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
#include "lib/text/json_fields.h"
#include "lib/text/normalizer.h"
#include "lib/text/pre_tokenizer.h"
#include "lib/text/utf8.h"

namespace r1serve::text {
namespace {

using Json = nlohmann::json;

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

absl::StatusOr<Json> ParseJson(std::string_view text) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::exception& e) {  // parse_error, or out_of_range for a number like 1e999
    return absl::InvalidArgumentError(absl::StrCat("not valid JSON: ", e.what()));
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

// `status` with its message prefixed by the file it is about.
absl::Status InFile(const absl::Status& status, const std::string& file) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(file, ": ", status.message()));
}

// A special-token field of tokenizer_config.json: a string, {"content": ...} or null.
absl::StatusOr<std::optional<std::string>> TokenField(const Json& config, const char* key) {
  const Json& value = Field(config, key);
  if (value.is_null()) return std::nullopt;
  if (value.is_string()) return value.get<std::string>();
  if (const Json& content = Field(value, "content"); content.is_string()) {
    return content.get<std::string>();
  }
  return Invalid(key, "is neither a string nor {\"content\": string}");
}

absl::StatusOr<TokenizerConfig> ParseConfigFields(std::string_view config_json) {
  TokenizerConfig config;
  ASSIGN_OR_RETURN(Json json, ParseJson(config_json));
  if (!json.is_object()) return Invalid("the top level", "is not a JSON object");
  ASSIGN_OR_RETURN(config.bos_token, TokenField(json, "bos_token"));
  ASSIGN_OR_RETURN(config.eos_token, TokenField(json, "eos_token"));
  ASSIGN_OR_RETURN(config.pad_token, TokenField(json, "pad_token"));
  const Json& chat_template = Field(json, "chat_template");
  if (chat_template.is_string()) {
    config.chat_template = chat_template.get<std::string>();
  } else if (chat_template.is_array()) {
    // Named templates: [{"name": ..., "template": ...}]; the one named "default" is the chat
    // template (others are e.g. "tool_use").
    for (const Json& entry : chat_template) {
      const Json& name = Field(entry, "name");
      const Json& text = Field(entry, "template");
      if (name.is_string() && name.get_ref<const std::string&>() == "default" && text.is_string()) {
        config.chat_template = text.get<std::string>();
      }
    }
  } else if (!chat_template.is_null()) {
    return Invalid("chat_template", "is neither a string nor a list of {name, template}");
  }
  config.chat_family = DetectChatFamily(config.chat_template);
  return config;
}

// tokenizer_config.json (empty: none); errors start with `file`, the name to show for it.
absl::StatusOr<TokenizerConfig> ParseConfig(std::string_view config_json, const std::string& file) {
  if (config_json.empty()) return TokenizerConfig();
  try {
    absl::StatusOr<TokenizerConfig> config = ParseConfigFields(config_json);
    if (!config.ok()) return InFile(config.status(), file);
    return config;
  } catch (const Json::exception& e) {  // a backstop: every access above is type-checked
    return absl::InvalidArgumentError(absl::StrCat(file, ": unexpected JSON (", e.what(), ")"));
  }
}

absl::StatusOr<std::unique_ptr<BpeModel>> ParseModel(const Json& json) {
  const Json& type = Field(json, "type");
  if (!type.is_string()) return Invalid("model", "has no \"type\"");
  if (type.get_ref<const std::string&>() != "BPE") {
    return Invalid("model:", absl::StrCat("model type \"", type.get_ref<const std::string&>(),
                                          "\" is unsupported (supported: BPE)"));
  }
  if (const Json& dropout = Field(json, "dropout");
      dropout.is_number() && dropout.get<double>() > 0) {
    return Invalid("model.dropout", "is set: BPE dropout (random merges) is unsupported");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const Json& affix = Field(json, key);
    if (affix.is_string() && !affix.get_ref<const std::string&>().empty()) {
      return Invalid(absl::StrCat("model.", key), "is set: only byte-level BPE is supported");
    }
  }
  const Json& vocab_json = Field(json, "vocab");
  if (!vocab_json.is_object()) return Invalid("model.vocab", "is not an object");
  std::vector<std::pair<std::string, TokenId>> vocab;
  vocab.reserve(vocab_json.size());
  for (const auto& [token, id_json] : vocab_json.items()) {
    const std::optional<TokenId> id = TokenIdFromJson(id_json);
    if (!id) return BadTokenIdError(id_json, absl::StrCat("model.vocab[\"", token, "\"]"));
    vocab.emplace_back(token, *id);
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
  const Json& ignore_merges = Field(json, "ignore_merges");
  return BpeModel::Create(std::move(vocab), std::move(merges),
                          ignore_merges.is_boolean() && ignore_merges.get<bool>());
}

absl::StatusOr<std::vector<AddedVocabulary::Entry>> ParseAddedTokens(const Json& json) {
  std::vector<AddedVocabulary::Entry> entries;
  if (json.is_null()) return entries;
  if (!json.is_array()) return Invalid("added_tokens", "is not a list");
  for (size_t i = 0; i < json.size(); ++i) {
    const Json& t = json[i];
    const std::string where = absl::StrCat("added_tokens[", i, "]");
    const Json& content = Field(t, "content");
    if (!content.is_string()) return Invalid(where, "needs a string \"content\"");
    AddedVocabulary::Entry e;
    // HF replaces the id (see AssignAddedTokenIds) but still requires a valid one.
    const std::optional<TokenId> id = TokenIdFromJson(Field(t, "id"));
    if (!id) return BadTokenIdError(Field(t, "id"), absl::StrCat(where, ".id"));
    e.id = *id;
    e.content = content.get<std::string>();
    if (ValidUtf8Prefix(e.content) != e.content.size()) {
      return Invalid(where, "content is not valid UTF-8");
    }
    auto flag = [&](const char* key, bool fallback) {
      const Json& value = Field(t, key);
      return value.is_boolean() ? value.get<bool>() : fallback;
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

// The ids a post-processor puts around a single sequence when add_special_tokens is on: the
// prefix reversed (a later processor's ids go in front, so they are appended here and the
// whole is reversed once at the end, which keeps long Sequences linear) and the suffix.
// `depth`: how many Sequences enclose `json`.
absl::Status ParsePostProcessor(const Json& json, const std::string& where, int depth,
                                std::vector<TokenId>* reversed_prefix,
                                std::vector<TokenId>* suffix) {
  if (json.is_null()) return absl::OkStatus();
  const Json& type_json = Field(json, "type");
  if (!type_json.is_string()) return Invalid(where, "has no \"type\"");
  const std::string& type = type_json.get_ref<const std::string&>();
  if (type == "ByteLevel") return absl::OkStatus();  // it only adjusts offsets
  if (type == "Sequence") {
    if (depth == kMaxSequenceNesting) {
      return Invalid("post_processor:", absl::StrCat("Sequences nest more than ",
                                                     kMaxSequenceNesting, " levels deep"));
    }
    const Json& list = Field(json, "processors");
    if (!list.is_array()) return Invalid(where + ".processors", "is not a list");
    for (size_t i = 0; i < list.size(); ++i) {
      RETURN_IF_ERROR(ParsePostProcessor(list[i], absl::StrCat(where, ".processors[", i, "]"),
                                         depth + 1, reversed_prefix, suffix));
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
  if (!single.is_array()) return Invalid(where + ".single", "is not a list");
  std::vector<TokenId> before, after;
  bool seen_sequence = false;
  for (const Json& piece : single) {
    if (!Field(piece, "Sequence").is_null()) {
      if (seen_sequence) return Invalid(where + ".single", "holds more than one sequence");
      seen_sequence = true;
      continue;
    }
    const Json& name = Field(Field(piece, "SpecialToken"), "id");
    if (!name.is_string()) {
      return Invalid(where + ".single", "has an item that is neither Sequence nor SpecialToken");
    }
    const Json& ids = Field(Field(specials, name.get_ref<const std::string&>()), "ids");
    if (!ids.is_array()) {
      return Invalid(where + ".special_tokens",
                     absl::StrCat("lacks the ids of \"", name.get_ref<const std::string&>(), "\""));
    }
    for (size_t i = 0; i < ids.size(); ++i) {
      const std::optional<TokenId> id = TokenIdFromJson(ids[i]);
      if (!id) {
        return BadTokenIdError(
            ids[i], absl::StrCat(where, ".special_tokens[\"", name.get_ref<const std::string&>(),
                                 "\"].ids[", i, "]"));
      }
      (seen_sequence ? after : before).push_back(*id);
    }
  }
  if (!seen_sequence) return Invalid(where + ".single", "has no Sequence");
  reversed_prefix->insert(reversed_prefix->end(), before.rbegin(), before.rend());
  suffix->insert(suffix->end(), after.begin(), after.end());
  return absl::OkStatus();
}

absl::Status CheckDecoder(const Json& json) {
  if (json.is_null()) {
    return Invalid("decoder", "is missing: byte-level BPE needs the ByteLevel decoder");
  }
  const Json& type = Field(json, "type");
  if (type.is_string() && type.get_ref<const std::string&>() == "ByteLevel") {
    return absl::OkStatus();
  }
  const std::string shown =
      type.is_string() ? absl::StrCat("\"", type.get_ref<const std::string&>(), "\"") : "(missing)";
  return Invalid("decoder:",
                 absl::StrCat("decoder type ", shown, " is unsupported (supported: ByteLevel)"));
}

class BpeTokenizer final : public Tokenizer {
 public:
  // Errors start with `file`, the name to show for tokenizer.json.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> Create(std::string_view tokenizer_json,
                                                           const std::string& file,
                                                           TokenizerConfig config);

  absl::StatusOr<std::vector<TokenId>> TryEncode(std::string_view text,
                                                 bool add_special_tokens) const override;
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
  // Create, short of naming the file in errors; `*section` follows the part being read.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> Build(std::string_view tokenizer_json,
                                                          TokenizerConfig config,
                                                          const char** section);
  // Normalizes, looks for normalized added tokens, pre-tokenizes and runs BPE on a stretch of
  // text free of non-normalized added tokens.
  absl::Status EncodeStretch(std::string_view stretch, std::vector<TokenId>* ids) const;
  absl::Status EncodePlain(std::string_view text, std::vector<TokenId>* ids) const;

  std::unique_ptr<Normalizer> normalizer_;  // null: none
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<BpeModel> model_;
  AddedVocabulary added_;
  absl::flat_hash_map<std::string, TokenId> added_ids_;  // content -> id
  std::vector<int32_t> added_entry_;  // [vocab_size_]: index into added_.entries(), or -1
  std::vector<TokenId> prefix_ids_;   // post-processor template around a single sequence
  std::vector<TokenId> suffix_ids_;
  std::vector<AddedToken> added_tokens_;  // by ascending id
  TokenizerConfig config_;
  int32_t vocab_size_ = 0;
  // What each id decodes to, before UTF-8 repair: pool[offsets[id], offsets[id + 1]).
  std::string decoded_pool_;
  std::vector<uint32_t> decoded_offsets_;
  std::vector<bool> special_;  // [vocab_size_]
};

absl::StatusOr<std::unique_ptr<Tokenizer>> BpeTokenizer::Create(std::string_view tokenizer_json,
                                                                const std::string& file,
                                                                TokenizerConfig config) {
  const char* section = "the top level";
  try {
    absl::StatusOr<std::unique_ptr<Tokenizer>> tok =
        Build(tokenizer_json, std::move(config), &section);
    if (!tok.ok()) return InFile(tok.status(), file);
    return tok;
  } catch (const Json::exception& e) {  // a backstop: every access is type-checked
    return absl::InvalidArgumentError(
        absl::StrCat(file, ": ", section, ": unexpected JSON (", e.what(), ")"));
  }
}

absl::StatusOr<std::unique_ptr<Tokenizer>> BpeTokenizer::Build(std::string_view tokenizer_json,
                                                               TokenizerConfig config,
                                                               const char** section) {
  auto tok = std::unique_ptr<BpeTokenizer>(new BpeTokenizer());
  tok->config_ = std::move(config);
  ASSIGN_OR_RETURN(Json json, ParseJson(tokenizer_json));
  if (!json.is_object()) return Invalid("the top level", "is not a JSON object");
  auto field = [&](const char* key) -> const Json& {
    *section = key;
    return Field(json, key);
  };
  if (!field("model").is_object()) return Invalid("\"model\"", "is missing or not an object");
  ASSIGN_OR_RETURN(tok->model_, ParseModel(field("model")));
  ASSIGN_OR_RETURN(tok->normalizer_, Normalizer::FromJson(field("normalizer")));
  ASSIGN_OR_RETURN(tok->pre_tokenizer_, PreTokenizer::FromJson(field("pre_tokenizer")));
  RETURN_IF_ERROR(CheckDecoder(field("decoder")));
  std::vector<TokenId> reversed_prefix;
  RETURN_IF_ERROR(ParsePostProcessor(field("post_processor"), "post_processor", /*depth=*/0,
                                     &reversed_prefix, &tok->suffix_ids_));
  tok->prefix_ids_.assign(reversed_prefix.rbegin(), reversed_prefix.rend());
  ASSIGN_OR_RETURN(std::vector<AddedVocabulary::Entry> entries,
                   ParseAddedTokens(field("added_tokens")));
  *section = "the top level";

  entries = AssignAddedTokenIds(std::move(entries), *tok->model_);

  tok->vocab_size_ = tok->model_->IdEnd();
  for (const auto& e : entries) tok->vocab_size_ = std::max(tok->vocab_size_, e.id + 1);
  for (const std::vector<TokenId>* ids : {&tok->prefix_ids_, &tok->suffix_ids_}) {
    for (TokenId id : *ids) {
      if (id >= tok->vocab_size_) {
        return Invalid("post_processor",
                       absl::StrCat("names the id ", id, ", outside the vocabulary [0, ",
                                    tok->vocab_size_, ")"));
      }
    }
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
  // `entries` stay in matcher order (specials first) for AddedVocabulary.
  std::sort(tok->added_tokens_.begin(), tok->added_tokens_.end(),
            [](const AddedToken& a, const AddedToken& b) { return a.id < b.id; });
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

absl::StatusOr<std::vector<TokenId>> BpeTokenizer::TryEncode(std::string_view text,
                                                             bool add_special_tokens) const {
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
    RETURN_IF_ERROR(EncodeStretch(text.substr(done, m.begin - done), &ids));
    ids.push_back(m.id);
    done = m.end;
  }
  RETURN_IF_ERROR(EncodeStretch(text.substr(done), &ids));
  if (add_special_tokens) ids.insert(ids.end(), suffix_ids_.begin(), suffix_ids_.end());
  return ids;
}

absl::Status BpeTokenizer::EncodeStretch(std::string_view stretch,
                                         std::vector<TokenId>* ids) const {
  if (stretch.empty()) return absl::OkStatus();
  std::string storage;
  const std::string_view normalized =
      normalizer_ ? normalizer_->Normalize(stretch, &storage) : stretch;
  if (!added_.HasNormalizedTokens()) return EncodePlain(normalized, ids);
  std::vector<AddedVocabulary::Match> matches;
  added_.Find(normalized, /*normalized=*/true, &matches);
  size_t done = 0;
  for (const AddedVocabulary::Match& m : matches) {
    RETURN_IF_ERROR(EncodePlain(normalized.substr(done, m.begin - done), ids));
    ids->push_back(m.id);
    done = m.end;
  }
  return EncodePlain(normalized.substr(done), ids);
}

absl::Status BpeTokenizer::EncodePlain(std::string_view text, std::vector<TokenId>* ids) const {
  return pre_tokenizer_->Split(text, [&](std::string_view piece) { model_->Tokenize(piece, ids); });
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
  TokenizerConfig config;
  if (!config_path.empty()) {
    ASSIGN_OR_RETURN(std::string config_json, ReadFile(config_path));
    ASSIGN_OR_RETURN(config, ParseConfig(config_json, config_path));
  }
  return BpeTokenizer::Create(tokenizer_json, tokenizer_json_path, std::move(config));
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromJson(std::string_view tokenizer_json,
                                                               std::string_view config_json) {
  ASSIGN_OR_RETURN(TokenizerConfig config, ParseConfig(config_json, "tokenizer_config.json"));
  return BpeTokenizer::Create(tokenizer_json, "tokenizer.json", std::move(config));
}

std::vector<TokenId> Tokenizer::Encode(std::string_view text, bool add_special_tokens) const {
  absl::StatusOr<std::vector<TokenId>> ids = TryEncode(text, add_special_tokens);
  if (!ids.ok()) return {};  // never wrong or partial ids (see tokenizer.h)
  return *std::move(ids);
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
