// A Hugging Face tokenizer (tokenizer.json + tokenizer_config.json) prepared for shipping with
// a model: the two files' text to copy into an HF folder, and the vocabulary in the form
// llama.cpp reads from GGUF metadata (tokenizer.ggml.*), built as llama.cpp's
// convert_hf_to_gguf.py builds it for byte-level BPE ("gpt2") tokenizers.
//
//   ASSIGN_OR_RETURN(TokenizerFiles tok, LoadTokenizerFiles(dir, {.r1_think_tokens = true}));
//   RETURN_IF_ERROR(tok.PadVocabulary(config.vocab_size));  // "[PAD<i>]" up to the model's size
//   tok.AddToGguf(&gguf_writer);
//
// GGUF vocabulary, as the converter derives it: token i is the vocab entry or added token with
// id i, "[PAD<i>]" (type UNUSED) where there is none; added tokens are CONTROL when special or
// when they look special (<|...|>, <｜...｜>), else USER_DEFINED (with "▁" pre-normalized to " ");
// all others NORMAL. Merges are "left right" strings. tokenizer.ggml.pre names llama.cpp's
// pre-tokenizer, recognized from the tokenizer.json pre-tokenizer regex (see kPreTokenizers in
// the .cc): "deepseek-v3", "deepseek-r1-qwen" / "qwen2", "llama-bpe".
//
// R1 adaptation (r1_think_tokens): DeepSeek-V3's vocabulary has placeholders at ids 128798 and
// 128799 that DeepSeek-R1's own tokenizer.json names "<think>" and "</think>" (added, not
// special, normalized), and R1's chat template is V3's with the generation prompt
// "<｜Assistant｜><think>\n" and earlier assistant turns cut to the text after "</think>". With
// the option on, a tokenizer holding those placeholders is rewritten that way; others are left
// as they are.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/engine/format/gguf_writer.h"

namespace r1serve::engine {

struct TokenizerFilesOptions {
  bool r1_think_tokens = true;
  // llama.cpp pre-tokenizer name; empty: recognized from the regex (an error if unknown).
  std::string gguf_pre;
};

// llama.cpp's token types (llama_token_type).
enum class GgufTokenType : int32_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

struct TokenizerFiles {
  std::string tokenizer_json;  // text for the HF folder (rewritten when adapted)
  std::string tokenizer_config_json;
  bool adapted_for_r1 = false;

  std::vector<std::string> tokens;   // [size], index = token id
  std::vector<int32_t> token_types;  // [size], GgufTokenType values
  std::vector<std::string> merges;
  std::string pre;
  int64_t bos_id = -1;
  int64_t eos_id = -1;
  int64_t pad_id = -1;
  std::optional<bool> add_bos;
  std::optional<bool> add_eos;
  std::string chat_template;

  int64_t size() const { return static_cast<int64_t>(tokens.size()); }
  // Extends the GGUF vocabulary with "[PAD<i>]" UNUSED tokens up to `vocab_size` (a model's
  // embedding may be larger than its tokenizer); InvalidArgument when it is smaller.
  absl::Status PadVocabulary(int64_t vocab_size);
  // Writes tokenizer.ggml.* and tokenizer.chat_template.
  void AddToGguf(GgufWriter* writer) const;
};

// Reads <dir>/tokenizer.json and <dir>/tokenizer_config.json. Errors name the file and field.
absl::StatusOr<TokenizerFiles> LoadTokenizerFiles(const std::string& dir,
                                                  const TokenizerFilesOptions& options);

}  // namespace r1serve::engine
