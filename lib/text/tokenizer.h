// A Hugging Face `tokenizer.json` byte-level BPE tokenizer (DeepSeek-V3/R1, Qwen2.5/3, Llama 3),
// with the bos/eos and chat-template family read from `tokenizer_config.json`. Encode and decode
// are exactly those of Hugging Face tokenizers (Rust) for these families.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok,
//                    Tokenizer::FromFiles("tokenizer.json", "tokenizer_config.json"));
//   std::vector<TokenId> ids = tok->Encode("Hello <think>", /*add_special_tokens=*/false);
//   ASSIGN_OR_RETURN(std::string text, tok->Decode(ids, /*skip_special_tokens=*/false));
//
// Thread safety: a loaded Tokenizer is immutable; every const method may be called from any
// number of threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/text/utf8.h"  // Utf8Lossy, which Decode and TokenBytes are defined by

namespace r1serve::text {

using TokenId = int32_t;

// Which chat template family a tokenizer_config.json's template belongs to.
enum class ChatFamily {
  kUnknown,
  kDeepSeekR1,  // DeepSeek-V3/R1 and the R1-Distill models (<｜User｜> / <｜Assistant｜>).
  kQwen2,       // Qwen2.5 (ChatML, default system prompt).
  kQwen3,       // Qwen3 (ChatML, <think> handling, no default system prompt).
  kLlama3,      // Llama 3 (<|start_header_id|>).
};

std::string_view ChatFamilyName(ChatFamily family);

// What tokenizer_config.json says about special tokens and templates.
struct TokenizerConfig {
  std::optional<std::string> bos_token;  // content, e.g. "<｜begin▁of▁sentence｜>"
  std::optional<std::string> eos_token;
  std::optional<std::string> pad_token;
  std::string chat_template;  // raw Jinja source, possibly empty
  ChatFamily chat_family = ChatFamily::kUnknown;
};

struct AddedToken {
  TokenId id;
  std::string content;
  bool special;
};

class Tokenizer {
 public:
  // Parses tokenizer.json (and tokenizer_config.json when `config_path` is non-empty).
  // A malformed or unsupported file is an InvalidArgument / NotFound error naming the file and
  // the offending field. No content, however malformed, crashes the process, and what loading
  // builds stays proportional to the file: token ids must be nearly dense (see
  // BpeModel::Create) and Sequences nest at most 64 deep (kMaxSequenceNesting). Supported
  // (everything else is an error naming the type): model BPE over a byte-level vocabulary;
  // normalizer NFC/NFD/NFKC/NFKD/Sequence; pre-tokenizer Split/ByteLevel/Sequence (ByteLevel
  // last); post-processor ByteLevel/TemplateProcessing/Sequence; decoder ByteLevel. Loading a
  // 10 MB tokenizer.json takes a few hundred ms.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromFiles(
      const std::string& tokenizer_json_path, const std::string& config_path);
  // Same, from the file contents (config_json may be empty); errors name the files
  // "tokenizer.json" and "tokenizer_config.json".
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromJson(std::string_view tokenizer_json,
                                                             std::string_view config_json);

  virtual ~Tokenizer() = default;

  // Text to ids, as HF's `tokenizer.encode(text, add_special_tokens)`: added/special tokens in
  // the text are recognised, the normalizer and pre-tokenizers run on the rest, then BPE, then
  // (if add_special_tokens) the post-processor's template (e.g. Llama 3's BOS). HF only takes
  // valid strings: bytes that are not UTF-8 are first repaired as Utf8Lossy does, which is
  // what a client converting them to a string would have sent.
  // The one error (ResourceExhausted) is a pre-tokenizer regex that PCRE2 gives up on even
  // with its fallbacks (see OnigRegex::Find): possible only with a custom Split pattern that
  // nests repeats or backtracks without bound, and several MB of text. The shipped files'
  // patterns never give up.
  virtual absl::StatusOr<std::vector<TokenId>> TryEncode(std::string_view text,
                                                         bool add_special_tokens) const = 0;
  // TryEncode for callers that trust the tokenizer's patterns (see above). Where TryEncode
  // fails this returns an empty list, never wrong or partial ids; callers that must tell that
  // apart from text that encodes to nothing use TryEncode.
  std::vector<TokenId> Encode(std::string_view text, bool add_special_tokens) const;

  // Ids to text, as HF's `tokenizer.decode(ids, skip_special_tokens)`, including its lossy
  // handling of byte sequences that are not valid UTF-8 (each maximal invalid subpart becomes
  // U+FFFD). An id outside [0, VocabSize()) is an OutOfRange error naming the id: HF skips
  // such ids silently, but here one means a caller's bug (e.g. a model whose embedding is
  // larger than the vocabulary sampled a padding row), which should not vanish. An id inside
  // the range that names no token (a hole in the id space) decodes to nothing, as in HF.
  virtual absl::StatusOr<std::string> Decode(const std::vector<TokenId>& ids,
                                             bool skip_special_tokens) const = 0;

  // The raw bytes one token contributes to decoded text (before UTF-8 repair), or "" for a
  // special token when skip_special_tokens. Decode(ids) == Utf8Lossy(concat(TokenBytes(id))).
  // The id must be valid (IsValidId).
  virtual std::string_view TokenBytes(TokenId id, bool skip_special_tokens) const = 0;

  // Size of the id space: one past the largest id of the model vocabulary or added tokens.
  virtual int32_t VocabSize() const = 0;
  bool IsValidId(TokenId id) const { return id >= 0 && id < VocabSize(); }

  // The token's string as stored in the vocabulary (byte-level form, e.g. "Ġthe"), if any.
  virtual std::optional<std::string> IdToToken(TokenId id) const = 0;
  // The id of an exact vocabulary or added-token string, if any.
  virtual std::optional<TokenId> TokenToId(std::string_view token) const = 0;

  // Whether Decode(skip_special_tokens=true) drops the id (HF: its string is a special added
  // token's).
  virtual bool IsSpecial(TokenId id) const = 0;
  // tokenizer.json's added tokens, one per content, with the ids HF gives them on load (the
  // file's ids for every file we ship; see AssignAddedTokenIds in tokenizer.cc), by ascending
  // id.
  virtual const std::vector<AddedToken>& AddedTokens() const = 0;
  virtual const TokenizerConfig& Config() const = 0;

  // Ids of the config's bos/eos tokens, when the config names them and they exist.
  std::optional<TokenId> BosId() const;
  std::optional<TokenId> EosId() const;
};

}  // namespace r1serve::text
