#include "lib/verify/reward_scorer.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "lib/verify/reward_spec.h"
#include "lib/verify/verifier_version.h"

namespace r1serve::verify {
namespace {

constexpr char kGoodMath[] = "7 * 6 = 42, checked.\n</think>\n\nThe answer is $\\boxed{42}$.";

// An item of R1's usual shape: the prompt opened the think block.
RewardItem Item(std::string id, TaskType type, std::string response) {
  RewardItem item;
  item.id = std::move(id);
  item.response = std::move(response);
  item.starts_in_reasoning = true;
  item.task.type = type;
  return item;
}

RewardItem MathItem(std::string response = kGoodMath) {
  RewardItem item = Item("m", TaskType::kMath, std::move(response));
  item.prompt = "What is 7 * 6?";
  item.task.reference_answer = "42";
  return item;
}

RewardSpec Spec(std::vector<ComponentWeight> components) {
  return RewardSpec{.components = std::move(components)};
}

bool HasPython() {
  std::vector<std::string> languages = SupportedCodeLanguages();
  return std::find(languages.begin(), languages.end(), "python") != languages.end();
}

TEST(RewardScorerTest, MathDefaultSpec) {
  RewardScorer scorer{RewardConfig{}};
  RewardResult r = scorer.Score(MathItem());
  ASSERT_TRUE(r.error.ok()) << r.error;
  EXPECT_EQ(r.id, "m");
  EXPECT_EQ(r.verdict, Verdict::kCorrect);
  EXPECT_EQ(r.total_reward, 1.0);
  EXPECT_EQ(r.extracted_answer, "42");
  ASSERT_EQ(r.components.size(), 1u);
  EXPECT_EQ(r.components[0].component, RewardComponent::kMathAnswer);
  EXPECT_EQ(r.components[0].weight, 1.0);
  EXPECT_FALSE(r.components[0].reason.empty());
  EXPECT_EQ(r.verifier_version, kVerifierVersion);
  EXPECT_EQ(r.config_hash.size(), 64u);
  EXPECT_GT(r.verify_time, absl::ZeroDuration());

  RewardResult wrong = scorer.Score(MathItem("hmm</think>\\boxed{41}"));
  EXPECT_EQ(wrong.verdict, Verdict::kWrong);
  EXPECT_EQ(wrong.total_reward, 0.0);
  EXPECT_EQ(scorer.Score(MathItem("no idea</think>I give up.")).verdict, Verdict::kNoAnswer);
}

TEST(RewardScorerTest, DefaultSpecs) {
  EXPECT_EQ(DefaultSpec(TaskType::kFormat)->components[0].component, RewardComponent::kFormat);
  EXPECT_EQ(DefaultSpec(TaskType::kLanguage)->components[0].component,
            RewardComponent::kLanguageConsistency);
  EXPECT_EQ(DefaultSpec(TaskType::kCode)->components[0].component, RewardComponent::kCodeTests);
  EXPECT_FALSE(DefaultSpec(TaskType::kComposite).has_value());
  EXPECT_FALSE(DefaultSpec(TaskType::kUnspecified).has_value());
}

TEST(RewardScorerTest, CompositeWeightsInSpecOrder) {
  RewardScorer scorer{RewardConfig{}};
  RewardItem item = MathItem();
  item.task.type = TaskType::kComposite;
  item.task.target_language = "en";
  item.task.spec = Spec({{RewardComponent::kFormat, 0.5},
                         {RewardComponent::kMathAnswer, 2.0},
                         {RewardComponent::kLanguageConsistency, 0.25}});
  RewardResult r = scorer.Score(item);
  ASSERT_TRUE(r.error.ok()) << r.error;
  ASSERT_EQ(r.components.size(), 3u);
  EXPECT_EQ(r.components[0].component, RewardComponent::kFormat);
  EXPECT_EQ(r.components[1].component, RewardComponent::kMathAnswer);
  EXPECT_EQ(r.components[2].component, RewardComponent::kLanguageConsistency);
  EXPECT_EQ(r.components[0].reward, 1.0);
  EXPECT_EQ(r.components[2].reward, 1.0) << r.components[2].reason;
  EXPECT_DOUBLE_EQ(r.total_reward, 0.5 + 2.0 + 0.25);
  // The verdict is the math component's even though it is not first.
  EXPECT_EQ(r.verdict, Verdict::kCorrect);
  EXPECT_EQ(r.extracted_answer, "42");
}

TEST(RewardScorerTest, NegativeAndZeroWeights) {
  RewardScorer scorer{RewardConfig{}};
  RewardItem item = MathItem("no closing tag, \\boxed{42}");
  item.task.spec = Spec({{RewardComponent::kMathAnswer, 1.0}, {RewardComponent::kFormat, 0.0}});
  RewardResult r = scorer.Score(item);
  EXPECT_EQ(r.total_reward, 1.0);
  EXPECT_EQ(r.components[1].reward, 0.0);
  EXPECT_NE(r.components[1].reason.find("missing </think>"), std::string::npos);
  // A well-formed answer under a penalty weight: the format pays -1.
  item.response = kGoodMath;
  item.task.spec = Spec({{RewardComponent::kFormat, -1.0}});
  r = scorer.Score(item);
  EXPECT_EQ(r.total_reward, -1.0);
  EXPECT_EQ(r.verdict, Verdict::kUnspecified);  // no correctness component
  EXPECT_TRUE(r.extracted_answer.empty());
}

TEST(RewardScorerTest, MalformedItemsAreErrors) {
  RewardScorer scorer{RewardConfig{}};
  auto error_of = [&](RewardItem item) {
    RewardResult r = scorer.Score(item);
    EXPECT_EQ(r.verdict, Verdict::kError);
    EXPECT_EQ(r.total_reward, 0.0);
    EXPECT_TRUE(r.components.empty());
    EXPECT_EQ(r.verifier_version, kVerifierVersion);
    return r.error;
  };
  RewardItem composite = MathItem();
  composite.task.type = TaskType::kComposite;
  EXPECT_EQ(error_of(composite).code(), absl::StatusCode::kInvalidArgument);
  RewardItem unspecified = MathItem();
  unspecified.task.type = TaskType::kUnspecified;
  EXPECT_EQ(error_of(unspecified).code(), absl::StatusCode::kInvalidArgument);
  // An unspecified task type is fine when the spec names the components.
  unspecified.task.spec = Spec({{RewardComponent::kFormat, 1.0}});
  EXPECT_TRUE(scorer.Score(unspecified).error.ok());

  RewardItem twice = MathItem();
  twice.task.spec = Spec({{RewardComponent::kFormat, 1.0}, {RewardComponent::kFormat, 1.0}});
  EXPECT_NE(error_of(twice).message().find("twice"), std::string::npos);
  RewardItem infinite = MathItem();
  infinite.task.spec = Spec({{RewardComponent::kFormat, 1.0 / 0.0}});
  EXPECT_EQ(error_of(infinite).code(), absl::StatusCode::kInvalidArgument);
  RewardItem unknown = MathItem();
  unknown.task.spec = Spec({{RewardComponent::kUnspecified, 1.0}});
  EXPECT_EQ(error_of(unknown).code(), absl::StatusCode::kInvalidArgument);
  RewardItem no_reference = MathItem();
  no_reference.task.reference_answer = "  ";
  EXPECT_NE(error_of(no_reference).message().find("reference_answer"), std::string::npos);
  RewardItem bad_language = MathItem();
  bad_language.task.spec = Spec({{RewardComponent::kLanguageConsistency, 1.0}});
  bad_language.task.target_language = "xx";
  EXPECT_EQ(error_of(bad_language).code(), absl::StatusCode::kInvalidArgument);
  RewardItem cobol = MathItem();
  cobol.task.type = TaskType::kCode;
  cobol.task.code = {.language = "cobol", .tests = {StdioCase{"", ""}}};
  EXPECT_NE(error_of(cobol).message().find("cobol"), std::string::npos);
  RewardItem negative = MathItem();
  negative.timeout = absl::Seconds(-1);
  EXPECT_EQ(error_of(negative).code(), absl::StatusCode::kInvalidArgument);
}

TEST(RewardScorerTest, LanguageTargetFromPrompt) {
  RewardScorer scorer{RewardConfig{}};
  RewardItem item = Item("l", TaskType::kLanguage,
                         "我们先计算 $7 \\times 6$，得到 42。然后 check 一下。</think>42");
  item.prompt = "计算七乘以六。";
  RewardResult r = scorer.Score(item);
  ASSERT_TRUE(r.error.ok()) << r.error;
  ASSERT_EQ(r.components.size(), 1u);
  EXPECT_GT(r.components[0].reward, 0.5);
  EXPECT_LT(r.components[0].reward, 1.0);  // "check" is an English word
  EXPECT_NE(r.components[0].reason.find("Hani"), std::string::npos) << r.components[0].reason;
}

TEST(RewardScorerTest, TimeoutIsAVerdictNotASilentZero) {
  RewardScorer scorer{RewardConfig{}};
  RewardItem item = MathItem();
  item.task.spec = Spec({{RewardComponent::kMathAnswer, 1.0}, {RewardComponent::kFormat, 1.0}});
  // The call's deadline has already passed when the item is taken up.
  RewardResult r = scorer.Score(item, absl::Now() - absl::Seconds(1));
  EXPECT_TRUE(r.error.ok());
  EXPECT_EQ(r.verdict, Verdict::kTimeout);
  EXPECT_EQ(r.total_reward, 0.0);
  ASSERT_EQ(r.components.size(), 2u);
  EXPECT_NE(r.components[0].reason.find("timeout"), std::string::npos) << r.components[0].reason;
  // The item's own timeout works the same way.
  item.timeout = absl::Nanoseconds(1);
  EXPECT_EQ(scorer.Score(item).verdict, Verdict::kTimeout);
}

TEST(RewardScorerTest, ConfigHashIsStableAndSensitive) {
  RewardScorer a{RewardConfig{}};
  RewardScorer b{RewardConfig{}};
  EXPECT_EQ(a.config_hash(), b.config_hash());
  EXPECT_EQ(a.config_hash(), ConfigHash(RewardConfig{}));

  RewardItem item = MathItem();
  const std::string default_hash = a.Score(item).config_hash;
  EXPECT_EQ(default_hash, b.Score(item).config_hash);
  EXPECT_NE(default_hash, a.config_hash());  // a result's hash covers the spec as well
  // Spelling out the default spec changes nothing; changing a weight changes the hash.
  item.task.spec = Spec({{RewardComponent::kMathAnswer, 1.0}});
  EXPECT_EQ(a.Score(item).config_hash, default_hash);
  item.task.spec = Spec({{RewardComponent::kMathAnswer, 0.9}});
  EXPECT_NE(a.Score(item).config_hash, default_hash);
  // Order matters (the verdict comes from the first correctness component).
  RewardSpec ab = Spec({{RewardComponent::kMathAnswer, 1.0}, {RewardComponent::kFormat, 1.0}});
  RewardSpec ba = Spec({{RewardComponent::kFormat, 1.0}, {RewardComponent::kMathAnswer, 1.0}});
  EXPECT_NE(ScoreConfigHash(RewardConfig{}, ab), ScoreConfigHash(RewardConfig{}, ba));
  // Code scoring counts only where code is scored.
  RewardSpec fraction = ab;
  fraction.code_scoring = CodeScoring::kFractionPassed;
  EXPECT_EQ(ScoreConfigHash(RewardConfig{}, ab), ScoreConfigHash(RewardConfig{}, fraction));
  RewardSpec code = Spec({{RewardComponent::kCodeTests, 1.0}});
  RewardSpec code_fraction = code;
  code_fraction.code_scoring = CodeScoring::kFractionPassed;
  EXPECT_NE(ScoreConfigHash(RewardConfig{}, code), ScoreConfigHash(RewardConfig{}, code_fraction));

  // Settings that change scores change the hash; the item timeout does not.
  RewardConfig partial;
  partial.format.partial_credit = true;
  EXPECT_NE(ConfigHash(partial), a.config_hash());
  RewardConfig slow_tests;
  slow_tests.code_limits.test_timeout = absl::Seconds(7);
  EXPECT_NE(ConfigHash(slow_tests), a.config_hash());
  RewardConfig math_caps;
  math_caps.math.numeric_points = 3;
  EXPECT_NE(ConfigHash(math_caps), a.config_hash());
  RewardConfig patient;
  patient.default_item_timeout = absl::Minutes(5);
  EXPECT_EQ(ConfigHash(patient), a.config_hash());
}

TEST(RewardScorerTest, FormatPartialCreditFromConfig) {
  RewardConfig config;
  config.format.partial_credit = true;
  RewardScorer scorer{config};
  RewardItem item = MathItem("never closes");
  item.task.type = TaskType::kFormat;
  RewardResult r = scorer.Score(item);
  EXPECT_DOUBLE_EQ(r.total_reward, 1.0 / 3);
}

TEST(RewardScorerTest, CodeTestsBadTestsAreItemErrors) {
  if (!HasPython()) GTEST_SKIP() << "no python sandbox on this host";
  RewardScorer scorer{RewardConfig{}};
  RewardItem item = Item("c", TaskType::kCode, "</think>```python\ndef f(a):\n    return a\n```");
  item.task.code.tests = {FunctionCallCase{"f", "not json", "1"}};
  EXPECT_NE(scorer.Score(item).error.message().find("arguments_json"), std::string::npos);
  // Refused up front, as an item error, not run and reported as a sandbox failure.
  item.task.code.tests = {FunctionCallCase{"f()", "[1]", "1"}};
  const RewardResult bad_name = scorer.Score(item);
  EXPECT_EQ(bad_name.error.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad_name.error.message().find("function_name"), std::string::npos);
  EXPECT_EQ(bad_name.error.message().find("sandbox failed"), std::string::npos);
  item.task.code.tests = {};
  EXPECT_EQ(scorer.Score(item).error.code(), absl::StatusCode::kInvalidArgument);
}

TEST(RewardScorerTest, CodeTestsScoring) {
  if (!HasPython()) GTEST_SKIP() << "no python sandbox on this host";
  RewardScorer scorer{RewardConfig{}};
  RewardItem item =
      Item("c", TaskType::kCode,
           "Add them.\n</think>\n```python\nprint(sum(map(int, input().split())))\n```\n");
  item.task.code.tests = {StdioCase{"1 2\n", "3\n"}, StdioCase{"2 2\n", "5\n"}};
  RewardResult all_or_nothing = scorer.Score(item);
  ASSERT_TRUE(all_or_nothing.error.ok()) << all_or_nothing.error;
  EXPECT_EQ(all_or_nothing.verdict, Verdict::kWrong);
  EXPECT_EQ(all_or_nothing.total_reward, 0.0);
  EXPECT_EQ(all_or_nothing.sandbox_outcome, SandboxOutcome::kSomeFailed);
  EXPECT_NE(all_or_nothing.components[0].reason.find("1 of 2 tests failed: test 2"),
            std::string::npos)
      << all_or_nothing.components[0].reason;
  EXPECT_NE(all_or_nothing.extracted_answer.find("print(sum"), std::string::npos);

  item.task.spec.code_scoring = CodeScoring::kFractionPassed;
  EXPECT_EQ(scorer.Score(item).total_reward, 0.5);
  item.task.code.tests.pop_back();
  RewardResult passed = scorer.Score(item);
  EXPECT_EQ(passed.verdict, Verdict::kCorrect);
  EXPECT_EQ(passed.total_reward, 1.0);
  EXPECT_EQ(passed.sandbox_outcome, SandboxOutcome::kAllPassed);

  item.response = "I would write a loop.</think>No code today.";
  EXPECT_EQ(scorer.Score(item).verdict, Verdict::kNoAnswer);
}

}  // namespace
}  // namespace r1serve::verify
