// The interpreters and compilers programs run with, found on this host and checked to work in
// the sandbox, and how one test of a program is laid out in its private folder.
//
//   const LanguageRuntime* python = FindRuntime("python");
//   ASSIGN_OR_RETURN(SandboxSpec spec, python->PrepareTest(image, test, dir, limits));
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lib/verify/sandbox/code_runner.h"
#include "lib/verify/sandbox/private_dir.h"
#include "lib/verify/sandbox/sandbox_process.h"

namespace r1serve::verify {

// What runs in each test: Python source, or a compiled C++ executable.
struct ProgramImage {
  std::string bytes;
  bool executable = false;           // bytes are an ELF file to run directly
  std::optional<std::string> error;  // "compile error: ...": every test fails with it
};

struct LanguageRuntime {
  std::string language;               // "python", "cpp"
  std::string tool;                   // absolute path of the interpreter / compiler
  std::vector<std::string> readable;  // what programs may read besides their folder

  // Turns program text into what each test runs (compiles C++ in a sandbox of its own, within
  // `deadline`).
  absl::StatusOr<ProgramImage> Build(std::string_view program, const CodeLimits& limits,
                                     absl::Time deadline) const;
  // Writes the program and the test's input into `dir` and says how to run it.
  absl::StatusOr<SandboxSpec> PrepareTest(const ProgramImage& image, const CodeTestCase& test,
                                          const PrivateDir& dir) const;
};

// The runtimes that work here, detected on first use.
const std::vector<LanguageRuntime>& DetectedRuntimes();

// nullptr when `language` is not runnable here.
const LanguageRuntime* FindRuntime(std::string_view language);

// Sandbox limits for one run under `limits`, cut to `wall`.
SandboxLimits ToSandboxLimits(const CodeLimits& limits, absl::Duration wall);

}  // namespace r1serve::verify
