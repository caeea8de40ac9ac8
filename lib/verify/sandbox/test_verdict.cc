#include "lib/verify/sandbox/test_verdict.h"

#include <signal.h>

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "lib/verify/sandbox/output_compare.h"

namespace r1serve::verify {
namespace {

constexpr size_t kStderrShown = 300;

std::string StderrTail(absl::string_view stderr_text) {
  absl::string_view tail = absl::StripAsciiWhitespace(stderr_text);
  if (tail.size() > kStderrShown) tail = tail.substr(tail.size() - kStderrShown);
  return std::string(tail);
}

const char* SignalName(int sig) {
  const char* name = sigdescr_np(sig);  // thread-safe, unlike strsignal
  return name != nullptr ? name : "unknown signal";
}

bool OutOfMemory(absl::string_view stderr_text) {
  return absl::StrContains(stderr_text, "MemoryError") ||
         absl::StrContains(stderr_text, "std::bad_alloc") ||
         absl::StrContains(stderr_text, "Cannot allocate memory");
}

std::string Failure(const SandboxResult& run) {
  switch (run.end) {
    case SandboxEnd::kWallTimeout:
      return "time limit exceeded";
    case SandboxEnd::kOutputLimit:
      return "output limit exceeded";
    case SandboxEnd::kSignaled:
      if (run.term_signal == SIGXCPU) return "time limit exceeded";
      if (run.term_signal == SIGXFSZ) return "file size limit exceeded";
      if (OutOfMemory(run.stderr_tail)) return "memory limit exceeded";
      return absl::StrCat("runtime error: killed by signal ", run.term_signal, " (",
                          SignalName(run.term_signal), ")", run.stderr_tail.empty() ? "" : ": ",
                          StderrTail(run.stderr_tail));
    case SandboxEnd::kExited:
      break;
  }
  if (OutOfMemory(run.stderr_tail)) return "memory limit exceeded";
  // Python ignores SIGXFSZ: past RLIMIT_FSIZE (or a full tmpfs) its writes fail instead.
  if (absl::StrContains(run.stderr_tail, "File too large") ||
      absl::StrContains(run.stderr_tail, "No space left on device")) {
    return "file size limit exceeded";
  }
  return absl::StrCat("runtime error: exit ", run.exit_code, ": ", StderrTail(run.stderr_tail));
}

}  // namespace

std::string ReasonKind(const std::string& reason) { return reason.substr(0, reason.find(':')); }

TestOutcome JudgeTest(const CodeTestCase& test, const SandboxResult& run) {
  TestOutcome outcome;
  outcome.wall = run.wall;
  if (run.end != SandboxEnd::kExited || run.exit_code != 0) {
    outcome.reason = Failure(run);
    return outcome;
  }
  std::optional<std::string> diff;
  if (const auto* stdio = std::get_if<StdioCase>(&test)) {
    diff = CompareStdout(stdio->expected_stdout, run.stdout_data);
  } else {
    const auto& call = std::get<FunctionCallCase>(test);
    nlohmann::json got = nlohmann::json::parse(run.result_data, nullptr, false);
    if (got.is_discarded()) {
      outcome.reason = run.result_data.empty()
                           ? "runtime error: the program exited before returning a value"
                           : "runtime error: the return value is not JSON";
      return outcome;
    }
    diff = CompareJson(nlohmann::json::parse(call.expected_return_json), got);
  }
  if (diff) {
    outcome.reason = absl::StrCat("wrong answer: ", *diff);
    return outcome;
  }
  outcome.passed = true;
  outcome.reason = "ok";
  return outcome;
}

}  // namespace r1serve::verify
