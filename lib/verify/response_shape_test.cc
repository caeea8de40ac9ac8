#include "lib/verify/response_shape.h"

#include <gtest/gtest.h>

namespace r1serve::verify {
namespace {

TEST(ResponseShapeTest, OpenPromptCompletion) {
  ResponseShape s = ParseResponseShape("think hard\n</think>\n\n42", true);
  EXPECT_EQ(s.reasoning, "think hard\n");
  EXPECT_EQ(s.answer, "\n\n42");
  EXPECT_EQ(s.open_tags, 0);
  EXPECT_EQ(s.close_tags, 1);
}

TEST(ResponseShapeTest, OwnBlock) {
  ResponseShape s = ParseResponseShape("<think>a</think>b</think>c", false);
  EXPECT_EQ(s.reasoning, "a</think>b");  // up to the last closing
  EXPECT_EQ(s.answer, "c");
  EXPECT_EQ(s.before_open, "");
  EXPECT_EQ(s.close_tags, 2);
}

TEST(ResponseShapeTest, NoClosingMeansAllReasoningAndAllAnswer) {
  ResponseShape s = ParseResponseShape("cut off mid-thought", true);
  EXPECT_EQ(s.reasoning, "cut off mid-thought");
  EXPECT_EQ(s.answer, "cut off mid-thought");  // the proto's rule for answer readers
}

TEST(ResponseShapeTest, NoBlockAtAll) {
  ResponseShape s = ParseResponseShape("just an answer", false);
  EXPECT_EQ(s.reasoning, "just an answer");
  EXPECT_EQ(s.before_open, "just an answer");
}

TEST(ResponseShapeTest, Counting) {
  EXPECT_EQ(CountOccurrences("<think><think>", "<think>"), 2);
  EXPECT_EQ(CountOccurrences("", "<think>"), 0);
  EXPECT_TRUE(IsBlank(" \n\t"));
  EXPECT_FALSE(IsBlank(" x "));
}

}  // namespace
}  // namespace r1serve::verify
