// Unit tests of RenderChat: Qwen2.5 (whose template no peer package ships), the errors, and the
// Python string semantics where the JavaScript oracle of tests/conformance cannot be trusted.
#include "lib/text/chat_template.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace r1serve::text {
namespace {

using ::testing::HasSubstr;

constexpr char kQwenDefaultSystem[] =
    "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
    "assistant.<|im_end|>\n";
constexpr char kDsBos[] = "<｜begin▁of▁sentence｜>";

ChatTemplateOptions NoGenerationPrompt() {
  ChatTemplateOptions options;
  options.add_generation_prompt = false;
  return options;
}

std::string Render(ChatFamily family, const std::vector<ChatMessage>& messages,
                   const ChatTemplateOptions& options = {}, std::string_view bos = "") {
  absl::StatusOr<std::string> out = RenderChat(family, messages, options, bos);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.value_or("");
}

TEST(Qwen2ChatTemplate, DefaultSystemPromptWhenNoneGiven) {
  EXPECT_EQ(
      Render(ChatFamily::kQwen2, {{"user", "Hi"}}),
      std::string(kQwenDefaultSystem) + "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(Qwen2ChatTemplate, FirstSystemMessageReplacesDefault) {
  EXPECT_EQ(Render(ChatFamily::kQwen2, {{"system", "Be brief."}, {"user", "Hi"}}),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(Qwen2ChatTemplate, EmptyFirstSystemMessageStillReplacesDefault) {
  EXPECT_EQ(Render(ChatFamily::kQwen2, {{"system", ""}, {"user", "Hi"}}, NoGenerationPrompt()),
            "<|im_start|>system\n<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
}

TEST(Qwen2ChatTemplate, LaterSystemMessagesAreOrdinaryTurns) {
  EXPECT_EQ(Render(ChatFamily::kQwen2, {{"user", "a"}, {"system", "rule"}, {"user", "b"}},
                   NoGenerationPrompt()),
            std::string(kQwenDefaultSystem) +
                "<|im_start|>user\na<|im_end|>\n<|im_start|>system\nrule<|im_end|>\n"
                "<|im_start|>user\nb<|im_end|>\n");
}

TEST(Qwen2ChatTemplate, AssistantTurnsVerbatimAndReasoningIgnored) {
  ChatMessage answer{"assistant", "<think>\nr\n</think>\n\nA", "ignored reasoning"};
  ChatTemplateOptions options;
  options.enable_thinking = false;  // Qwen2.5's template has no such switch
  EXPECT_EQ(Render(ChatFamily::kQwen2, {{"user", "q"}, answer, {"user", "q2"}}, options),
            std::string(kQwenDefaultSystem) +
                "<|im_start|>user\nq<|im_end|>\n"
                "<|im_start|>assistant\n<think>\nr\n</think>\n\nA<|im_end|>\n"
                "<|im_start|>user\nq2<|im_end|>\n<|im_start|>assistant\n");
}

TEST(Qwen2ChatTemplate, ConsecutiveToolResultsShareOneUserTurn) {
  EXPECT_EQ(Render(ChatFamily::kQwen2,
                   {{"user", "q"}, {"tool", "r1"}, {"tool", "r2"}, {"assistant", "A"}},
                   NoGenerationPrompt()),
            std::string(kQwenDefaultSystem) +
                "<|im_start|>user\nq<|im_end|>\n"
                "<|im_start|>user\n<tool_response>\nr1\n</tool_response>\n"
                "<tool_response>\nr2\n</tool_response><|im_end|>\n"
                "<|im_start|>assistant\nA<|im_end|>\n");
}

TEST(Qwen2ChatTemplate, ToolResultAtEndClosesItsTurn) {
  EXPECT_EQ(Render(ChatFamily::kQwen2, {{"tool", "r"}}),
            std::string(kQwenDefaultSystem) +
                "<|im_start|>user\n<tool_response>\nr\n</tool_response><|im_end|>\n"
                "<|im_start|>assistant\n");
}

TEST(DeepSeekR1ChatTemplate, GenerationPromptOpensThinkBlock) {
  EXPECT_EQ(Render(ChatFamily::kDeepSeekR1, {{"user", "2+2?"}}, {}, kDsBos),
            "<｜begin▁of▁sentence｜><｜User｜>2+2?<｜Assistant｜><think>\n");
}

TEST(DeepSeekR1ChatTemplate, EarlierAnswersKeepTextAfterLastThinkClose) {
  EXPECT_EQ(Render(ChatFamily::kDeepSeekR1,
                   {{"user", "a"}, {"assistant", "<think>x</think>y</think>\n\nz"}, {"user", "b"}},
                   NoGenerationPrompt(), kDsBos),
            "<｜begin▁of▁sentence｜><｜User｜>a<｜Assistant｜>\n\nz<｜end▁of▁sentence｜>"
            "<｜User｜>b");
}

TEST(DeepSeekR1ChatTemplate, SystemMessagesGoFirstJoined) {
  EXPECT_EQ(Render(ChatFamily::kDeepSeekR1,
                   {{"system", "one"}, {"user", "a"}, {"system", "two"}, {"user", "b"}},
                   NoGenerationPrompt(), kDsBos),
            "<｜begin▁of▁sentence｜>one\n\ntwo<｜User｜>a<｜User｜>b");
}

TEST(DeepSeekR1ChatTemplate, NoGenerationPromptAfterTrailingToolResult) {
  EXPECT_EQ(Render(ChatFamily::kDeepSeekR1, {{"user", "a"}, {"tool", "r"}}, {}, kDsBos),
            "<｜begin▁of▁sentence｜><｜User｜>a<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>r"
            "<｜tool▁output▁end｜><｜tool▁outputs▁end｜>");
}

// Jinja's str.strip('\n') in Python strips newlines only; the JavaScript engine the oracle uses
// strips all whitespace, so these cases live here.
TEST(Qwen3ChatTemplate, StripsOnlyNewlinesAroundReasoningAndAnswer) {
  EXPECT_EQ(
      Render(ChatFamily::kQwen3, {{"user", "q"}, {"assistant", " 4, 5"}}, NoGenerationPrompt()),
      "<|im_start|>user\nq<|im_end|>\n"
      "<|im_start|>assistant\n<think>\n\n</think>\n\n 4, 5<|im_end|>\n");
  EXPECT_EQ(Render(ChatFamily::kQwen3,
                   {{"user", "q"}, {"assistant", "<think>\n  indented\t\n</think>\n\n\tA "}},
                   NoGenerationPrompt()),
            "<|im_start|>user\nq<|im_end|>\n"
            "<|im_start|>assistant\n<think>\n  indented\t\n</think>\n\n\tA <|im_end|>\n");
}

TEST(Qwen3ChatTemplate, DisabledThinkingAppendsEmptyThinkBlock) {
  ChatTemplateOptions options;
  options.enable_thinking = false;
  EXPECT_EQ(Render(ChatFamily::kQwen3, {{"user", "q"}}, options),
            "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
}

// Jinja's `trim` is Python's str.strip(); JavaScript's trim() differs on these characters.
TEST(Llama3ChatTemplate, TrimsPythonWhitespace) {
  const std::string separators = "\x1c\x1d\x1e\x1f";
  const std::string next_line = "\xc2\x85";  // U+0085
  const std::string bom = "\xef\xbb\xbf";    // U+FEFF is not whitespace to Python
  EXPECT_EQ(Render(ChatFamily::kLlama3,
                   {{"user", separators + next_line + " a " + next_line + separators},
                    {"user", bom + "b" + bom}},
                   NoGenerationPrompt(), "<|begin_of_text|>"),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\na<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\n" +
                bom + "b" + bom + "<|eot_id|>");
}

TEST(Llama3ChatTemplate, TrimLeavesInvalidUtf8Alone) {
  EXPECT_EQ(Render(ChatFamily::kLlama3, {{"user", " \xe3\x80 \xff "}}, NoGenerationPrompt()),
            "<|start_header_id|>user<|end_header_id|>\n\n\xe3\x80 \xff<|eot_id|>");
}

TEST(Llama3ChatTemplate, TrimsWideSpacesAndEmptiesBlankContent) {
  EXPECT_EQ(Render(ChatFamily::kLlama3, {{"user", "\u3000\u2003 x\u00a0"}, {"assistant", " \n "}},
                   {}, "<|begin_of_text|>"),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nx<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(RenderChatErrors, EmptyConversation) {
  absl::StatusOr<std::string> out = RenderChat(ChatFamily::kQwen3, {}, {}, "");
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(out.status().message(), HasSubstr("empty conversation"));
}

TEST(RenderChatErrors, UnknownRoleNamesIndexRoleAndChoices) {
  absl::StatusOr<std::string> out =
      RenderChat(ChatFamily::kDeepSeekR1, {{"user", "a"}, {"developer", "b"}}, {}, kDsBos);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(out.status().message(), HasSubstr("message 1"));
  EXPECT_THAT(out.status().message(), HasSubstr("\"developer\""));
  EXPECT_THAT(out.status().message(), HasSubstr("system, user, assistant, tool"));
}

TEST(RenderChatErrors, Llama3HasNoToolRole) {
  absl::StatusOr<std::string> out =
      RenderChat(ChatFamily::kLlama3, {{"user", "a"}, {"tool", "r"}}, {}, "");
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(out.status().message(), HasSubstr("\"tool\""));
}

TEST(RenderChatErrors, EmptyRole) {
  EXPECT_EQ(RenderChat(ChatFamily::kLlama3, {{"", "a"}}, {}, "").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RenderChatErrors, UnknownFamily) {
  absl::StatusOr<std::string> out = RenderChat(ChatFamily::kUnknown, {{"user", "a"}}, {}, "");
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(out.status().message(), HasSubstr("no built-in chat template"));
}

}  // namespace
}  // namespace r1serve::text
