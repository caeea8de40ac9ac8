// Turns how a sandboxed run ended into a test's verdict and reason (see TestOutcome).
//
//   TestOutcome outcome = JudgeTest(test, sandbox_outcome);
#pragma once

#include "lib/verify/sandbox/code_runner.h"
#include "lib/verify/sandbox/sandbox_process.h"

namespace r1serve::verify {

// `test` has been validated (its JSON parses).
TestOutcome JudgeTest(const CodeTestCase& test, const SandboxResult& run);

// The head of a reason, for summaries: "wrong answer", "runtime error", "time limit exceeded".
std::string ReasonKind(const std::string& reason);

}  // namespace r1serve::verify
