// The reward model of lib/verify in plain C++: what to score (RewardItem, RewardTask, RewardSpec)
// and what came out (RewardResult). It mirrors proto/r1serve/v1/reward.proto field for field so
// that services/reward translates one to the other without deciding anything; the proto's
// comments are the contract for every field here.
//
//   RewardItem item{.id = "q1-s0", .response = "…</think>The answer is \\boxed{42}.",
//                   .starts_in_reasoning = true,
//                   .task = {.type = TaskType::kMath, .reference_answer = "42"}};
//   RewardResult result = scorer.Score(item);
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "lib/verify/sandbox/code_runner.h"

namespace r1serve::verify {

enum class TaskType { kUnspecified, kMath, kFormat, kLanguage, kCode, kComposite };

enum class RewardComponent { kUnspecified, kMathAnswer, kCodeTests, kFormat, kLanguageConsistency };

enum class CodeScoring { kAllOrNothing, kFractionPassed };

enum class Verdict {
  kUnspecified,  // no correctness component in the spec
  kCorrect,
  kWrong,
  kNoAnswer,
  kUnparseableReference,
  kTimeout,
  kError,
};

struct ComponentWeight {
  RewardComponent component = RewardComponent::kUnspecified;
  double weight = 0;
};

struct RewardSpec {
  std::vector<ComponentWeight> components;  // empty: the task type's default
  CodeScoring code_scoring = CodeScoring::kAllOrNothing;
};

struct CodeTask {
  std::string language;  // empty: "python"
  std::vector<CodeTestCase> tests;
  absl::Duration test_timeout = absl::ZeroDuration();  // zero: the scorer's default
  uint64_t memory_limit_bytes = 0;                     // zero: the scorer's default
};

struct RewardTask {
  TaskType type = TaskType::kUnspecified;
  std::string reference_answer;  // math
  CodeTask code;
  std::string target_language;  // BCP 47; empty: detected from the prompt
  RewardSpec spec;
};

struct RewardItem {
  std::string id;
  std::string prompt;
  std::string response;
  bool starts_in_reasoning = false;
  RewardTask task;
  absl::Duration timeout = absl::ZeroDuration();  // zero: the scorer's default
};

struct ComponentResult {
  RewardComponent component = RewardComponent::kUnspecified;
  double weight = 0;
  double reward = 0;  // in [0, 1]
  std::string reason;
};

// How the sandbox run of a CODE_TESTS component ended, for the service's metrics.
enum class SandboxOutcome { kAllPassed, kSomeFailed, kTimeout, kError };

struct RewardResult {
  std::string id;
  double total_reward = 0;  // 0 when !error.ok()
  std::vector<ComponentResult> components;
  Verdict verdict = Verdict::kUnspecified;
  std::string extracted_answer;
  absl::Status error;  // OK, or why the item could not be scored (never counted as a reward)
  std::string verifier_version;
  std::string config_hash;
  absl::Duration verify_time = absl::ZeroDuration();
  std::optional<SandboxOutcome> sandbox_outcome;  // set when code ran (or tried to)
};

// Lowercase names for logs, metrics labels and the JSON of r1serve-score: "math", "code",
// "format", "language", "composite"; "math_answer", "code_tests", "format",
// "language_consistency"; "correct", "no_answer", "timeout", ...
const char* TaskTypeName(TaskType type);
const char* ComponentName(RewardComponent component);
const char* CodeScoringName(CodeScoring scoring);
const char* VerdictName(Verdict verdict);
const char* SandboxOutcomeName(SandboxOutcome outcome);

}  // namespace r1serve::verify
