#include "lib/verify/sandbox/code_runner.h"

#include <regex>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/base/status_macros.h"
#include "lib/verify/sandbox/language_runtime.h"
#include "lib/verify/sandbox/private_dir.h"
#include "lib/verify/sandbox/sandbox_process.h"
#include "lib/verify/sandbox/test_verdict.h"
#include "nlohmann/json.hpp"

namespace r1serve::verify {
namespace {

constexpr char kNotRun[] = "not run: deadline exceeded";

bool IsFunctionName(const std::string& name) {
  static const std::regex* pattern =
      new std::regex("[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)?");
  return std::regex_match(name, *pattern);
}

absl::Status ValidateTests(std::span<const CodeTestCase> tests, std::string_view language) {
  for (size_t i = 0; i < tests.size(); ++i) {
    const auto* call = std::get_if<FunctionCallCase>(&tests[i]);
    if (call == nullptr) continue;
    const std::string where = absl::StrCat("test ", i + 1, ": ");
    if (language != "python") {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "function-call tests need language \"python\", not \"",
                       std::string(language), "\""));
    }
    if (!IsFunctionName(call->function_name)) {
      return absl::InvalidArgumentError(absl::StrCat(where, "function_name \"", call->function_name,
                                                     "\" is not a name or Class.method"));
    }
    nlohmann::json args = nlohmann::json::parse(call->arguments_json, nullptr, false);
    if (args.is_discarded() || !args.is_array()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "arguments_json must be a JSON array, e.g. [[2,7,11,15], 9]"));
    }
    if (nlohmann::json::parse(call->expected_return_json, nullptr, false).is_discarded()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "expected_return_json is not valid JSON"));
    }
  }
  return absl::OkStatus();
}

std::string Summary(const CodeRunResult& result) {
  const size_t total = result.tests.size();
  if (total == 0) return "no tests";
  const size_t failed = total - static_cast<size_t>(result.passed);
  if (failed == 0)
    return total == 1 ? "the test passed" : absl::StrCat("all ", total, " tests passed");
  for (size_t i = 0; i < total; ++i) {
    if (result.tests[i].passed) continue;
    return absl::StrCat(failed, " of ", total, " tests failed: test ", i + 1, " ",
                        ReasonKind(result.tests[i].reason));
  }
  return "";
}

std::optional<DirOwner> FolderOwner() {
  if (auto ids = SandboxFolderOwner()) return DirOwner{ids->first, ids->second};
  return std::nullopt;
}

// Runs one test; `deadline_cut` says whether the deadline rather than the test's own timeout
// bounded it.
absl::StatusOr<TestOutcome> RunOneTest(const LanguageRuntime& runtime, const ProgramImage& image,
                                       const CodeTestCase& test, const CodeLimits& limits,
                                       absl::Duration wall, bool deadline_cut) {
  ASSIGN_OR_RETURN(PrivateDir dir, PrivateDir::Create(FolderOwner()));
  ASSIGN_OR_RETURN(SandboxSpec spec, runtime.PrepareTest(image, test, dir));
  spec.limits = ToSandboxLimits(limits, wall);
  ASSIGN_OR_RETURN(SandboxResult run, RunInSandbox(spec));
  if (run.end == SandboxEnd::kWallTimeout && deadline_cut) {
    return TestOutcome{false, kNotRun, run.wall, /*not_run=*/true};
  }
  return JudgeTest(test, run);
}

}  // namespace

std::string_view CanonicalCodeLanguage(std::string_view language) {
  if (language.empty()) return "python";
  if (language == "c++") return "cpp";
  return language;
}

absl::Status ValidateCodeTests(std::string_view language, std::span<const CodeTestCase> tests) {
  const std::string_view canonical = CanonicalCodeLanguage(language);
  if (FindRuntime(canonical) == nullptr) {
    const std::vector<std::string> supported = SupportedCodeLanguages();
    return absl::InvalidArgumentError(absl::StrCat(
        "code language \"", std::string(language), "\" is not supported (this server runs: ",
        supported.empty() ? "none, the sandbox is unavailable" : absl::StrJoin(supported, ", "),
        ")"));
  }
  return ValidateTests(tests, canonical);
}

std::vector<std::string> SupportedCodeLanguages() {
  std::vector<std::string> out;
  for (const LanguageRuntime& runtime : DetectedRuntimes()) out.push_back(runtime.language);
  return out;
}

absl::StatusOr<CodeRunResult> RunCodeTests(std::string_view language, std::string_view program,
                                           std::span<const CodeTestCase> tests,
                                           const CodeLimits& limits, absl::Time deadline) {
  RETURN_IF_ERROR(ValidateCodeTests(language, tests));
  const LanguageRuntime* runtime = FindRuntime(CanonicalCodeLanguage(language));
  CodeRunResult result;
  result.isolation = Isolation().Describe();
  if (absl::Now() >= deadline && !tests.empty()) {
    return absl::DeadlineExceededError("the deadline passed before any test ran");
  }
  ASSIGN_OR_RETURN(ProgramImage image, runtime->Build(program, limits, deadline));
  int completed = 0;
  for (const CodeTestCase& test : tests) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      result.tests.push_back({false, kNotRun, absl::ZeroDuration(), /*not_run=*/true});
      continue;
    }
    if (image.error) {
      result.tests.push_back({false, *image.error, absl::ZeroDuration()});
      ++completed;
      continue;
    }
    const bool deadline_cut = left < limits.test_timeout;
    ASSIGN_OR_RETURN(TestOutcome outcome,
                     RunOneTest(*runtime, image, test, limits,
                                deadline_cut ? left : limits.test_timeout, deadline_cut));
    if (!outcome.not_run) ++completed;
    if (outcome.passed) ++result.passed;
    result.tests.push_back(std::move(outcome));
  }
  if (completed == 0 && !tests.empty()) {
    return absl::DeadlineExceededError(
        absl::StrCat("no test finished before the deadline (", tests.size(), " tests)"));
  }
  result.summary = Summary(result);
  return result;
}

}  // namespace r1serve::verify
