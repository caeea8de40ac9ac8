// The JSON Lines format of r1serve-score: one item per input line, one result per output line.
//
// Input (one object per line; unknown keys are ignored):
//   {"id": "q1", "task": "math", "response": "…</think>\\boxed{42}", "reference": "42",
//    "starts_in_reasoning": true}
//   {"task": "format", "response": "<think>…</think>42"}
//   {"task": "language", "prompt": "…", "response": "…", "language": "zh"}
//   {"task": "code", "response": "…```python\n…```", "code_language": "python",
//    "tests": [{"stdin": "1 2\n", "expected_stdout": "3\n"},
//              {"function_name": "f", "arguments": [1, 2], "expected": 3}],
//    "code_scoring": "fraction_passed"}
//   {"task": {"math": 1.0, "format": 0.1}, "response": "…", "reference": "42"}   (composite)
//   {"task": {"components": [{"component": "math", "weight": 1}], "code_scoring": "…"}, …}
// `task` is "math" | "format" | "language" | "code", or a composite spec: components by name
// ("math", "code", "format", "language", or the proto's long names "math_answer", "code_tests",
// "language_consistency") with their weights, in order. Optional everywhere: "id", "prompt",
// "starts_in_reasoning" (default: the tool's flag), "timeout_s"; a function-call test may give
// "arguments_json" / "expected_return_json" strings instead of JSON values.
//
// Output: {"id": …, "reward": total, "verdict": "correct", "components": [{"component":
// "math_answer", "weight": 1, "reward": 1, "reason": "…"}], "reason": "…", "extracted_answer":
// "…", "verify_us": …, "verifier_version": "…", "config_hash": "…"}, or {"id": …, "line": n,
// "error": "line n: …", "code": "INVALID_ARGUMENT"} for an item that could not be scored (the
// other lines are unaffected).
//
//   absl::StatusOr<verify::RewardItem> item = ParseScoreLine(line, /*starts_in_reasoning=*/true);
//   std::string out = item.ok() ? ResultLine(scorer.Score(*item)) : ErrorLine(n, "",
//   item.status());
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "lib/verify/reward_types.h"

namespace r1serve::tools {

absl::StatusOr<verify::RewardItem> ParseScoreLine(std::string_view line,
                                                  bool default_starts_in_reasoning);

// One output line, without the newline.
std::string ResultLine(const verify::RewardResult& result, int64_t line_number);
std::string ErrorLine(int64_t line_number, std::string_view id, const absl::Status& error);

// The "id" of a line that may not parse as an item ("" when there is none).
std::string LineId(std::string_view line);

}  // namespace r1serve::tools
