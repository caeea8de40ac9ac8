// What one reward component found, before the scorer weighs it: shared by the component
// functions (math, code, format, language) and the RewardScorer that combines them.
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "lib/verify/reward_types.h"

namespace r1serve::verify {

struct ComponentOutcome {
  double reward = 0;  // in [0, 1]
  std::string reason;
  // Correctness components only (MATH_ANSWER, CODE_TESTS); kTimeout from any component.
  Verdict verdict = Verdict::kUnspecified;
  std::string extracted_answer;
  // Not OK when verification itself failed (not the answer): the item gets this error.
  absl::Status error;
  std::optional<SandboxOutcome> sandbox;
};

}  // namespace r1serve::verify
