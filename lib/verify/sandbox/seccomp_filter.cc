#include "lib/verify/sandbox/seccomp_filter.h"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <cerrno>
#include <utility>

namespace r1serve::verify {
namespace {

#if defined(__x86_64__)
constexpr unsigned kAuditArch = AUDIT_ARCH_X86_64;
constexpr bool kKnownArch = true;
#elif defined(__aarch64__)
constexpr unsigned kAuditArch = AUDIT_ARCH_AARCH64;
constexpr bool kKnownArch = true;
#else
constexpr unsigned kAuditArch = 0;
constexpr bool kKnownArch = false;
#endif

constexpr unsigned kX32SyscallBit = 0x40000000;
constexpr unsigned kNamespaceFlags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET |
                                     CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;

// Syscalls that fail with EPERM whatever their arguments.
constexpr long kDenied[] = {
    SYS_ptrace,
    SYS_process_vm_readv,
    SYS_process_vm_writev,
    SYS_mount,
    SYS_umount2,
    SYS_pivot_root,
    SYS_chroot,
    SYS_unshare,
    SYS_setns,
    SYS_swapon,
    SYS_swapoff,
    SYS_reboot,
    SYS_kexec_load,
    SYS_init_module,
    SYS_finit_module,
    SYS_delete_module,
    SYS_bpf,
    SYS_perf_event_open,
    SYS_userfaultfd,
    SYS_keyctl,
    SYS_add_key,
    SYS_request_key,
    SYS_io_uring_setup,
    SYS_io_uring_enter,
    SYS_io_uring_register,
    SYS_open_by_handle_at,
    SYS_name_to_handle_at,
    SYS_setsid,
    SYS_setpgid,
    SYS_acct,
    SYS_quotactl,
    SYS_syslog,
    SYS_settimeofday,
    SYS_clock_settime,
    SYS_adjtimex,
    SYS_sethostname,
    SYS_setdomainname,
    SYS_kcmp,
    SYS_fanotify_init,
    SYS_move_mount,
    SYS_open_tree,
    SYS_fsopen,
    SYS_fsmount,
    SYS_fsconfig,
    SYS_fspick,
    SYS_pidfd_getfd,
    SYS_mount_setattr,
#ifdef SYS_kexec_file_load
    SYS_kexec_file_load,
#endif
#if defined(__x86_64__)
    SYS_iopl,
    SYS_ioperm,
    SYS_lookup_dcookie,
#endif
};

constexpr unsigned kNrOffset = offsetof(seccomp_data, nr);
constexpr unsigned kArchOffset = offsetof(seccomp_data, arch);
// Low 32 bits of an argument (both supported architectures are little-endian).
constexpr unsigned ArgLow(int i) { return offsetof(seccomp_data, args) + 8 * i; }

sock_filter Stmt(unsigned short code, unsigned k) { return BPF_STMT(code, k); }
sock_filter Jump(unsigned short code, unsigned k, unsigned char jt, unsigned char jf) {
  return BPF_JUMP(code, k, jt, jf);
}

constexpr unsigned kAllow = SECCOMP_RET_ALLOW;
constexpr unsigned kDenyEperm = SECCOMP_RET_ERRNO | EPERM;
constexpr unsigned kDenyEnosys = SECCOMP_RET_ERRNO | ENOSYS;

class Builder {
 public:
  // if (nr == syscall) return action;
  void Return(long syscall, unsigned action) {
    code_.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<unsigned>(syscall), 0, 1));
    code_.push_back(Stmt(BPF_RET | BPF_K, action));
  }
  // if (nr == syscall) { if (arg_low(i) == value) return allow; return deny; }
  void AllowOnlyArgEquals(long syscall, int arg, unsigned value, unsigned deny) {
    code_.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<unsigned>(syscall), 0, 4));
    code_.push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, ArgLow(arg)));
    code_.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, value, 0, 1));
    code_.push_back(Stmt(BPF_RET | BPF_K, kAllow));
    code_.push_back(Stmt(BPF_RET | BPF_K, deny));
  }
  // if (nr == syscall) { if (arg_low(i) & mask) return deny; return allow; }
  void DenyArgBits(long syscall, int arg, unsigned mask, unsigned deny) {
    code_.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<unsigned>(syscall), 0, 4));
    code_.push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, ArgLow(arg)));
    code_.push_back(Jump(BPF_JMP | BPF_JSET | BPF_K, mask, 0, 1));
    code_.push_back(Stmt(BPF_RET | BPF_K, deny));
    code_.push_back(Stmt(BPF_RET | BPF_K, kAllow));
  }
  void Append(sock_filter f) { code_.push_back(f); }
  std::vector<sock_filter> Take() { return std::move(code_); }

 private:
  std::vector<sock_filter> code_;
};

}  // namespace

SeccompFilter::SeccompFilter(std::vector<sock_filter> code) : code_(std::move(code)) {
  program_.len = static_cast<unsigned short>(code_.size());
  program_.filter = code_.data();
}

bool SeccompSupported() { return kKnownArch; }

SeccompFilter BuildSeccompFilter(const SeccompOptions& options) {
  Builder b;
  b.Append(Stmt(BPF_LD | BPF_W | BPF_ABS, kArchOffset));
  b.Append(Jump(BPF_JMP | BPF_JEQ | BPF_K, kAuditArch, 1, 0));
  b.Append(Stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
  b.Append(Stmt(BPF_LD | BPF_W | BPF_ABS, kNrOffset));
#if defined(__x86_64__)
  b.Append(Jump(BPF_JMP | BPF_JGE | BPF_K, kX32SyscallBit, 0, 1));
  b.Append(Stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
#endif
  for (long nr : kDenied) b.Return(nr, kDenyEperm);
  // clone3 passes its flags in memory the filter cannot read: make libc fall back to clone.
  b.Return(SYS_clone3, kDenyEnosys);
  if (options.confine_signals) {
    b.Return(SYS_tkill, kDenyEperm);
    b.Return(SYS_tgkill, kDenyEperm);
    b.Return(SYS_rt_tgsigqueueinfo, kDenyEperm);
    b.Return(SYS_rt_sigqueueinfo, kDenyEperm);
    b.Return(SYS_pidfd_send_signal, kDenyEperm);
    b.AllowOnlyArgEquals(SYS_kill, 0, 0, kDenyEperm);
  }
  b.AllowOnlyArgEquals(SYS_socket, 0, AF_UNIX, SECCOMP_RET_ERRNO | EACCES);
  b.AllowOnlyArgEquals(SYS_socketpair, 0, AF_UNIX, SECCOMP_RET_ERRNO | EACCES);
  // Each arg-checking rule returns on both branches once the number matched, so the accumulator
  // holds the syscall number at the start of every rule.
  b.DenyArgBits(SYS_clone, 0, kNamespaceFlags, kDenyEperm);
  b.Append(Stmt(BPF_RET | BPF_K, kAllow));
  return SeccompFilter(b.Take());
}

}  // namespace r1serve::verify
