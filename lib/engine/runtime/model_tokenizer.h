// The tokenizer that comes with a model: a Hugging Face folder's tokenizer.json and
// tokenizer_config.json, or a GGUF file's embedded vocabulary (tokenizer.ggml.*), which is
// turned back into the tokenizer.json it was converted from, so that one tokenizer
// implementation (lib/text) serves both formats.
//
//   ASSIGN_OR_RETURN(ModelTokenizer tok, LoadModelTokenizer(*model));
//   std::vector<text::TokenId> ids = tok.tokenizer->Encode(text, /*add_special_tokens=*/true);
//   if (tok.add_bos && tok.bos_id && (ids.empty() || ids[0] != *tok.bos_id))
//     ids.insert(ids.begin(), *tok.bos_id);
//
// GGUF -> tokenizer.json, for byte-level BPE vocabularies (tokenizer.ggml.model "gpt2"), the
// inverse of llama.cpp's convert_hf_to_gguf.py (and of format/tokenizer_files.h):
// - every token but UNUSED ones ("[PAD<i>]" padding) goes into model.vocab under its id; CONTROL
//   and USER_DEFINED tokens are also added tokens (special when CONTROL), which is how HF lists
//   them; merges are copied. GGUF keeps no more than that: the converter makes every token that
//   looks special (<|...|>, <｜...｜>) CONTROL, so e.g. Qwen's <|fim_prefix|> is special here
//   (skip_special_tokens drops it, as llama.cpp does) though its tokenizer.json says it is not;
// - tokenizer.ggml.pre names the family, whose normalizer, pre-tokenizer regexes, ignore_merges
//   and post-processor are restored from a table ("deepseek-v3", "qwen2" / "deepseek-r1-qwen",
//   "llama-bpe"); another name is an error naming it;
// - bos/eos token ids, add_bos_token and tokenizer.chat_template become tokenizer_config.json.
// Encoding then matches the HF folder's tokenizer on the families above (model_tokenizer_test).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "lib/engine/format/gguf.h"
#include "lib/engine/format/model.h"
#include "lib/text/tokenizer.h"

namespace r1serve::engine {

struct ModelTokenizer {
  std::shared_ptr<const text::Tokenizer> tokenizer;
  // Whether a raw prompt should start with BOS (tokenizer_config.json's add_bos_token /
  // tokenizer.ggml.add_bos_token): transformers and llama.cpp prepend it for such models even
  // where tokenizer.json's own post-processor does not.
  bool add_bos = false;
  std::optional<text::TokenId> bos_id;
};

struct TokenizerJsonFiles {
  std::string tokenizer_json;
  std::string tokenizer_config_json;
};

// The tokenizer.json / tokenizer_config.json text for a GGUF file's vocabulary. NOT_FOUND when
// the file has no tokenizer; INVALID_ARGUMENT for a model type other than "gpt2", an unknown
// pre-tokenizer or inconsistent arrays.
absl::StatusOr<TokenizerJsonFiles> GgufTokenizerJson(const GgufFile& gguf);

// The model's tokenizer: <folder>/tokenizer.json (+ tokenizer_config.json) for a Hugging Face
// folder, the embedded vocabulary for GGUF. NOT_FOUND when the model ships none.
absl::StatusOr<ModelTokenizer> LoadModelTokenizer(const Model& model);

}  // namespace r1serve::engine
