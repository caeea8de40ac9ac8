#include "lib/verify/sandbox/code_block.h"

#include "gtest/gtest.h"

namespace r1serve::verify {
namespace {

TEST(ExtractLastCodeBlock, TakesTheLastCompleteBlock) {
  EXPECT_EQ(ExtractLastCodeBlock("Try:\n```python\nprint(1)\n```\nBetter:\n```python\nprint(2)\n"
                                 "x = 3\n```\nDone."),
            "print(2)\nx = 3\n");
}

TEST(ExtractLastCodeBlock, FenceWithoutLanguage) {
  EXPECT_EQ(ExtractLastCodeBlock("```\nprint(1)\n```"), "print(1)\n");
  EXPECT_EQ(ExtractLastCodeBlock("```cpp\nint main() {}\n```\n"), "int main() {}\n");
}

TEST(ExtractLastCodeBlock, LongerFencesAndIndentation) {
  EXPECT_EQ(ExtractLastCodeBlock("````python\ns = '```'\n````"), "s = '```'\n");
  EXPECT_EQ(ExtractLastCodeBlock("  ```python\n  x = 1\n  ```\n"), "  x = 1\n");
}

TEST(ExtractLastCodeBlock, UnclosedOrMissing) {
  EXPECT_EQ(ExtractLastCodeBlock("no code here"), std::nullopt);
  EXPECT_EQ(ExtractLastCodeBlock("```python\nprint(1)\n"), std::nullopt);
  // A truncated last block does not hide an earlier complete one.
  EXPECT_EQ(ExtractLastCodeBlock("```\na\n```\n```python\nb\n"), "a\n");
  EXPECT_EQ(ExtractLastCodeBlock("inline ```code``` only"), std::nullopt);
}

TEST(ExtractLastCodeBlock, EmptyBlockAndCrlf) {
  EXPECT_EQ(ExtractLastCodeBlock("```\n```"), "");
  EXPECT_EQ(ExtractLastCodeBlock("```python\r\nprint(1)\r\n```\r\n"), "print(1)\r\n");
}

}  // namespace
}  // namespace r1serve::verify
