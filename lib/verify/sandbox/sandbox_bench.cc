// Sandboxed runs per second: a trivial Python program, one stdio test per run, run serially.
//
//   ninja -C build sandbox_bench && build/bin/sandbox_bench [runs]
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "absl/time/clock.h"
#include "lib/verify/sandbox/code_runner.h"
#include "lib/verify/sandbox/sandbox_process.h"

int main(int argc, char** argv) {
  using namespace r1serve::verify;
  const int runs = argc > 1 ? std::atoi(argv[1]) : 50;
  std::vector<std::string> languages = SupportedCodeLanguages();
  if (languages.empty()) {
    std::fprintf(stderr, "no language runs in the sandbox here\n");
    return 1;
  }
  std::printf("isolation: %s\n", Isolation().Describe().c_str());
  const std::vector<CodeTestCase> one_test = {StdioCase{"", "hello\n"}};
  const struct {
    const char* language;
    const char* program;
  } cases[] = {{"python", "print('hello')\n"},
               {"cpp", "#include <cstdio>\nint main() { std::puts(\"hello\"); }\n"}};
  for (const auto& c : cases) {
    bool supported = false;
    for (const std::string& l : languages) supported |= l == c.language;
    if (!supported) continue;
    // For cpp each call compiles once: time the tests of one call with many tests instead.
    const int per_call = std::string(c.language) == "cpp" ? runs : 1;
    const int calls = runs / per_call;
    std::vector<CodeTestCase> tests(per_call, one_test[0]);
    const absl::Time start = absl::Now();
    int passed = 0;
    for (int i = 0; i < calls; ++i) {
      absl::StatusOr<CodeRunResult> result =
          RunCodeTests(c.language, c.program, tests, CodeLimits{}, absl::Now() + absl::Minutes(5));
      if (!result.ok()) {
        std::fprintf(stderr, "%s\n", result.status().ToString().c_str());
        return 1;
      }
      passed += result->passed;
    }
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    std::printf("%-6s %d runs (%d passed) in %.2f s: %.1f sandboxed runs/s (%.1f ms each)%s\n",
                c.language, calls * per_call, passed, seconds, calls * per_call / seconds,
                1000 * seconds / (calls * per_call), per_call > 1 ? ", one compile included" : "");
  }
  return 0;
}
