#include "lib/verify/reward_types.h"

namespace r1serve::verify {

const char* TaskTypeName(TaskType type) {
  switch (type) {
    case TaskType::kMath:
      return "math";
    case TaskType::kFormat:
      return "format";
    case TaskType::kLanguage:
      return "language";
    case TaskType::kCode:
      return "code";
    case TaskType::kComposite:
      return "composite";
    case TaskType::kUnspecified:
      break;
  }
  return "unspecified";
}

const char* ComponentName(RewardComponent component) {
  switch (component) {
    case RewardComponent::kMathAnswer:
      return "math_answer";
    case RewardComponent::kCodeTests:
      return "code_tests";
    case RewardComponent::kFormat:
      return "format";
    case RewardComponent::kLanguageConsistency:
      return "language_consistency";
    case RewardComponent::kUnspecified:
      break;
  }
  return "unspecified";
}

const char* CodeScoringName(CodeScoring scoring) {
  return scoring == CodeScoring::kFractionPassed ? "fraction_passed" : "all_or_nothing";
}

const char* VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kCorrect:
      return "correct";
    case Verdict::kWrong:
      return "wrong";
    case Verdict::kNoAnswer:
      return "no_answer";
    case Verdict::kUnparseableReference:
      return "unparseable_reference";
    case Verdict::kTimeout:
      return "timeout";
    case Verdict::kError:
      return "error";
    case Verdict::kUnspecified:
      break;
  }
  return "unspecified";
}

const char* SandboxOutcomeName(SandboxOutcome outcome) {
  switch (outcome) {
    case SandboxOutcome::kAllPassed:
      return "passed";
    case SandboxOutcome::kSomeFailed:
      return "failed";
    case SandboxOutcome::kTimeout:
      return "timeout";
    case SandboxOutcome::kError:
      break;
  }
  return "error";
}

}  // namespace r1serve::verify
