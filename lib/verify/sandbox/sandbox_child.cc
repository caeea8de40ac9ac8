#include "lib/verify/sandbox/sandbox_child.h"

#include <fcntl.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

namespace r1serve::verify {
namespace {

constexpr int kSetupFailedExit = 127;
constexpr int kHighFd = 100;  // fds are moved above this before being dup2'ed into place

void Report(int fd, int32_t stage, int32_t value) {
  ChildReport report{stage, value};
  ssize_t unused = write(fd, &report, sizeof(report));
  (void)unused;
}

[[noreturn]] void Fail(const ChildPlan& plan, int32_t stage) {
  Report(plan.status_fd, stage, errno);
  _exit(kSetupFailedExit);
}

pid_t RawFork() {
  return static_cast<pid_t>(syscall(SYS_clone, SIGCHLD, nullptr, nullptr, nullptr, 0));
}

void CloseAllExcept(int keep) {
  if (keep > 0) syscall(SYS_close_range, 0u, static_cast<unsigned>(keep - 1), 0u);
  syscall(SYS_close_range, static_cast<unsigned>(keep + 1), ~0u, 0u);
}

// Runs in the program's process: stdio, limits, Landlock, seccomp, then exec.
[[noreturn]] void ExecProgram(const ChildPlan& plan) {
  int status_fd = fcntl(plan.status_fd, F_DUPFD_CLOEXEC, kHighFd);
  if (status_fd < 0) Fail(plan, kStageDup);
  ChildPlan p = plan;
  p.status_fd = status_fd;
  const int sources[4] = {plan.stdin_fd, plan.stdout_fd, plan.stderr_fd, plan.result_fd};
  int moved[4] = {-1, -1, -1, -1};
  for (int i = 0; i < 4; ++i) {
    if (sources[i] < 0) continue;
    moved[i] = fcntl(sources[i], F_DUPFD_CLOEXEC, kHighFd);
    if (moved[i] < 0) Fail(p, kStageDup);
  }
  int landlock_fd = -1;
  if (plan.landlock_fd >= 0) {
    landlock_fd = fcntl(plan.landlock_fd, F_DUPFD_CLOEXEC, kHighFd);
    if (landlock_fd < 0) Fail(p, kStageDup);
  }
  for (int target = 0; target < 4; ++target) {
    if (moved[target] >= 0 && dup2(moved[target], target) < 0) Fail(p, kStageDup);
  }
  for (int i = 0; i < plan.limit_count; ++i) {
    rlimit limit{plan.limits[i].soft, plan.limits[i].hard};
    if (setrlimit(plan.limits[i].resource, &limit) != 0) {
      Fail(p, kStageRlimit);
    }
  }
  umask(077);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) Fail(p, kStageNoNewPrivs);
  if (landlock_fd >= 0 && syscall(SYS_landlock_restrict_self, landlock_fd, 0) != 0) {
    Fail(p, kStageLandlock);
  }
  // Keep 0..2 (and 3, the result channel) and the status pipe (close-on-exec) only.
  const unsigned first_free = plan.result_fd >= 0 ? 4 : 3;
  syscall(SYS_close_range, first_free, static_cast<unsigned>(status_fd - 1), 0u);
  syscall(SYS_close_range, static_cast<unsigned>(status_fd + 1), ~0u, 0u);
  if (plan.seccomp != nullptr &&
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, plan.seccomp, 0, 0) != 0) {
    Fail(p, kStageSeccomp);
  }
  execve(plan.argv[0], plan.argv, plan.envp);
  Fail(p, kStageExec);
}

}  // namespace

const char* ChildStageName(int32_t stage) {
  switch (stage) {
    case kProgramStatus:
      return "program";
    case kStageSync:
      return "sync";
    case kStageSetsid:
      return "setsid";
    case kStageMountPrivate:
      return "mount private";
    case kStageMountTmpfs:
      return "mount tmpfs";
    case kStageSetIds:
      return "set ids";
    case kStageChdir:
      return "chdir";
    case kStageLandlockRule:
      return "landlock rule";
    case kStageFork:
      return "fork";
    case kStageDup:
      return "dup";
    case kStageRlimit:
      return "setrlimit";
    case kStageNoNewPrivs:
      return "no_new_privs";
    case kStageLandlock:
      return "landlock";
    case kStageSeccomp:
      return "seccomp";
    case kStageExec:
      return "execve";
  }
  return "unknown";
}

int SandboxInitMain(void* arg) {
  const ChildPlan& plan = *static_cast<const ChildPlan*>(arg);
  // The parent blocked every signal around clone(); drop its handlers before unblocking.
  struct sigaction default_action = {};
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < _NSIG; ++sig) sigaction(sig, &default_action, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);

  // Die with the service; then wait for it to map our ids (a closed pipe means it gave up).
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  char go = 0;
  while (true) {
    ssize_t n = read(plan.sync_fd, &go, 1);
    if (n == 1) break;
    if (n < 0 && errno == EINTR) continue;
    Fail(plan, kStageSync);
  }
  if (setsid() < 0) Fail(plan, kStageSetsid);
  if (!plan.pid_namespace) prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  if (plan.mount_namespace) {
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      Fail(plan, kStageMountPrivate);
    }
    if (plan.tmpfs_options != nullptr &&
        mount("tmpfs", plan.work_dir, "tmpfs", MS_NOSUID | MS_NODEV, plan.tmpfs_options) != 0) {
      Fail(plan, kStageMountTmpfs);
    }
  }
  if (plan.set_ids) {
    if (plan.clear_groups && syscall(SYS_setgroups, 0, nullptr) != 0) Fail(plan, kStageSetIds);
    if (syscall(SYS_setresgid, plan.gid, plan.gid, plan.gid) != 0) Fail(plan, kStageSetIds);
    if (syscall(SYS_setresuid, plan.uid, plan.uid, plan.uid) != 0) Fail(plan, kStageSetIds);
  }
  if (chdir(plan.work_dir) != 0) Fail(plan, kStageChdir);
  if (plan.landlock_fd >= 0) {
    int work_fd = open(plan.work_dir, O_PATH | O_CLOEXEC);
    if (work_fd < 0) Fail(plan, kStageLandlockRule);
    landlock_path_beneath_attr rule = {};
    rule.allowed_access = plan.landlock_work_rights;
    rule.parent_fd = work_fd;
    if (syscall(SYS_landlock_add_rule, plan.landlock_fd, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) !=
        0) {
      Fail(plan, kStageLandlockRule);
    }
    close(work_fd);
  }

  pid_t program = RawFork();
  if (program < 0) Fail(plan, kStageFork);
  if (program == 0) ExecProgram(plan);

  CloseAllExcept(plan.status_fd);
  int program_status = 0;
  while (true) {
    int status = 0;
    pid_t reaped = waitpid(-1, &status, __WALL);
    if (reaped == program) {
      program_status = status;
      break;
    }
    if (reaped < 0 && errno != EINTR) break;
  }
  Report(plan.status_fd, kProgramStatus, program_status);
  // Whatever the program left running goes with it: in a pid namespace the kernel kills the
  // rest when this init exits; otherwise kill the process group (this process included).
  if (!plan.pid_namespace) kill(0, SIGKILL);
  _exit(0);
}

}  // namespace r1serve::verify
