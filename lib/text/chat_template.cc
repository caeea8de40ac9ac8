#include "lib/text/chat_template.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/text/utf8.h"

namespace r1serve::text {
namespace {

using Messages = std::vector<ChatMessage>;

// Debian's Abseil has its own string_view, which absl::StrAppend does not take from std's.
void Append(std::string* out, std::initializer_list<std::string_view> parts) {
  for (std::string_view part : parts) out->append(part);
}

// ---------------------------------------------------------------------------------------------
// Python string semantics the templates rely on (transformers renders them with Jinja2 on
// Python str, so "strip" means Python's strip).

// str.isspace(): the Unicode White_Space characters, plus U+001C..U+001F (the ASCII information
// separators, which Python counts as whitespace too).
bool IsPythonSpace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

// The character that `s` is exactly the encoding of, if it is one well-formed UTF-8 sequence.
std::optional<char32_t> SingleCharacter(std::string_view s) {
  size_t subpart = 0;
  if (s.empty() || WellFormedSequenceLength(s, &subpart) != s.size()) return std::nullopt;
  size_t length = 0;
  return DecodeUtf8(s, &length);
}

// Python's str.strip() with no argument. Bytes that are not UTF-8 are never whitespace.
std::string_view PythonStrip(std::string_view s) {
  while (!s.empty()) {
    size_t subpart = 0;
    const size_t length = WellFormedSequenceLength(s, &subpart);
    std::optional<char32_t> c = SingleCharacter(s.substr(0, length));
    if (!c || !IsPythonSpace(*c)) break;
    s.remove_prefix(length);
  }
  while (!s.empty()) {
    size_t length = 1;  // back up over continuation bytes to the start of the last character
    while (length < 4 && length < s.size() &&
           (static_cast<unsigned char>(s[s.size() - length]) & 0xC0) == 0x80) {
      ++length;
    }
    std::optional<char32_t> c = SingleCharacter(s.substr(s.size() - length));
    if (!c || !IsPythonSpace(*c)) break;
    s.remove_suffix(length);
  }
  return s;
}

// Python's str.strip('\n') / lstrip('\n') / rstrip('\n'): only newlines, not other whitespace.
std::string_view LStripNewlines(std::string_view s) {
  size_t n = s.find_first_not_of('\n');
  return n == std::string_view::npos ? std::string_view() : s.substr(n);
}
std::string_view RStripNewlines(std::string_view s) {
  size_t n = s.find_last_not_of('\n');
  return n == std::string_view::npos ? std::string_view() : s.substr(0, n + 1);
}
std::string_view StripNewlines(std::string_view s) { return LStripNewlines(RStripNewlines(s)); }

// s.split(sep)[-1] and s.split(sep)[0].
std::string_view AfterLast(std::string_view s, std::string_view sep) {
  size_t n = s.rfind(sep);
  return n == std::string_view::npos ? s : s.substr(n + sep.size());
}
std::string_view BeforeFirst(std::string_view s, std::string_view sep) {
  return s.substr(0, s.find(sep));
}

constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";

// ---------------------------------------------------------------------------------------------
// DeepSeek-R1 (DeepSeek-V3's template with R1's generation prompt and dropped reasoning).

constexpr std::string_view kDsUser = "<｜User｜>";
constexpr std::string_view kDsAssistant = "<｜Assistant｜>";
constexpr std::string_view kDsEndOfSentence = "<｜end▁of▁sentence｜>";
constexpr std::string_view kDsOutputsBegin = "<｜tool▁outputs▁begin｜>";
constexpr std::string_view kDsOutputsEnd = "<｜tool▁outputs▁end｜>";
constexpr std::string_view kDsOutputBegin = "<｜tool▁output▁begin｜>";
constexpr std::string_view kDsOutputEnd = "<｜tool▁output▁end｜>";

std::string RenderDeepSeekR1(const Messages& messages, const ChatTemplateOptions& options,
                             std::string_view bos_token) {
  std::string out(bos_token);
  bool first_system = true;
  for (const ChatMessage& m : messages) {
    if (m.role != "system") continue;
    Append(&out, {first_system ? "" : "\n\n", m.content});
    first_system = false;
  }

  bool after_tool_output = false;
  // The template never resets this flag: only the conversation's first tool result opens
  // <｜tool▁outputs▁begin｜>, later batches start with a bare newline. Reproduced as is.
  bool first_tool_output = true;
  for (const ChatMessage& m : messages) {
    if (m.role == "user") {
      after_tool_output = false;
      Append(&out, {kDsUser, m.content});
    } else if (m.role == "assistant") {
      if (after_tool_output) {
        // The reply to tool results keeps its text whole: R1's template splits off the
        // reasoning only in the ordinary branch.
        Append(&out, {kDsOutputsEnd, m.content, kDsEndOfSentence});
        after_tool_output = false;
      } else {
        Append(&out, {kDsAssistant, AfterLast(m.content, kThinkClose), kDsEndOfSentence});
      }
    } else if (m.role == "tool") {
      after_tool_output = true;
      Append(&out, {first_tool_output ? kDsOutputsBegin : std::string_view("\n"), kDsOutputBegin,
                    m.content, kDsOutputEnd});
      first_tool_output = false;
    }
  }
  if (after_tool_output) Append(&out, {kDsOutputsEnd});
  if (options.add_generation_prompt && !after_tool_output) {
    Append(&out, {kDsAssistant, kThinkOpen, "\n"});
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// ChatML (Qwen2.5 and Qwen3): one table row per dialect.

struct ChatMlDialect {
  // Rendered when the conversation does not start with a system message.
  std::optional<std::string_view> default_system_prompt;
  // Qwen3: assistant turns carry <think> blocks, and enable_thinking is honoured.
  bool reasoning_turns;
};

constexpr ChatMlDialect kQwen2Dialect = {
    "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.", false};
constexpr ChatMlDialect kQwen3Dialect = {std::nullopt, true};

void AppendChatMlTurn(std::string* out, std::string_view role, std::string_view content) {
  Append(out, {"<|im_start|>", role, "\n", content, "<|im_end|>\n"});
}

// Qwen3 renders reasoning only for the assistant turns after the last real user query (a user
// message that is not just a wrapped tool response): the turns of the current agentic step.
// Returns that query's index, or size-1 when there is none.
size_t LastUserQueryIndex(const Messages& messages) {
  for (size_t i = messages.size(); i-- > 0;) {
    const ChatMessage& m = messages[i];
    if (m.role != "user") continue;
    const bool wrapped_tool_response =
        m.content.starts_with("<tool_response>") && m.content.ends_with("</tool_response>");
    if (!wrapped_tool_response) return i;
  }
  return messages.size() - 1;
}

std::string Qwen3AssistantBody(const ChatMessage& m, bool in_current_step, bool is_last) {
  std::string_view content = m.content;
  std::string_view reasoning;
  if (m.reasoning_content.has_value()) {
    reasoning = *m.reasoning_content;
  } else if (content.find(kThinkClose) != std::string_view::npos) {
    reasoning =
        LStripNewlines(AfterLast(RStripNewlines(BeforeFirst(content, kThinkClose)), kThinkOpen));
    content = LStripNewlines(AfterLast(content, kThinkClose));
  }
  // Tested before stripping, as the template does: reasoning of only newlines still counts.
  if (in_current_step && (is_last || !reasoning.empty())) {
    std::string body;
    Append(&body, {kThinkOpen, "\n", StripNewlines(reasoning), "\n", kThinkClose, "\n\n",
                   LStripNewlines(content)});
    return body;
  }
  return std::string(content);
}

std::string RenderChatMl(const ChatMlDialect& dialect, const Messages& messages,
                         const ChatTemplateOptions& options) {
  std::string out;
  if (messages.front().role == "system") {
    AppendChatMlTurn(&out, "system", messages.front().content);
  } else if (dialect.default_system_prompt) {
    AppendChatMlTurn(&out, "system", *dialect.default_system_prompt);
  }
  const size_t last_query = LastUserQueryIndex(messages);
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    const bool is_last = i + 1 == messages.size();
    if (m.role == "user" || (m.role == "system" && i > 0)) {
      AppendChatMlTurn(&out, m.role, m.content);
    } else if (m.role == "assistant") {
      AppendChatMlTurn(&out, m.role,
                       dialect.reasoning_turns
                           ? Qwen3AssistantBody(m, /*in_current_step=*/i > last_query, is_last)
                           : m.content);
    } else if (m.role == "tool") {
      // Consecutive tool results share one user turn.
      if (i == 0 || messages[i - 1].role != "tool") Append(&out, {"<|im_start|>user"});
      Append(&out, {"\n<tool_response>\n", m.content, "\n</tool_response>"});
      if (is_last || messages[i + 1].role != "tool") Append(&out, {"<|im_end|>\n"});
    }
  }
  if (options.add_generation_prompt) {
    Append(&out, {"<|im_start|>assistant\n"});
    if (dialect.reasoning_turns && !options.enable_thinking) {
      Append(&out, {kThinkOpen, "\n\n", kThinkClose, "\n\n"});
    }
  }
  return out;
}

std::string RenderQwen2(const Messages& messages, const ChatTemplateOptions& options,
                        std::string_view) {
  return RenderChatMl(kQwen2Dialect, messages, options);
}

std::string RenderQwen3(const Messages& messages, const ChatTemplateOptions& options,
                        std::string_view) {
  return RenderChatMl(kQwen3Dialect, messages, options);
}

// ---------------------------------------------------------------------------------------------
// Llama 3.

std::string RenderLlama3(const Messages& messages, const ChatTemplateOptions& options,
                         std::string_view bos_token) {
  std::string out(bos_token);
  for (const ChatMessage& m : messages) {
    Append(&out, {"<|start_header_id|>", m.role, "<|end_header_id|>\n\n", PythonStrip(m.content),
                  "<|eot_id|>"});
  }
  if (options.add_generation_prompt) {
    Append(&out, {"<|start_header_id|>assistant<|end_header_id|>\n\n"});
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

struct ChatTemplate {
  ChatFamily family;
  // The roles the family's template renders; any other role is rejected rather than silently
  // dropped (DeepSeek's template ignores unknown roles) or printed verbatim (Llama 3's).
  // Unused slots are empty.
  std::array<std::string_view, 4> roles;
  std::string (*render)(const Messages&, const ChatTemplateOptions&, std::string_view bos_token);
};

constexpr ChatTemplate kChatTemplates[] = {
    {ChatFamily::kDeepSeekR1, {"system", "user", "assistant", "tool"}, RenderDeepSeekR1},
    {ChatFamily::kQwen2, {"system", "user", "assistant", "tool"}, RenderQwen2},
    {ChatFamily::kQwen3, {"system", "user", "assistant", "tool"}, RenderQwen3},
    {ChatFamily::kLlama3, {"system", "user", "assistant"}, RenderLlama3},
};

}  // namespace

absl::StatusOr<std::string> RenderChat(ChatFamily family, const Messages& messages,
                                       const ChatTemplateOptions& options,
                                       std::string_view bos_token) {
  const ChatTemplate* tmpl = nullptr;
  for (const ChatTemplate& t : kChatTemplates) {
    if (t.family == family) tmpl = &t;
  }
  if (tmpl == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no built-in chat template for tokenizer family \"", std::string(ChatFamilyName(family)),
        "\"; supported: DeepSeek-R1 (and R1-Distill), Qwen2.5, Qwen3, Llama 3"));
  }
  if (messages.empty()) {
    return absl::InvalidArgumentError(
        "cannot render an empty conversation: give at least one message");
  }
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string& role = messages[i].role;
    const auto& roles = tmpl->roles;
    if (role.empty() || std::find(roles.begin(), roles.end(), role) == roles.end()) {
      std::vector<std::string> known;
      for (std::string_view r : roles) {
        if (!r.empty()) known.emplace_back(r);
      }
      return absl::InvalidArgumentError(
          absl::StrCat("message ", i, " has role \"", role, "\", which the ",
                       std::string(ChatFamilyName(family)),
                       " chat template does not render; use one of: ", absl::StrJoin(known, ", ")));
    }
  }
  return tmpl->render(messages, options, bos_token);
}

absl::StatusOr<std::string> RenderChat(const Tokenizer& tokenizer, const Messages& messages,
                                       const ChatTemplateOptions& options) {
  const TokenizerConfig& config = tokenizer.Config();
  return RenderChat(config.chat_family, messages, options, config.bos_token.value_or(""));
}

}  // namespace r1serve::text
