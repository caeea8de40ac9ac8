#include "lib/verify/code_component.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <variant>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace r1serve::verify {
namespace {

// How RunCodeTests marks the tests that its deadline kept from running.
constexpr absl::string_view kNotRunPrefix = "not run: deadline exceeded";

std::optional<nlohmann::json> ParseJson(std::string_view text) {
  nlohmann::json value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return std::nullopt;
  return value;
}

absl::Status ValidateTest(const CodeTestCase& test, size_t number) {
  const auto* call = std::get_if<FunctionCallCase>(&test);
  if (call == nullptr) return absl::OkStatus();  // stdio: any bytes are a valid test
  if (call->function_name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("test ", number, ": function_name is empty"));
  }
  std::optional<nlohmann::json> arguments = ParseJson(call->arguments_json);
  if (!arguments || !arguments->is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat("test ", number, ": arguments_json is not a JSON array"));
  }
  if (!ParseJson(call->expected_return_json)) {
    return absl::InvalidArgumentError(
        absl::StrCat("test ", number, ": expected_return_json is not JSON"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string CodeLanguage(const CodeTask& task) {
  if (task.language.empty()) return "python";
  if (task.language == "c++") return "cpp";  // the runner's alias
  return task.language;
}

absl::Status ValidateCodeTask(const CodeTask& task) {
  const std::string language = CodeLanguage(task);
  const std::vector<std::string> supported = SupportedCodeLanguages();
  if (std::find(supported.begin(), supported.end(), language) == supported.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "code language '", language, "' is not supported (this server runs: ",
        supported.empty() ? "none, the sandbox is unavailable" : absl::StrJoin(supported, ", "),
        ")"));
  }
  if (task.tests.empty()) return absl::InvalidArgumentError("code task has no test cases");
  for (size_t i = 0; i < task.tests.size(); ++i) {
    if (language != "python" && std::holds_alternative<FunctionCallCase>(task.tests[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("test ", i + 1, ": function-call tests need python, not ", language));
    }
    if (absl::Status status = ValidateTest(task.tests[i], i + 1); !status.ok()) return status;
  }
  return absl::OkStatus();
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
      RunCodeTests(CodeLanguage(task), *program, task.tests, limits, deadline);
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
    if (absl::StartsWith(test.reason, kNotRunPrefix)) {
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
