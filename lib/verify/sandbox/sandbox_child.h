// The child side of RunInSandbox: code that runs between clone() and execve() in a copy of a
// (possibly multi-threaded) service, so it makes raw system calls only: no allocation, no locks,
// no glibc wrappers that consult thread state (setresuid, fork).
//
// Process tree: the service clones the sandbox init (pid 1 of its pid namespace when there is
// one), which sets up namespaces and ids and forks the program. The init reaps everything,
// reports the program's wait status on the status pipe, and ends the whole tree.
#pragma once

#include <linux/filter.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>

namespace r1serve::verify {

// One record on the status pipe. stage == kProgramStatus: value is the program's wait status;
// any other stage: setup failed there with errno `value`.
struct ChildReport {
  int32_t stage;
  int32_t value;
};

enum ChildStage : int32_t {
  kProgramStatus = 0,
  kStageSync,
  kStageSetsid,
  kStageMountPrivate,
  kStageMountTmpfs,
  kStageSetIds,
  kStageChdir,
  kStageLandlockRule,
  kStageFork,
  kStageDup,
  kStageRlimit,
  kStageNoNewPrivs,
  kStageLandlock,
  kStageSeccomp,
  kStageExec,
};
const char* ChildStageName(int32_t stage);

// Everything the child needs, prepared by the parent before clone().
struct ChildPlan {
  struct Limit {
    int resource;
    rlim_t soft;
    rlim_t hard;
  };

  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* work_dir = nullptr;
  const char* tmpfs_options = nullptr;  // null: no tmpfs on work_dir
  bool mount_namespace = false;
  bool pid_namespace = false;
  bool set_ids = false;  // become uid/gid (ids as seen inside the user namespace, if any)
  bool clear_groups = false;
  uid_t uid = 0;
  gid_t gid = 0;
  int sync_fd = -1;    // one byte from the parent: go on (ids are mapped)
  int status_fd = -1;  // ChildReport records to the parent
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  int result_fd = -1;  // becomes fd 3 when >= 0
  int landlock_fd = -1;
  uint64_t landlock_work_rights = 0;  // added for work_dir, after mounting, by the init
  const sock_fprog* seccomp = nullptr;
  Limit limits[12];
  int limit_count = 0;
};

// clone() entry point of the sandbox init; `plan` points to a ChildPlan.
int SandboxInitMain(void* plan);

}  // namespace r1serve::verify
