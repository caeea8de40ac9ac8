// A seccomp-bpf program for sandboxed code, written directly in classic BPF so that it is built
// in the parent and installed by the child with one async-signal-safe prctl() (no libseccomp).
//
//   SeccompFilter filter = BuildSeccompFilter({.confine_signals = true});
//   ...in the child: prctl(PR_SET_NO_NEW_PRIVS, 1); prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER,
//   filter.program());
//
// The filter denies (EPERM) what sandboxed code never needs and could use to get out: sockets
// other than AF_UNIX, ptrace and cross-process memory access, namespace creation, mounts,
// keyrings, bpf, perf, io_uring, module loading, leaving the process group (setsid/setpgid) and,
// when asked, signals to anything but the caller's own process group. Foreign architectures and
// the x32 ABI are killed.
#pragma once

#include <linux/filter.h>

#include <vector>

namespace r1serve::verify {

struct SeccompOptions {
  // Deny kill() except to the caller's own process group (pid 0) and tkill/tgkill entirely: used
  // when neither a pid namespace nor Landlock's signal scoping keeps signals inside the sandbox.
  bool confine_signals = false;
};

class SeccompFilter {
 public:
  explicit SeccompFilter(std::vector<sock_filter> code);
  // Valid while this object lives; the child reads it after fork/clone (memory is copied).
  const sock_fprog* program() const { return &program_; }

 private:
  std::vector<sock_filter> code_;
  sock_fprog program_;
};

// False on an architecture the filter does not know (the sandbox then runs without seccomp and
// says so).
bool SeccompSupported();

SeccompFilter BuildSeccompFilter(const SeccompOptions& options);

}  // namespace r1serve::verify
