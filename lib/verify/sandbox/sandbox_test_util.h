// Test helpers: a fixture that gives each test its own $TMPDIR and checks afterwards that the
// sandbox left no folder and no process behind.
#pragma once

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/verify/sandbox/code_runner.h"
#include "lib/verify/sandbox/private_dir.h"

namespace r1serve::verify::testing {

inline std::vector<std::string> ListDir(const std::string& path) {
  std::vector<std::string> names;
  if (DIR* dir = opendir(path.c_str())) {
    while (dirent* e = readdir(dir)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    closedir(dir);
  }
  return names;
}

// Pids of processes whose command line mentions `needle`.
inline std::vector<int> ProcessesMentioning(const std::string& needle) {
  std::vector<int> pids;
  for (const std::string& name : ListDir("/proc")) {
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in("/proc/" + name + "/cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(needle) != std::string::npos) pids.push_back(std::stoi(name));
  }
  return pids;
}

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<std::string> languages = SupportedCodeLanguages();
    if (std::find(languages.begin(), languages.end(), "python") == languages.end()) {
      GTEST_SKIP() << "python3 does not run in the sandbox on this host (install python3; see "
                      "the 'r1serve sandbox:' log line for why)";
    }
    char pattern[] = "/tmp/r1serve-sandbox-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    tmpdir_ = pattern;
    chmod(tmpdir_.c_str(), 0755);  // a root service runs programs as nobody
    old_tmpdir_ = getenv("TMPDIR") ? getenv("TMPDIR") : "";
    setenv("TMPDIR", tmpdir_.c_str(), 1);
  }

  void TearDown() override {
    if (tmpdir_.empty()) return;
    if (old_tmpdir_.empty()) {
      unsetenv("TMPDIR");
    } else {
      setenv("TMPDIR", old_tmpdir_.c_str(), 1);
    }
    EXPECT_TRUE(ProcessesMentioning(tmpdir_).empty()) << "stray sandboxed processes";
    EXPECT_TRUE(ListDir(tmpdir_).empty()) << "private folders left behind";
    RemoveTree(tmpdir_).IgnoreError();
  }

  CodeRunResult Run(std::string_view program, std::vector<CodeTestCase> tests,
                    CodeLimits limits = {}, std::string_view language = "python") {
    absl::StatusOr<CodeRunResult> result =
        RunCodeTests(language, program, tests, limits, absl::Now() + absl::Seconds(60));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : CodeRunResult{};
  }

  // Runs a one-test stdio program and returns the test's reason.
  std::string ReasonOf(std::string_view program, CodeLimits limits = {},
                       std::string stdin_data = "") {
    CodeRunResult result = Run(program, {StdioCase{stdin_data, "ok\n"}}, limits);
    return result.tests.empty() ? "<no result>" : result.tests[0].reason;
  }

  std::string tmpdir_;
  std::string old_tmpdir_;
};

}  // namespace r1serve::verify::testing
