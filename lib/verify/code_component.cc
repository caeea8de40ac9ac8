#include "lib/verify/code_component.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"

namespace r1serve::verify {

absl::Status ValidateCodeTask(const CodeTask& task) {
  if (task.tests.empty()) return absl::InvalidArgumentError("code task has no test cases");
  return ValidateCodeTests(task.language, task.tests);
}

ComponentOutcome ScoreCodeTests(std::string_view answer, const CodeTask& task, CodeScoring scoring,
                                const CodeLimits& limits, absl::Time deadline) {
  ComponentOutcome out;
  std::optional<std::string> program = ExtractLastCodeBlock(answer);
  if (!program) {
    out.verdict = Verdict::kNoAnswer;
    out.reason = "no fenced code block in the answer";
    return out;
  }
  out.extracted_answer = *program;
  absl::StatusOr<CodeRunResult> run =
      RunCodeTests(task.language, *program, task.tests, limits, deadline);
  if (!run.ok()) {
    if (run.status().code() == absl::StatusCode::kDeadlineExceeded) {
      out.verdict = Verdict::kTimeout;
      out.sandbox = SandboxOutcome::kTimeout;
      out.reason = absl::StrCat("timed out running the tests: ", run.status().message());
      return out;
    }
    out.verdict = Verdict::kError;
    out.sandbox = SandboxOutcome::kError;
    out.error =
        absl::Status(run.status().code(), absl::StrCat("sandbox failed: ", run.status().message()));
    out.reason = std::string(out.error.message());
    return out;
  }
  // A test the deadline stopped leaves the score unknown: that is a timeout, not a wrong answer.
  for (const TestOutcome& test : run->tests) {
    if (test.not_run) {
      out.verdict = Verdict::kTimeout;
      out.sandbox = SandboxOutcome::kTimeout;
      out.reason = absl::StrCat("timed out running the tests: ", run->summary);
      return out;
    }
  }
  // The task's count, not the run's: a runner may stop at the first failure.
  const size_t total = task.tests.size();
  const size_t passed = std::min(static_cast<size_t>(std::max(run->passed, 0)), total);
  const bool all = total > 0 && passed == total;
  out.verdict = all ? Verdict::kCorrect : Verdict::kWrong;
  out.sandbox = all ? SandboxOutcome::kAllPassed : SandboxOutcome::kSomeFailed;
  out.reward = scoring == CodeScoring::kFractionPassed && total > 0
                   ? static_cast<double>(passed) / total
                   : (all ? 1.0 : 0.0);
  if (all) {
    out.reason = absl::StrCat("all ", total, " tests passed");
    return out;
  }
  out.reason = absl::StrCat(total - passed, " of ", total, " tests failed");
  for (size_t i = 0; i < run->tests.size(); ++i) {
    if (!run->tests[i].passed) {
      absl::StrAppend(&out.reason, ": test ", i + 1, " ", run->tests[i].reason);
      break;
    }
  }
  return out;
}

}  // namespace r1serve::verify
