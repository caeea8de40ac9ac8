#include "lib/verify/sandbox/language_runtime.h"

#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "lib/base/status_macros.h"
#include "lib/verify/sandbox/python_driver.h"

namespace r1serve::verify {
namespace {

constexpr absl::Duration kCompileTimeout = absl::Seconds(30);
constexpr char kPythonProbe[] =
    "import json, math, collections, itertools, heapq, bisect, functools, re, sys\n"
    "print(json.dumps([1]))\n";
constexpr char kCppProbe[] = "#include <cstdio>\nint main() { std::printf(\"1\"); }\n";

std::vector<std::string> SystemReadable() {
  std::vector<std::string> paths = {"/usr",
                                    "/lib",
                                    "/lib64",
                                    "/lib32",
                                    "/bin",
                                    "/sbin",
                                    "/etc/ld.so.cache",
                                    "/etc/localtime",
                                    "/etc/alternatives"};
  glob_t found;
  if (glob("/etc/python3*", 0, nullptr, &found) == 0) {
    for (size_t i = 0; i < found.gl_pathc; ++i) paths.push_back(found.gl_pathv[i]);
  }
  globfree(&found);
  return paths;
}

std::vector<std::string> BaseEnv(const std::string& work_dir) {
  return {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + work_dir, "TMPDIR=" + work_dir,
          "LANG=C.UTF-8", "LC_ALL=C.UTF-8"};
}

bool IsElf(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in.gcount() == 4 && magic[0] == 0x7f && magic[1] == 'E' && magic[2] == 'L' &&
         magic[3] == 'F';
}

std::optional<std::string> RealPath(const std::string& path) {
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf) == nullptr) return std::nullopt;
  return std::string(buf);
}

std::string Dirname(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
}

// Candidate paths of `name`: the Debian locations first (they work for any sandbox uid), then
// $PATH.
std::vector<std::string> Candidates(const std::string& name) {
  std::vector<std::string> out = {"/usr/bin/" + name, "/usr/local/bin/" + name};
  if (const char* path = getenv("PATH")) {
    for (absl::string_view dir : absl::StrSplit(path, ':', absl::SkipEmpty())) {
      out.push_back(absl::StrCat(dir, "/", name));
    }
  }
  return out;
}

std::optional<DirOwner> FolderOwner() {
  if (auto ids = SandboxFolderOwner()) return DirOwner{ids->first, ids->second};
  return std::nullopt;
}

// Runs `program` with `runtime` on one stdio test; nullopt when it printed `expected`.
std::optional<std::string> TryRuntime(const LanguageRuntime& runtime, std::string_view program,
                                      std::string_view expected) {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  CodeLimits limits;
  limits.test_timeout = absl::Seconds(30);
  absl::StatusOr<ProgramImage> image = runtime.Build(program, limits, deadline);
  if (!image.ok()) return std::string(image.status().message());
  if (image->error) return *image->error;
  absl::StatusOr<PrivateDir> dir = PrivateDir::Create(FolderOwner());
  if (!dir.ok()) return std::string(dir.status().message());
  absl::StatusOr<SandboxSpec> spec = runtime.PrepareTest(*image, StdioCase{}, *dir);
  if (!spec.ok()) return std::string(spec.status().message());
  spec->limits = ToSandboxLimits(limits, limits.test_timeout);
  absl::StatusOr<SandboxResult> out = RunInSandbox(*spec);
  if (!out.ok()) return std::string(out.status().message());
  if (out->end != SandboxEnd::kExited || out->exit_code != 0 || out->stdout_data != expected) {
    return absl::StrCat("exit ", out->exit_code, ", signal ", out->term_signal, ", stdout \"",
                        out->stdout_data, "\", stderr: ", out->stderr_tail);
  }
  return std::nullopt;
}

std::optional<LanguageRuntime> DetectPython(std::vector<std::string>& why_not) {
  std::vector<std::string> tried;
  std::vector<std::string> failures;
  for (const std::string& candidate : Candidates("python3")) {
    std::optional<std::string> real = RealPath(candidate);
    if (!real || access(real->c_str(), X_OK) != 0) continue;
    if (std::find(tried.begin(), tried.end(), *real) != tried.end()) continue;
    tried.push_back(*real);
    // pyenv-style shims are scripts that need the user's home: only a real interpreter will do.
    if (!IsElf(*real)) {
      failures.push_back(absl::StrCat(candidate, " is not an executable file (a shim?)"));
      continue;
    }
    LanguageRuntime runtime{"python", *real, SystemReadable()};
    runtime.readable.push_back(Dirname(Dirname(*real)));  // the installation prefix
    std::optional<std::string> failure = TryRuntime(runtime, kPythonProbe, "[1]\n");
    if (!failure) return runtime;
    failures.push_back(absl::StrCat(*real, " fails in the sandbox: ", *failure));
  }
  if (failures.empty()) failures.push_back("no python3 found (apt-get install python3)");
  why_not.insert(why_not.end(), failures.begin(), failures.end());
  return std::nullopt;
}

std::optional<LanguageRuntime> DetectCpp(std::vector<std::string>& why_not) {
  std::optional<std::string> real = RealPath("/usr/bin/g++");
  if (!real || access(real->c_str(), X_OK) != 0) {
    why_not.push_back("no /usr/bin/g++ (apt-get install g++)");
    return std::nullopt;
  }
  LanguageRuntime runtime{"cpp", *real, SystemReadable()};
  std::optional<std::string> failure = TryRuntime(runtime, kCppProbe, "1");
  if (!failure) return runtime;
  why_not.push_back(absl::StrCat(*real, " fails in the sandbox: ", *failure));
  return std::nullopt;
}

std::string Tail(absl::string_view text, size_t n) {
  text = absl::StripTrailingAsciiWhitespace(text);
  return std::string(text.size() > n ? text.substr(text.size() - n) : text);
}

}  // namespace

SandboxLimits ToSandboxLimits(const CodeLimits& limits, absl::Duration wall) {
  SandboxLimits out;
  out.wall = wall;
  out.cpu = limits.cpu_time;
  out.address_space_bytes = limits.memory_bytes;
  out.file_bytes = limits.max_file_bytes;
  out.output_bytes = limits.max_output_bytes;
  out.processes = limits.max_processes;
  return out;
}

absl::StatusOr<ProgramImage> LanguageRuntime::Build(std::string_view program,
                                                    const CodeLimits& limits,
                                                    absl::Time deadline) const {
  if (language != "cpp") return ProgramImage{std::string(program), false, std::nullopt};
  const absl::Duration left = deadline - absl::Now();
  const absl::Duration compile_wall = std::min(kCompileTimeout, left);
  if (compile_wall <= absl::ZeroDuration()) {
    return absl::DeadlineExceededError("the deadline passed before compiling");
  }
  ASSIGN_OR_RETURN(PrivateDir dir, PrivateDir::Create(FolderOwner()));
  RETURN_IF_ERROR(dir.WriteFile("main.cpp", program));
  SandboxSpec spec;
  const std::string work = dir.work_path();
  spec.argv = {
      tool, "-std=gnu++17", "-O2", "-pipe", "-o", work + "/program", dir.path() + "/main.cpp"};
  spec.env = BaseEnv(work);
  spec.work_dir = work;
  spec.readable = readable;
  spec.readable.push_back(dir.path());
  spec.tmpfs_work_dir = false;  // the executable must outlive the compiler's sandbox
  // The compiler is trusted more than the program, but its input is not: keep it boxed, with
  // room for cc1plus, as and ld.
  spec.limits = ToSandboxLimits(limits, compile_wall);
  spec.limits.address_space_bytes = std::max<uint64_t>(limits.memory_bytes, uint64_t{2} << 30);
  spec.limits.cpu = kCompileTimeout;
  spec.limits.file_bytes = std::max<uint64_t>(limits.max_file_bytes, uint64_t{64} << 20);
  spec.limits.processes = std::max(limits.max_processes, 16);
  ASSIGN_OR_RETURN(SandboxResult out, RunInSandbox(spec));
  ProgramImage image;
  image.executable = true;
  if (out.end != SandboxEnd::kExited || out.exit_code != 0) {
    if (out.end == SandboxEnd::kWallTimeout && compile_wall < kCompileTimeout) {
      return absl::DeadlineExceededError("the deadline passed while compiling");
    }
    image.error = out.end == SandboxEnd::kWallTimeout
                      ? "compile error: compiler time limit exceeded"
                      : absl::StrCat("compile error: ", Tail(out.stderr_tail, 400));
    return image;
  }
  std::ifstream in(work + "/program", std::ios::binary);
  image.bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (image.bytes.empty()) image.error = "compile error: no executable produced";
  return image;
}

absl::StatusOr<SandboxSpec> LanguageRuntime::PrepareTest(const ProgramImage& image,
                                                         const CodeTestCase& test,
                                                         const PrivateDir& dir) const {
  SandboxSpec spec;
  const std::string work = dir.work_path();
  const std::string root = dir.path();
  spec.env = BaseEnv(work);
  spec.work_dir = work;
  spec.readable = readable;
  spec.readable.push_back(root);
  if (const auto* stdio = std::get_if<StdioCase>(&test)) {
    RETURN_IF_ERROR(dir.WriteFile("stdin", stdio->stdin_data));
    spec.stdin_path = root + "/stdin";
  }
  if (image.executable) {
    RETURN_IF_ERROR(dir.WriteFile("program", image.bytes));
    if (chmod((root + "/program").c_str(), 0555) != 0) {
      return absl::InternalError("chmod of the compiled program failed");
    }
    spec.argv = {root + "/program"};
    return spec;
  }
  RETURN_IF_ERROR(dir.WriteFile("main.py", image.bytes));
  if (const auto* call = std::get_if<FunctionCallCase>(&test)) {
    RETURN_IF_ERROR(dir.WriteFile("driver.py", PythonFunctionCallDriver()));
    RETURN_IF_ERROR(dir.WriteFile("args.json", call->arguments_json));
    spec.argv = {tool,
                 "-I",
                 "-B",
                 root + "/driver.py",
                 root + "/main.py",
                 root + "/args.json",
                 call->function_name};
    spec.result_channel = true;
    return spec;
  }
  spec.argv = {tool, "-I", "-B", root + "/main.py"};
  return spec;
}

const std::vector<LanguageRuntime>& DetectedRuntimes() {
  static const std::vector<LanguageRuntime>* runtimes = [] {
    auto* found = new std::vector<LanguageRuntime>;
    std::vector<std::string> why_not;
    if (auto python = DetectPython(why_not)) found->push_back(*std::move(python));
    if (auto cpp = DetectCpp(why_not)) found->push_back(*std::move(cpp));
    const SandboxIsolation isolation = Isolation();
    fprintf(stderr, "r1serve sandbox: isolation: %s; languages: %s%s%s\n",
            isolation.Describe().c_str(),
            found->empty() ? "none"
                           : absl::StrJoin(*found, ", ",
                                           [](std::string* out, const LanguageRuntime& r) {
                                             absl::StrAppend(out, r.language, " (", r.tool, ")");
                                           })
                                 .c_str(),
            why_not.empty() ? "" : "; not available: ", absl::StrJoin(why_not, "; ").c_str());
    return found;
  }();
  return *runtimes;
}

const LanguageRuntime* FindRuntime(std::string_view language) {
  for (const LanguageRuntime& runtime : DetectedRuntimes()) {
    if (runtime.language == language) return &runtime;
  }
  return nullptr;
}

}  // namespace r1serve::verify
