// Runs one untrusted process in a sandbox and collects what it printed.
//
//   SandboxSpec spec{.argv = {"/usr/bin/python3", "-I", "../main.py"}, ...};
//   ASSIGN_OR_RETURN(SandboxResult out, RunInSandbox(spec));
//   if (out.end == SandboxEnd::kWallTimeout) ...
//
// Layers, each used when the host allows it (Isolation() says which ones are active):
//  - namespaces: user (uid 1000 inside, an unprivileged uid outside), pid (the program's tree
//    dies with its init), net (no interfaces), mount (a size-capped tmpfs as the work folder),
//    ipc, uts. Without a user namespace a root service still runs the program as nobody.
//  - rlimits: address space, data, CPU time, file size, processes (RLIMIT_NPROC counts per user
//    namespace on Linux >= 5.14, so the cap holds per sandbox), open files, no core dumps.
//  - Landlock: read-only system folders, read-write only the private work folder; from ABI 6,
//    signals and abstract unix sockets scoped to the sandbox.
//  - seccomp-bpf: no network sockets, ptrace, mounts, namespaces, setsid (see seccomp_filter.h).
//  - a new session; the whole process group (or pid namespace) is killed when the program ends,
//    on timeout, on output overflow, and if the service dies (PR_SET_PDEATHSIG).
// The strongest set that works is probed once (a run of /bin/true) and logged when a layer is
// missing. R1SERVE_SANDBOX_DISABLE=userns,namespaces,landlock (any subset) leaves layers out: for
// testing the fallbacks, or for a host where one misbehaves.
//
// Known gaps: without Landlock, files outside the folder are protected by permissions only (the
// program's uid is nobody for a root service, the service's own uid otherwise). Memory is capped
// per process (RLIMIT_AS), so a test can hold processes * address_space_bytes. Without a user
// namespace a non-root service's RLIMIT_NPROC counts all of its uid's tasks (forks fail early);
// a root one's counts every sandbox's nobody tasks together. Calls are synchronous: the calling
// thread must stay alive for the run (it is the parent PR_SET_PDEATHSIG watches), and the
// service must not set SIGCHLD to SIG_IGN.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace r1serve::verify {

struct SandboxLimits {
  absl::Duration wall = absl::Seconds(5);
  absl::Duration cpu = absl::Seconds(5);
  uint64_t address_space_bytes = uint64_t{512} << 20;
  uint64_t file_bytes = uint64_t{16} << 20;   // per file, and the tmpfs work folder's size
  uint64_t output_bytes = uint64_t{1} << 20;  // stdout, stderr and result channel, each
  int processes = 8;                          // tasks (threads count) of the program's tree
  int open_files = 256;
};

struct SandboxSpec {
  std::vector<std::string> argv;      // argv[0]: absolute path of the executable
  std::vector<std::string> env;       // KEY=VALUE, the whole environment
  std::string work_dir;               // cwd and the only writable folder (a PrivateDir's work)
  std::string stdin_path;             // opened read-only as stdin; empty: /dev/null
  std::vector<std::string> readable;  // read/execute-only paths (Landlock)
  bool result_channel = false;        // fd 3 is a pipe whose bytes come back as result_data
  bool tmpfs_work_dir = true;         // with a mount namespace: work_dir is a fresh capped tmpfs
  SandboxLimits limits;
};

enum class SandboxEnd {
  kExited,       // exit_code
  kSignaled,     // term_signal
  kWallTimeout,  // killed at limits.wall
  kOutputLimit,  // killed when an output passed limits.output_bytes
};

struct SandboxResult {
  SandboxEnd end = SandboxEnd::kExited;
  int exit_code = 0;
  int term_signal = 0;
  std::string stdout_data;
  std::string stderr_tail;  // the last few KiB
  std::string result_data;
  absl::Duration wall;
};

// Which layers this host gives the sandbox (probed on first use, then fixed).
struct SandboxIsolation {
  bool user_namespace = false;
  bool other_namespaces = false;  // pid, net, mount, ipc, uts
  int landlock_abi = 0;
  bool seccomp = false;
  bool runs_as_nobody = false;  // root service: the program's uid outside is 65534
  std::string Describe() const;
};
SandboxIsolation Isolation();

// The host uid/gid that must own a run's private folder, when it differs from the service's.
std::optional<std::pair<uid_t, gid_t>> SandboxFolderOwner();

// Runs spec.argv to completion (or until a limit), then kills and reaps everything it started.
// Errors are the sandbox's own failures (INTERNAL), never the program's.
absl::StatusOr<SandboxResult> RunInSandbox(const SandboxSpec& spec);

}  // namespace r1serve::verify
