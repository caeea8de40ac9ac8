#include "lib/verify/language_consistency.h"

#include <gtest/gtest.h>

namespace r1serve::verify {
namespace {

ScriptSet Target(std::string_view tag, std::string_view prompt = "") {
  absl::StatusOr<ScriptSet> target = TargetScripts(tag, prompt);
  EXPECT_TRUE(target.ok()) << target.status();
  return target.ok() ? *target : ScriptSet{};
}

TEST(LanguageConsistencyTest, TargetScriptsFromTags) {
  EXPECT_EQ(Target("en").name, "Latn");
  EXPECT_EQ(Target("fr-CA").name, "Latn");
  EXPECT_EQ(Target("zh").name, "Hani");
  EXPECT_EQ(Target("zh-Hant-TW").name, "Hani+Bopo");
  EXPECT_EQ(Target("ja").name, "Kana+Hira+Hani");
  EXPECT_EQ(Target("ko").name, "Hang+Hani");
  EXPECT_EQ(Target("ru").name, "Cyrl");
  EXPECT_EQ(TargetScripts("xx", "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TargetScripts("not a tag", "").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LanguageConsistencyTest, TargetDetectedFromThePrompt) {
  EXPECT_EQ(Target("", "Find all real x such that x^2 = 4.").name, "Latn");
  EXPECT_EQ(Target("", "求所有满足 $x^2 = 4$ 的实数 x。").name, "Hani");
  EXPECT_EQ(Target("und", "次の方程式を解きなさい。").name, "Hani+Hira+Kana");
  EXPECT_EQ(Target("", "다음 방정식을 푸시오").name, "Hang+Hani");
  // Math alone has no words to detect a language from.
  EXPECT_EQ(TargetScripts("", "$x^2 = 4$, 12 + 7 = ?").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(LanguageConsistencyTest, AllEnglish) {
  LanguageVerdict v =
      VerifyLanguageConsistency("We need the sum of the roots, so use Vieta.", Target("en"));
  EXPECT_EQ(v.reward, 1.0);
  EXPECT_EQ(v.words, v.target_words);
  EXPECT_GT(v.words, 5);
}

TEST(LanguageConsistencyTest, EnglishAndChineseMix) {
  // 4 English words and 2 Chinese words (dictionary segmentation: 我们 / 计算).
  const std::string reasoning = "First compute the sum. 我们计算";
  LanguageVerdict en = VerifyLanguageConsistency(reasoning, Target("en"));
  EXPECT_EQ(en.words, 6) << en.reason;
  EXPECT_EQ(en.target_words, 4);
  EXPECT_DOUBLE_EQ(en.reward, 4.0 / 6);
  EXPECT_EQ(en.reason, "4 of 6 words in Latn");
  LanguageVerdict zh = VerifyLanguageConsistency(reasoning, Target("zh"));
  EXPECT_EQ(zh.target_words, 2);
  EXPECT_DOUBLE_EQ(zh.reward, 2.0 / 6);
}

TEST(LanguageConsistencyTest, ChineseReasoningWithMathIsAllChinese) {
  // Variables, formulas, numbers and LaTeX are not words of any language.
  const std::string reasoning =
      "设 x 为实数，则 $x^2 - 5x + 6 = 0$，所以 x = 2 或 3。\\[ \\frac{a}{b} \\] 答案是 \\boxed{2}";
  LanguageVerdict v = VerifyLanguageConsistency(reasoning, Target("zh"));
  EXPECT_EQ(v.reward, 1.0) << v.reason;
  EXPECT_GT(v.words, 3);
}

TEST(LanguageConsistencyTest, CodeIsIgnored) {
  const std::string reasoning =
      "我们写一个函数。\n```python\ndef solve(nums):\n    return sorted(nums)\n```\n调用 "
      "`solve(a)` 和 my_helper 即可。";
  LanguageVerdict v = VerifyLanguageConsistency(reasoning, Target("zh"));
  EXPECT_EQ(v.reward, 1.0) << v.reason;
}

TEST(LanguageConsistencyTest, LatinWordsInChineseReasoningCount) {
  // Real English words (not one-letter variables) are language switches.
  LanguageVerdict v = VerifyLanguageConsistency("我们 compute 结果", Target("zh"));
  EXPECT_EQ(v.words, 3) << v.reason;
  EXPECT_EQ(v.target_words, 2);
}

TEST(LanguageConsistencyTest, NoWordsScoresZero) {
  LanguageVerdict v = VerifyLanguageConsistency("$1+1=2$ 42 !!", Target("en"));
  EXPECT_EQ(v.words, 0);
  EXPECT_EQ(v.reward, 0.0);
  EXPECT_EQ(v.reason, "no words in the reasoning");
}

TEST(LanguageConsistencyTest, UnclosedMathRunsToTheEnd) {
  // An unclosed "$" hides the rest, so a stray dollar cannot inflate the count.
  LanguageVerdict v = VerifyLanguageConsistency("It costs $5 and more", Target("en"));
  EXPECT_EQ(v.words, 2) << v.reason;  // It, costs
}

TEST(LanguageConsistencyTest, InvalidUtf8IsHandled) {
  LanguageVerdict v = VerifyLanguageConsistency("abc \xff\xfe def", Target("en"));
  EXPECT_EQ(v.target_words, 2);
}

}  // namespace
}  // namespace r1serve::verify
