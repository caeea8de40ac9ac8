// The CODE_TESTS component: the last fenced code block of the answer, run in the sandbox
// against the task's tests, scored all-or-nothing or by the share of tests passed.
//
//   RETURN_IF_ERROR(ValidateCodeTask(item.task.code));  // before any work: a bad item errs alone
//   ComponentOutcome out = ScoreCodeTests(shape.answer, item.task.code, spec.code_scoring,
//                                         limits, deadline);
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "lib/verify/component_outcome.h"
#include "lib/verify/reward_types.h"
#include "lib/verify/sandbox/code_runner.h"

namespace r1serve::verify {

// INVALID_ARGUMENT naming the problem: no tests, or what RunCodeTests would refuse (a language
// the sandbox cannot run, a malformed function-call test): ValidateCodeTests.
absl::Status ValidateCodeTask(const CodeTask& task);

// `limits` already holds the task's own limits or the defaults. Past `deadline` the verdict is
// kTimeout; a sandbox that fails (not the program) is an error.
ComponentOutcome ScoreCodeTests(std::string_view answer, const CodeTask& task, CodeScoring scoring,
                                const CodeLimits& limits, absl::Time deadline);

}  // namespace r1serve::verify
