// Runs a model-written program against test cases, each in a fresh sandbox (sandbox_process.h),
// for the CODE_TESTS reward.
//
//   std::optional<std::string> program = ExtractLastCodeBlock(answer);
//   std::vector<CodeTestCase> tests = {StdioCase{"1 2\n", "3\n"}};
//   ASSIGN_OR_RETURN(CodeRunResult result,
//                    RunCodeTests("python", *program, tests, CodeLimits{}, deadline));
//   double reward = all_or_nothing ? (result.passed == result.tests.size()) :
//                                    double(result.passed) / result.tests.size();
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lib/verify/sandbox/code_block.h"

namespace r1serve::verify {

// Feed stdin, compare stdout (trailing whitespace of every line and trailing empty lines
// ignored).
struct StdioCase {
  std::string stdin_data;
  std::string expected_stdout;
};

// Call function_name ("f", a Solution method "f", or "Class.method") with the JSON array
// arguments_json as positional arguments; compare the return value with expected_return_json
// as JSON values. Python only.
struct FunctionCallCase {
  std::string function_name;
  std::string arguments_json;
  std::string expected_return_json;
};

using CodeTestCase = std::variant<StdioCase, FunctionCallCase>;

struct CodeLimits {
  absl::Duration test_timeout = absl::Seconds(5);  // wall clock, per test
  uint64_t memory_bytes = uint64_t{512} << 20;     // address space of each process
  absl::Duration cpu_time = absl::Seconds(5);      // per process
  uint64_t max_output_bytes = uint64_t{1} << 20;   // stdout, stderr, return value: each
  uint64_t max_file_bytes = uint64_t{16} << 20;    // per file, and the work folder in all
  // Processes and threads of one test. Memory is capped per process (no cgroup here), so a
  // test can hold up to max_processes * memory_bytes: keep the product within the host's room.
  int max_processes = 8;
};

struct TestOutcome {
  bool passed = false;
  // "ok", "wrong answer: expected \"3\" got \"4\" (line 1)", "time limit exceeded",
  // "memory limit exceeded", "output limit exceeded", "file size limit exceeded",
  // "runtime error: exit 1: <stderr tail>", "runtime error: killed by signal 11 (...)",
  // "compile error: <stderr tail>", "not run: deadline exceeded".
  std::string reason;
  absl::Duration wall;
  bool not_run = false;  // the call's deadline stopped it (reason "not run: deadline exceeded")
};

struct CodeRunResult {
  std::vector<TestOutcome> tests;  // one per test, in order
  int passed = 0;
  // "all 5 tests passed", "2 of 5 tests failed: test 3 wrong answer".
  std::string summary;
  // The sandbox layers in use (SandboxIsolation::Describe()).
  std::string isolation;
};

// "python" for "", "cpp" for "c++", any other name as it is.
std::string_view CanonicalCodeLanguage(std::string_view language);

// The checks RunCodeTests makes before running anything (see its INVALID_ARGUMENT cases), for
// callers that validate a request up front. `language` as RunCodeTests takes it.
absl::Status ValidateCodeTests(std::string_view language, std::span<const CodeTestCase> tests);

// Languages runnable here: "python" (a python3 found on this host that works in the sandbox)
// and "cpp" (g++, C++17, stdio tests only). Empty when the sandbox cannot work on this host;
// the reason is logged once to stderr.
std::vector<std::string> SupportedCodeLanguages();

// Runs `program` once per test, in order, each in a fresh sandbox and private folder. "" means
// "python"; "c++" means "cpp".
//
// The deadline bounds the whole call: each test's wall limit is the smaller of
// limits.test_timeout and the time left. A test the deadline interrupts, and every test after
// it, fails with "not run: deadline exceeded". The status is DEADLINE_EXCEEDED only when no test
// ran to completion (so nothing can be scored); otherwise OK with those tests counted as failed.
//
// INVALID_ARGUMENT: a language SupportedCodeLanguages() lacks, a function-call test for a
// language other than python, a malformed function name, arguments_json that is not a JSON
// array, or expected_return_json that is not JSON. INTERNAL: the sandbox itself failed.
absl::StatusOr<CodeRunResult> RunCodeTests(std::string_view language, std::string_view program,
                                           std::span<const CodeTestCase> tests,
                                           const CodeLimits& limits, absl::Time deadline);

}  // namespace r1serve::verify
