#include "lib/verify/sandbox/code_runner.h"

#include <atomic>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/verify/sandbox/sandbox_test_util.h"

namespace r1serve::verify {
namespace {

using ::testing::HasSubstr;
using testing::SandboxTest;
using ::testing::StartsWith;

constexpr char kSum[] = "a, b = map(int, input().split())\nprint(a + b)\n";

TEST_F(SandboxTest, StdioProgramPassesAndFails) {
  CodeRunResult result = Run(kSum, {StdioCase{"1 2\n", "3\n"}, StdioCase{"2 2\n", "5"},
                                    StdioCase{"10 5\n", "15  \n\n\n"}});
  ASSERT_EQ(result.tests.size(), 3u);
  EXPECT_TRUE(result.tests[0].passed) << result.tests[0].reason;
  EXPECT_EQ(result.tests[0].reason, "ok");
  EXPECT_FALSE(result.tests[1].passed);
  EXPECT_EQ(result.tests[1].reason, "wrong answer: expected \"5\" got \"4\" (line 1)");
  EXPECT_TRUE(result.tests[2].passed) << result.tests[2].reason;
  EXPECT_EQ(result.passed, 2);
  EXPECT_EQ(result.summary, "1 of 3 tests failed: test 2 wrong answer");
  EXPECT_FALSE(result.isolation.empty());
}

TEST_F(SandboxTest, AllPassedSummary) {
  CodeRunResult result = Run(kSum, {StdioCase{"1 2", "3"}, StdioCase{"0 0", "0"}});
  EXPECT_EQ(result.passed, 2);
  EXPECT_EQ(result.summary, "all 2 tests passed");
}

TEST_F(SandboxTest, FunctionCallForms) {
  constexpr char kProgram[] = R"(
class Solution:
    def twoSum(self, nums, target):
        seen = {}
        for i, x in enumerate(nums):
            if target - x in seen:
                return [seen[target - x], i]
            seen[x] = i

def mean(xs):
    return sum(xs) / len(xs)

def stats(xs):
    return {"max": max(xs), "min": min(xs)}

class Counter:
    def double(self, x):
        return (x * 2, x * 2.0)

if __name__ == "__main__":
    raise SystemExit("the main block must not run")
)";
  CodeRunResult result =
      Run(kProgram, {FunctionCallCase{"twoSum", "[[2,7,11,15], 9]", "[0,1]"},
                     FunctionCallCase{"Solution.twoSum", "[[3,2,4], 6]", "[1, 2]"},
                     FunctionCallCase{"mean", "[[1, 2, 2]]", "1.6666666667"},
                     FunctionCallCase{"stats", "[[3, 1, 2]]", "{\"min\": 1, \"max\": 3}"},
                     FunctionCallCase{"Counter.double", "[4]", "[8, 8]"},
                     FunctionCallCase{"twoSum", "[[1,2,3], 5]", "[0,2]"},
                     FunctionCallCase{"missing", "[]", "null"}});
  ASSERT_EQ(result.tests.size(), 7u);
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(result.tests[i].passed) << i << ": " << result.tests[i].reason;
  EXPECT_EQ(result.tests[5].reason, "wrong answer: expected [0,2] got [1,2]");
  EXPECT_THAT(result.tests[6].reason,
              StartsWith("runtime error: exit 1: r1serve: function missing is not defined"));
  EXPECT_EQ(result.passed, 5);
}

TEST_F(SandboxTest, FunctionRaising) {
  CodeRunResult result = Run("def f(x):\n    return 1 // x\n", {FunctionCallCase{"f", "[0]", "0"}});
  ASSERT_EQ(result.tests.size(), 1u);
  EXPECT_THAT(result.tests[0].reason, StartsWith("runtime error: exit 1: "));
  EXPECT_THAT(result.tests[0].reason, HasSubstr("ZeroDivisionError"));
}

TEST_F(SandboxTest, SyntaxErrorIsARuntimeError) {
  EXPECT_THAT(ReasonOf("print(\n"), StartsWith("runtime error: exit 1: "));
}

TEST_F(SandboxTest, StandardLibraryWorks) {
  constexpr char kProgram[] = R"(
import collections, heapq, itertools, functools, math, bisect, re, json, fractions, decimal
import threading, random, string, sys
sys.setrecursionlimit(10000)
t = threading.Thread(target=lambda: None); t.start(); t.join()
print("ok")
)";
  EXPECT_EQ(ReasonOf(kProgram), "ok");
}

TEST_F(SandboxTest, InvalidArguments) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  std::vector<CodeTestCase> not_array = {FunctionCallCase{"f", "{\"a\": 1}", "1"}};
  EXPECT_TRUE(
      absl::IsInvalidArgument(RunCodeTests("python", "", not_array, {}, deadline).status()));
  std::vector<CodeTestCase> bad_json = {FunctionCallCase{"f", "[1", "1"}};
  EXPECT_TRUE(absl::IsInvalidArgument(RunCodeTests("python", "", bad_json, {}, deadline).status()));
  std::vector<CodeTestCase> bad_expected = {FunctionCallCase{"f", "[1]", "nope"}};
  EXPECT_TRUE(
      absl::IsInvalidArgument(RunCodeTests("python", "", bad_expected, {}, deadline).status()));
  std::vector<CodeTestCase> bad_name = {FunctionCallCase{"os.system('x')", "[]", "1"}};
  EXPECT_TRUE(absl::IsInvalidArgument(RunCodeTests("python", "", bad_name, {}, deadline).status()));
  std::vector<CodeTestCase> stdio = {StdioCase{"", ""}};
  EXPECT_TRUE(absl::IsInvalidArgument(RunCodeTests("cobol", "", stdio, {}, deadline).status()));
}

TEST_F(SandboxTest, EmptyLanguageMeansPython) {
  CodeRunResult result = Run("print('ok')", {StdioCase{"", "ok"}}, {}, "");
  EXPECT_EQ(result.passed, 1);
}

TEST_F(SandboxTest, DeadlineAlreadyPassed) {
  std::vector<CodeTestCase> tests = {StdioCase{"", "ok"}};
  absl::StatusOr<CodeRunResult> result =
      RunCodeTests("python", "print('ok')", tests, {}, absl::Now() - absl::Seconds(1));
  EXPECT_TRUE(absl::IsDeadlineExceeded(result.status())) << result.status();
}

TEST_F(SandboxTest, DeadlineStopsLaterTests) {
  // Test 1 is quick; test 2 sleeps past the deadline; test 3 never starts.
  constexpr char kProgram[] = "import time\nn = int(input())\ntime.sleep(n)\nprint('ok')\n";
  std::vector<CodeTestCase> tests = {StdioCase{"0", "ok"}, StdioCase{"30", "ok"},
                                     StdioCase{"0", "ok"}};
  const absl::Time start = absl::Now();
  absl::StatusOr<CodeRunResult> result =
      RunCodeTests("python", kProgram, tests, {}, absl::Now() + absl::Seconds(2));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));
  ASSERT_EQ(result->tests.size(), 3u);
  EXPECT_TRUE(result->tests[0].passed);
  EXPECT_EQ(result->tests[1].reason, "not run: deadline exceeded");
  EXPECT_EQ(result->tests[2].reason, "not run: deadline exceeded");
  EXPECT_EQ(result->summary, "2 of 3 tests failed: test 2 not run");
}

TEST_F(SandboxTest, DeadlineDuringTheOnlyTest) {
  std::vector<CodeTestCase> tests = {StdioCase{"", "ok"}};
  absl::StatusOr<CodeRunResult> result = RunCodeTests("python", "import time\ntime.sleep(30)",
                                                      tests, {}, absl::Now() + absl::Seconds(1));
  EXPECT_TRUE(absl::IsDeadlineExceeded(result.status())) << result.status();
}

TEST_F(SandboxTest, ManyRunsLeakNothing) {
  auto count_fds = [] { return testing::ListDir("/proc/self/fd").size(); };
  Run("print('ok')", {StdioCase{"", "ok"}});  // warm up lazily opened files
  const size_t fds_before = count_fds();
  std::vector<CodeTestCase> tests(40, StdioCase{"", "ok"});
  CodeRunResult result = Run("print('ok')", tests);
  EXPECT_EQ(result.passed, 40);
  EXPECT_EQ(count_fds(), fds_before);
  // Every child was reaped: no zombie or child of ours remains.
  int status;
  EXPECT_EQ(waitpid(-1, &status, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST_F(SandboxTest, ConcurrentCallers) {
  std::vector<std::thread> threads;
  std::atomic<int> passed{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const std::string n = std::to_string(t);
      std::vector<CodeTestCase> tests(5, StdioCase{n, n});
      absl::StatusOr<CodeRunResult> result =
          RunCodeTests("python", "print(input())", tests, {}, absl::Now() + absl::Seconds(60));
      if (result.ok()) passed += result->passed;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(passed.load(), 20);
}

TEST_F(SandboxTest, CppStdioProgram) {
  std::vector<std::string> languages = SupportedCodeLanguages();
  if (std::find(languages.begin(), languages.end(), "cpp") == languages.end()) {
    GTEST_SKIP() << "g++ does not run in the sandbox here";
  }
  constexpr char kProgram[] =
      "#include <iostream>\nint main() { long a, b; std::cin >> a >> b; std::cout << a + b << "
      "'\\n'; }\n";
  CodeRunResult result = Run(kProgram, {StdioCase{"1 2", "3"}, StdioCase{"2 2", "5"}}, {}, "cpp");
  ASSERT_EQ(result.tests.size(), 2u);
  EXPECT_TRUE(result.tests[0].passed) << result.tests[0].reason;
  EXPECT_EQ(result.tests[1].reason, "wrong answer: expected \"5\" got \"4\" (line 1)");
  CodeRunResult broken = Run("int main( {", {StdioCase{"", ""}}, {}, "cpp");
  ASSERT_EQ(broken.tests.size(), 1u);
  EXPECT_THAT(broken.tests[0].reason, StartsWith("compile error: "));
}

}  // namespace
}  // namespace r1serve::verify
