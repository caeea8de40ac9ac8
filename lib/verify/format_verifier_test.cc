#include "lib/verify/format_verifier.h"

#include <gtest/gtest.h>

namespace r1serve::verify {
namespace {

constexpr FormatOptions kStrict{};
constexpr FormatOptions kPartial{.partial_credit = true};

TEST(FormatVerifierTest, R1CompletionAfterOpenPrompt) {
  // R1's prompt ends in "<think>\n": the completion closes the block and answers.
  FormatVerdict v =
      VerifyFormat("Six sevens are 42.\n</think>\n\nThe answer is 42.", true, kStrict);
  EXPECT_EQ(v.reward, 1.0);
  EXPECT_EQ(v.reason, "R1 format");
}

TEST(FormatVerifierTest, CompletionThatOpensItsOwnBlock) {
  EXPECT_EQ(VerifyFormat("<think>\nhmm\n</think>\n42", false, kStrict).reward, 1.0);
  EXPECT_EQ(VerifyFormat("  \n<think>hmm</think>42", false, kStrict).reward, 1.0);
  // An empty reasoning block is still R1's shape (R1 writes one for trivial prompts).
  EXPECT_EQ(VerifyFormat("<think>\n\n</think>\n\nHello!", false, kStrict).reward, 1.0);
}

TEST(FormatVerifierTest, OpeningDependsOnWhereThePromptEnded) {
  // The same text read the other way: a "<think>" where the prompt already opened the block is a
  // second block; no "<think>" where the prompt did not open one is a missing opening.
  FormatVerdict repeated = VerifyFormat("<think>\nhmm\n</think>\n42", true, kStrict);
  EXPECT_EQ(repeated.reward, 0.0);
  EXPECT_NE(repeated.reason.find("already opened"), std::string::npos) << repeated.reason;
  FormatVerdict missing = VerifyFormat("hmm\n</think>\n42", false, kStrict);
  EXPECT_EQ(missing.reward, 0.0);
  EXPECT_EQ(missing.reason, "missing <think>");
}

TEST(FormatVerifierTest, StrictFailures) {
  struct Case {
    const char* response;
    bool starts_in_reasoning;
    const char* reason;
  } cases[] = {
      {"still thinking when max_tokens hit", true,
       "missing </think>; no answer after a closed block"},
      {"a</think>b</think>c", true, "2 </think> tags"},
      {"reasoning</think>\n  \n", true, "empty answer after </think>"},
      {"Sure! <think>x</think>42", false, "text before <think>"},
      {"<think>a<think>b</think>42", false, "2 <think> tags"},
      {"</think><think>x", false, "text before <think>; </think> before <think>"},
  };
  for (const Case& c : cases) {
    FormatVerdict v = VerifyFormat(c.response, c.starts_in_reasoning, kStrict);
    EXPECT_EQ(v.reward, 0.0) << c.response;
    EXPECT_EQ(v.reason, c.reason) << c.response;
  }
}

TEST(FormatVerifierTest, PartialCreditPaysAThirdPerCheck) {
  EXPECT_EQ(VerifyFormat("x</think>42", true, kPartial).reward, 1.0);
  // Opening right, never closed: one check of three.
  FormatVerdict open_only = VerifyFormat("thinking forever", true, kPartial);
  EXPECT_DOUBLE_EQ(open_only.reward, 1.0 / 3);
  EXPECT_NE(open_only.reason.find("(1 of 3 checks pass)"), std::string::npos) << open_only.reason;
  // Opening and closing right, empty answer: two of three.
  EXPECT_DOUBLE_EQ(VerifyFormat("<think>x</think>  ", false, kPartial).reward, 2.0 / 3);
  // Missing <think> but closed and answered: two of three.
  EXPECT_DOUBLE_EQ(VerifyFormat("x</think>42", false, kPartial).reward, 2.0 / 3);
  // Nothing right: a repeated opening, two closings, nothing after the last one.
  EXPECT_DOUBLE_EQ(VerifyFormat("<think>a</think>b</think>", true, kPartial).reward, 0.0);
}

TEST(FormatVerifierTest, TagsAreExact) {
  // Look-alikes are not tags: the block is never closed.
  EXPECT_EQ(VerifyFormat("x</Think>42", true, kStrict).reward, 0.0);
  EXPECT_EQ(VerifyFormat("x< /think>42", true, kStrict).reward, 0.0);
}

}  // namespace
}  // namespace r1serve::verify
