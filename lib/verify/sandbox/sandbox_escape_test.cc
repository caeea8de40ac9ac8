// Programs that try to get out of the sandbox or take the service down. Each must end as a
// failed (or harmless) test while this process, its other children and the host stay intact,
// and the fixture checks that no process or folder is left behind.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/verify/sandbox/code_runner.h"
#include "lib/verify/sandbox/sandbox_process.h"
#include "lib/verify/sandbox/sandbox_test_util.h"

namespace r1serve::verify {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

class SandboxEscapeTest : public testing::SandboxTest {
 protected:
  // A folder outside the sandbox that anyone may read and write: only the sandbox stands
  // between the program and it.
  std::string OpenFolder() {
    const std::string path = tmpdir_ + "-outside";
    mkdir(path.c_str(), 0777);
    chmod(path.c_str(), 0777);
    outside_.push_back(path);
    return path;
  }
  void TearDown() override {
    for (const std::string& path : outside_) RemoveTree(path).IgnoreError();
    SandboxTest::TearDown();
  }
  std::vector<std::string> outside_;
};

// Reads N from a reason ending in `got "N BlockingIOError"`.
bool ParseMade(const std::string& reason, int* made) {
  const std::string marker = "got \"";
  const size_t at = reason.find(marker);
  if (at == std::string::npos || reason.find("BlockingIOError") == std::string::npos) return false;
  *made = std::atoi(reason.c_str() + at + marker.size());
  return true;
}

// Without Landlock nothing but file permissions keeps the program from files its uid may read
// or write (a documented gap): the file tests only hold with it.
#define SKIP_WITHOUT_LANDLOCK()                                                         \
  if (Isolation().landlock_abi == 0) {                                                  \
    GTEST_SKIP() << "no Landlock here: files outside the folder are protected by file " \
                    "permissions only";                                                 \
  }

// Substitutes $VAR in a program.
std::string Program(std::string text, const std::string& name, const std::string& value) {
  return absl::StrReplaceAll(text, {{"$" + name, value}});
}

TEST_F(SandboxEscapeTest, ProcessCapHolds) {
  // Forks until refused; every child sleeps so they all count at once.
  constexpr char kProgram[] = R"(
import os, time
made = 0
try:
    for _ in range(500):
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        made += 1
except OSError as e:
    print(made, type(e).__name__)
)";
  CodeLimits limits;
  limits.max_processes = 10;
  CodeRunResult result = Run(kProgram, {StdioCase{"", ""}}, limits);
  ASSERT_EQ(result.tests.size(), 1u);
  // Python itself is one of the 10 tasks. Without a user namespace (and not root) the cap
  // counts every task of the service's uid, so fewer may be allowed.
  int made = -1;
  ASSERT_TRUE(ParseMade(result.tests[0].reason, &made)) << result.tests[0].reason;
  EXPECT_LE(made, 9);
  if (Isolation().user_namespace) {
    EXPECT_EQ(made, 9);
  }
}

TEST_F(SandboxEscapeTest, ForkBomb) {
  constexpr char kProgram[] = R"(
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
)";
  CodeLimits limits;
  limits.test_timeout = absl::Seconds(2);
  const absl::Time start = absl::Now();
  EXPECT_EQ(ReasonOf(kProgram, limits), "time limit exceeded");
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_F(SandboxEscapeTest, MemoryBombAtOnce) {
  EXPECT_EQ(ReasonOf("x = bytearray(1 << 34)\n"), "memory limit exceeded");
}

TEST_F(SandboxEscapeTest, MemoryBombGrowing) {
  CodeLimits limits;
  limits.memory_bytes = uint64_t{256} << 20;
  EXPECT_EQ(ReasonOf("a = []\nwhile True:\n    a.append(' ' * 10**6)\n", limits),
            "memory limit exceeded");
}

TEST_F(SandboxEscapeTest, InfiniteLoopHitsTheWallClock) {
  CodeLimits limits;
  limits.test_timeout = absl::Seconds(1);
  CodeRunResult result = Run("while True:\n    pass\n", {StdioCase{"", ""}}, limits);
  ASSERT_EQ(result.tests.size(), 1u);
  EXPECT_EQ(result.tests[0].reason, "time limit exceeded");
  EXPECT_LT(result.tests[0].wall, absl::Milliseconds(1500));
}

TEST_F(SandboxEscapeTest, InfiniteLoopHitsTheCpuLimit) {
  CodeLimits limits;
  limits.test_timeout = absl::Seconds(20);
  limits.cpu_time = absl::Seconds(1);
  CodeRunResult result = Run("while True:\n    pass\n", {StdioCase{"", ""}}, limits);
  ASSERT_EQ(result.tests.size(), 1u);
  EXPECT_EQ(result.tests[0].reason, "time limit exceeded");
  EXPECT_LT(result.tests[0].wall, absl::Seconds(4));
}

TEST_F(SandboxEscapeTest, SleepingForever) {
  CodeLimits limits;
  limits.test_timeout = absl::Milliseconds(500);
  EXPECT_EQ(ReasonOf("import time\ntime.sleep(1000)\n", limits), "time limit exceeded");
}

TEST_F(SandboxEscapeTest, NoNetworkSockets) {
  // A listener of ours on loopback that the program must not reach.
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  socklen_t len = sizeof(addr);
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string port = std::to_string(ntohs(addr.sin_port));

  for (const char* family : {"AF_INET", "AF_INET6", "AF_NETLINK", "AF_PACKET"}) {
    std::string program = Program(Program(R"(
import socket
s = socket.socket(socket.$FAMILY, socket.SOCK_STREAM if "$FAMILY".startswith("AF_INET") else socket.SOCK_RAW)
s.connect(("127.0.0.1", $PORT))
print("ok")
)",
                                          "FAMILY", family),
                                  "PORT", port);
    std::string reason = ReasonOf(program);
    EXPECT_THAT(reason, StartsWith("runtime error: exit 1: ")) << family;
    EXPECT_THAT(reason, HasSubstr("PermissionError")) << family;
  }
  fcntl(listener, F_SETFL, O_NONBLOCK);
  EXPECT_LT(accept(listener, nullptr, nullptr), 0) << "the program reached our listener";
  close(listener);
  // AF_UNIX socket pairs stay usable (multiprocessing needs them).
  EXPECT_EQ(ReasonOf("import socket\na, b = socket.socketpair()\na.send(b'ok')\n"
                     "print(b.recv(2).decode())\n"),
            "ok");
}

TEST_F(SandboxEscapeTest, CannotReadSecretsOutsideItsFolder) {
  SKIP_WITHOUT_LANDLOCK();
  const std::string folder = OpenFolder();
  const std::string secret = folder + "/secret.txt";
  {
    std::ofstream out(secret);
    out << "hunter2";
  }
  chmod(secret.c_str(), 0644);
  for (const std::string& path : {secret, std::string("/proc/1/environ"),
                                  std::string("/proc/self/environ"), std::string("/etc/shadow")}) {
    std::string reason = ReasonOf(Program("print(open('$PATH').read())\n", "PATH", path));
    EXPECT_THAT(reason, StartsWith("runtime error: exit 1: ")) << path;
    EXPECT_THAT(reason, AnyOf(HasSubstr("PermissionError"), HasSubstr("FileNotFoundError")))
        << path;
    EXPECT_THAT(reason, Not(HasSubstr("hunter2")));
  }
  // Listing folders outside is refused too.
  EXPECT_THAT(ReasonOf(Program("import os\nprint(os.listdir('$DIR'))\n", "DIR", folder)),
              HasSubstr("PermissionError"));
}

TEST_F(SandboxEscapeTest, CannotWriteOutsideItsFolder) {
  SKIP_WITHOUT_LANDLOCK();
  const std::string folder = OpenFolder();
  const std::string beside = tmpdir_ + "-planted";  // in /tmp, next to the private folders
  for (const std::string& path : {folder + "/planted", beside, std::string("../planted")}) {
    std::string reason =
        ReasonOf(Program("open('$PATH', 'w').write('x')\nprint('ok')\n", "PATH", path));
    EXPECT_THAT(reason, StartsWith("runtime error: exit 1: ")) << path;
    EXPECT_THAT(reason, AnyOf(HasSubstr("PermissionError"), HasSubstr("Read-only")));
  }
  EXPECT_TRUE(testing::ListDir(folder).empty());
  EXPECT_NE(access(beside.c_str(), F_OK), 0);
  unlink(beside.c_str());
  // Its own folder is writable, and whatever it does to permissions there is cleaned up.
  EXPECT_EQ(ReasonOf(R"(
import os
os.makedirs('a/b/c')
open('a/b/c/f', 'w').write('x' * 1000)
os.chmod('a/b/c/f', 0)
os.chmod('a/b/c', 0)
os.chmod('a', 0o100)
print('ok')
)"),
            "ok");
}

TEST_F(SandboxEscapeTest, KillingTheParentAndEveryone) {
  // A process of ours that a `kill -9 -1` from the sandbox would take down if it could.
  pid_t bystander = fork();
  ASSERT_GE(bystander, 0);
  if (bystander == 0) {
    pause();
    _exit(0);
  }
  for (const char* program : {
           "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nprint('ok')\n",
           "import os, signal\nos.kill(-1, signal.SIGKILL)\nprint('ok')\n",
           "import os, signal\nos.kill(1, signal.SIGKILL)\nprint('ok')\n",
           "import os, signal\nos.killpg(os.getpgid(0), signal.SIGKILL)\nprint('ok')\n",
           "import os, signal\nfor pid in range(2, 40000):\n    try:\n"
           "        os.kill(pid, signal.SIGTERM)\n    except OSError:\n        pass\nprint('ok')\n",
       }) {
    // Harmless inside: either the signal is refused, or it only reaches the sandbox itself.
    std::string reason = ReasonOf(program);
    EXPECT_THAT(reason, AnyOf("ok", StartsWith("runtime error: "))) << program;
  }
  int status;
  EXPECT_EQ(waitpid(bystander, &status, WNOHANG), 0) << "the sandbox killed a process of ours";
  kill(bystander, SIGKILL);
  waitpid(bystander, &status, 0);
}

TEST_F(SandboxEscapeTest, OutputFlood) {
  CodeLimits limits;
  limits.max_output_bytes = 64 << 10;
  EXPECT_EQ(ReasonOf("while True:\n    print('x' * 1000)\n", limits), "output limit exceeded");
  EXPECT_EQ(ReasonOf("import sys\nwhile True:\n    sys.stderr.write('x' * 1000)\n", limits),
            "output limit exceeded");
  CodeRunResult result =
      Run("def f():\n    return 'x' * (1 << 20)\n", {FunctionCallCase{"f", "[]", "\"x\""}}, limits);
  ASSERT_EQ(result.tests.size(), 1u);
  EXPECT_EQ(result.tests[0].reason, "output limit exceeded");
}

TEST_F(SandboxEscapeTest, DiskFlood) {
  CodeLimits limits;
  limits.max_file_bytes = 1 << 20;
  EXPECT_EQ(ReasonOf("open('big', 'wb').write(b'x' * (4 << 20))\n", limits),
            "file size limit exceeded");
}

TEST_F(SandboxEscapeTest, BackgroundChildrenDieWithTheProgram) {
  // A daemon that keeps stdout open must neither stall the run nor outlive it.
  constexpr char kProgram[] = R"(
import os, time
if os.fork() == 0:
    if os.fork() == 0:
        time.sleep(60)
    os._exit(0)
print('ok')
)";
  CodeRunResult result = Run(kProgram, {StdioCase{"", "ok"}});
  ASSERT_EQ(result.tests.size(), 1u);
  EXPECT_TRUE(result.tests[0].passed) << result.tests[0].reason;
  EXPECT_LT(result.tests[0].wall, absl::Seconds(2));
}

TEST_F(SandboxEscapeTest, NoNewSessionsOrNamespaces) {
  EXPECT_THAT(ReasonOf("import os\nos.setsid()\n"), HasSubstr("PermissionError"));
  EXPECT_THAT(ReasonOf("import os\nos.unshare(os.CLONE_NEWUSER)\n"),
              AnyOf(HasSubstr("PermissionError"), HasSubstr("AttributeError")));
  EXPECT_THAT(ReasonOf("import ctypes\nlibc = ctypes.CDLL(None)\n"
                       "print('ok' if libc.ptrace(16, 1, 0, 0) != 0 else 'attached')\n"),
              "ok");
}

}  // namespace
}  // namespace r1serve::verify
