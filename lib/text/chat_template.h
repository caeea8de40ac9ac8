// Chat templates: renders a conversation to the prompt string exactly as each model family's own
// Jinja chat template (tokenizer_config.json, rendered by Hugging Face transformers) would, for the
// families r1serve serves. The renderers are hand-written, one per template shape; no Jinja engine.
//
//   std::vector<ChatMessage> chat = {{"user", "What is 2+2?"}};
//   ASSIGN_OR_RETURN(std::string prompt, RenderChat(*tokenizer, chat, ChatTemplateOptions{}));
//   // DeepSeek-R1: "<｜begin▁of▁sentence｜><｜User｜>What is 2+2?<｜Assistant｜><think>\n"
//
// Per family (each one's template, reproduced; tests/conformance checks it against the real one):
// - kDeepSeekR1 (R1 and the R1-Distill models): every system message goes first, joined by "\n\n",
//   right after bos; an assistant turn keeps only the text after its last "</think>"; the
//   generation prompt "<｜Assistant｜><think>\n" opens the reasoning block. Tool results use the
//   <｜tool▁output▁begin｜> framing, and no generation prompt follows a trailing tool result (as in
//   the template: the model continues after <｜tool▁outputs▁end｜>).
// - kQwen2 (Qwen2.5, ChatML): a first system message, else Qwen's default system prompt.
// - kQwen3 (ChatML): no default system prompt; assistant turns after the last user query are
//   rendered with their reasoning in <think>…</think> (from reasoning_content, or split out of
//   content), earlier ones without it; enable_thinking=false appends an empty think block to the
//   generation prompt.
// - kLlama3: bos before the first message, every content trimmed of whitespace (Python's
//   str.strip(), as Jinja's `trim` filter is under transformers).
// Tool results (role "tool") are supported for the DeepSeek and Qwen families; assistant tool
// calls and tool definitions are not (a caller with tools must reject them before rendering).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/text/tokenizer.h"

namespace r1serve::text {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant" or "tool" (see the family's list)
  std::string content;
  // The assistant's reasoning, kept apart from its answer (DeepSeek API's reasoning_content).
  // Only Qwen3's template reads it; the others drop earlier reasoning anyway.
  std::optional<std::string> reasoning_content = std::nullopt;
};

struct ChatTemplateOptions {
  // End with the header of a new assistant turn, so that the model writes the answer.
  bool add_generation_prompt = true;
  // Qwen3 only: false asks the model to answer without thinking.
  bool enable_thinking = true;
};

// Renders `messages` with `family`'s template. `bos_token` is the tokenizer config's bos token
// content (DeepSeek and Llama 3 templates print it; "" when the config has none).
// InvalidArgument for an empty conversation, a role the family's template does not render, or a
// family without a built-in template (kUnknown).
absl::StatusOr<std::string> RenderChat(ChatFamily family, const std::vector<ChatMessage>& messages,
                                       const ChatTemplateOptions& options,
                                       std::string_view bos_token);

// Same, with the family and bos token from the tokenizer's tokenizer_config.json.
absl::StatusOr<std::string> RenderChat(const Tokenizer& tokenizer,
                                       const std::vector<ChatMessage>& messages,
                                       const ChatTemplateOptions& options);

}  // namespace r1serve::text
