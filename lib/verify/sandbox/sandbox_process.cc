#include "lib/verify/sandbox/sandbox_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <mutex>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "lib/base/status_macros.h"
#include "lib/verify/sandbox/landlock_ruleset.h"
#include "lib/verify/sandbox/private_dir.h"
#include "lib/verify/sandbox/sandbox_child.h"
#include "lib/verify/sandbox/seccomp_filter.h"

namespace r1serve::verify {
namespace {

constexpr uid_t kNobody = 65534;
constexpr uid_t kInsideId = 1000;  // the program's uid/gid inside a user namespace
constexpr size_t kStderrTailBytes = 4096;
constexpr size_t kCloneStackBytes = 256 * 1024;

// One way of isolating, from strongest to weakest; the first that works on this host is kept.
struct IsolationLevel {
  int clone_flags;
  bool user_namespace;
};
constexpr int kOtherNamespaces =
    CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;
constexpr IsolationLevel kLevels[] = {
    {CLONE_NEWUSER | kOtherNamespaces, true},
    {kOtherNamespaces, false},  // needs CAP_SYS_ADMIN: a root service without user namespaces
    {0, false},
};

bool IsRoot() { return geteuid() == 0; }

// Owns a file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    Reset();
    fd_ = o.fd_;
    o.fd_ = -1;
    return *this;
  }
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read_end;
  Fd write_end;
};

absl::StatusOr<Pipe> MakePipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", strerror(errno)));
  }
  return Pipe{Fd(fds[0]), Fd(fds[1])};
}

// A socket pair rather than a pipe: the parent's one write to it must not raise SIGPIPE in the
// service if the init is already gone.
absl::StatusOr<Pipe> MakeSyncChannel() {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return absl::InternalError(absl::StrCat("socketpair: ", strerror(errno)));
  }
  return Pipe{Fd(fds[0]), Fd(fds[1])};
}

// NUL-terminated argv/envp arrays pointing into `strings`.
std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

absl::Status WriteProcFile(pid_t pid, const char* name, const std::string& text) {
  const std::string path = absl::StrCat("/proc/", pid, "/", name);
  Fd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (fd.get() < 0 ||
      write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return absl::UnavailableError(absl::StrCat("write ", path, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

// Maps the init's ids: kInsideId inside is the service's uid (nobody for a root service).
absl::Status MapIds(pid_t pid) {
  const uid_t outside_uid = IsRoot() ? kNobody : geteuid();
  const gid_t outside_gid = IsRoot() ? kNobody : getegid();
  if (!IsRoot()) RETURN_IF_ERROR(WriteProcFile(pid, "setgroups", "deny"));
  RETURN_IF_ERROR(WriteProcFile(pid, "uid_map", absl::StrCat(kInsideId, " ", outside_uid, " 1")));
  return WriteProcFile(pid, "gid_map", absl::StrCat(kInsideId, " ", outside_gid, " 1"));
}

void AddLimit(ChildPlan& plan, int resource, uint64_t soft, uint64_t hard) {
  plan.limits[plan.limit_count++] = {resource, static_cast<rlim_t>(soft),
                                     static_cast<rlim_t>(hard)};
}

const SeccompFilter& FilterFor(bool confine_signals) {
  static const SeccompFilter* confined = new SeccompFilter(BuildSeccompFilter({true}));
  static const SeccompFilter* open = new SeccompFilter(BuildSeccompFilter({false}));
  return confine_signals ? *confined : *open;
}

// Reads what is available from `fd` into `out`; false at end of file (or error).
bool ReadSome(int fd, std::string& out, uint64_t& total) {
  char buf[65536];
  ssize_t n = read(fd, buf, sizeof(buf));
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) return false;
  total += static_cast<uint64_t>(n);
  out.append(buf, static_cast<size_t>(n));
  return true;
}

// The running sandbox, seen from the service.
class SandboxRun {
 public:
  SandboxRun(const SandboxSpec& spec, const IsolationLevel& level, bool landlock)
      : spec_(spec), level_(level), landlock_(landlock) {}
  ~SandboxRun() { KillAndReap(); }

  // Starts the init; UNAVAILABLE when this isolation level does not work on this host.
  absl::Status Start();
  absl::StatusOr<SandboxResult> Wait();

 private:
  void KillAndReap();
  void Collect(absl::Time deadline, SandboxResult& outcome);
  void Drain(SandboxResult& outcome);
  bool OverOutput() const;

  const SandboxSpec& spec_;
  const IsolationLevel& level_;
  const bool landlock_;
  pid_t pid_ = -1;
  int init_status_ = 0;
  absl::Time started_;
  Fd stdout_, stderr_, result_, status_;
  std::string status_bytes_;
  std::string stderr_all_;
  uint64_t stdout_total_ = 0, stderr_total_ = 0, result_total_ = 0, status_total_ = 0;
};

absl::Status SandboxRun::Start() {
  std::optional<LandlockRuleset> ruleset;
  if (landlock_) {
    LandlockPaths paths{spec_.readable, {"/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"}};
    ASSIGN_OR_RETURN(LandlockRuleset created, LandlockRuleset::Create(paths));
    ruleset.emplace(std::move(created));
  }
  const bool pid_namespace = (level_.clone_flags & CLONE_NEWPID) != 0;
  const bool signals_scoped = pid_namespace || (ruleset && ruleset->scopes_signals());

  ASSIGN_OR_RETURN(Pipe sync, MakeSyncChannel());
  ASSIGN_OR_RETURN(Pipe status, MakePipe());
  ASSIGN_OR_RETURN(Pipe out, MakePipe());
  ASSIGN_OR_RETURN(Pipe err, MakePipe());
  Pipe result;
  if (spec_.result_channel) {
    ASSIGN_OR_RETURN(result, MakePipe());
  }
  const std::string stdin_path = spec_.stdin_path.empty() ? "/dev/null" : spec_.stdin_path;
  Fd stdin_fd(open(stdin_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (stdin_fd.get() < 0) {
    return absl::InternalError(absl::StrCat("open ", stdin_path, ": ", strerror(errno)));
  }

  std::vector<char*> argv = CStrings(spec_.argv);
  std::vector<char*> envp = CStrings(spec_.env);
  const SandboxLimits& limits = spec_.limits;
  const bool mount_namespace = (level_.clone_flags & CLONE_NEWNS) != 0;
  const uid_t uid = level_.user_namespace ? kInsideId : kNobody;
  const std::string tmpfs_options = absl::StrFormat(
      "size=%d,nr_inodes=4096,mode=0700,uid=%d,gid=%d", limits.file_bytes, uid, uid);

  ChildPlan plan;
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.work_dir = spec_.work_dir.c_str();
  plan.tmpfs_options = mount_namespace && spec_.tmpfs_work_dir ? tmpfs_options.c_str() : nullptr;
  plan.mount_namespace = mount_namespace;
  plan.pid_namespace = pid_namespace;
  plan.set_ids = level_.user_namespace || IsRoot();
  plan.clear_groups = IsRoot();
  plan.uid = uid;
  plan.gid = uid;
  plan.sync_fd = sync.read_end.get();
  plan.status_fd = status.write_end.get();
  plan.stdin_fd = stdin_fd.get();
  plan.stdout_fd = out.write_end.get();
  plan.stderr_fd = err.write_end.get();
  plan.result_fd = spec_.result_channel ? result.write_end.get() : -1;
  plan.landlock_fd = ruleset ? ruleset->fd() : -1;
  plan.landlock_work_rights = ruleset ? ruleset->read_write_rights() : 0;
  plan.seccomp = SeccompSupported() ? FilterFor(!signals_scoped).program() : nullptr;
  const uint64_t cpu_seconds =
      std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(absl::ToDoubleSeconds(limits.cpu))));
  AddLimit(plan, RLIMIT_AS, limits.address_space_bytes, limits.address_space_bytes);
  AddLimit(plan, RLIMIT_DATA, limits.address_space_bytes, limits.address_space_bytes);
  AddLimit(plan, RLIMIT_CPU, cpu_seconds, cpu_seconds + 1);
  AddLimit(plan, RLIMIT_FSIZE, limits.file_bytes, limits.file_bytes);
  // +1: the init counts too (same user in the same user namespace).
  AddLimit(plan, RLIMIT_NPROC, limits.processes + 1, limits.processes + 1);
  AddLimit(plan, RLIMIT_NOFILE, limits.open_files, limits.open_files);
  AddLimit(plan, RLIMIT_CORE, 0, 0);
  AddLimit(plan, RLIMIT_MSGQUEUE, 0, 0);

  void* stack = mmap(nullptr, kCloneStackBytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return absl::InternalError("mmap of the clone stack failed");
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_ = clone(SandboxInitMain, static_cast<char*>(stack) + kCloneStackBytes,
               level_.clone_flags | SIGCHLD, &plan);
  const int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  munmap(stack, kCloneStackBytes);
  if (pid_ < 0) {
    return absl::UnavailableError(absl::StrCat("clone: ", strerror(clone_errno)));
  }
  sync.read_end.Reset();
  status.write_end.Reset();
  out.write_end.Reset();
  err.write_end.Reset();
  result.write_end.Reset();
  if (level_.user_namespace) RETURN_IF_ERROR(MapIds(pid_));
  started_ = absl::Now();
  if (send(sync.write_end.get(), "g", 1, MSG_NOSIGNAL) != 1) {
    return absl::InternalError(absl::StrCat("sandbox sync: ", strerror(errno)));
  }
  stdout_ = std::move(out.read_end);
  stderr_ = std::move(err.read_end);
  result_ = std::move(result.read_end);
  status_ = std::move(status.read_end);
  return absl::OkStatus();
}

bool SandboxRun::OverOutput() const {
  const uint64_t cap = spec_.limits.output_bytes;
  return stdout_total_ > cap || stderr_total_ > cap || result_total_ > cap;
}

// Reads the pipes until the init reports (status pipe closes), the deadline, or an output cap.
void SandboxRun::Collect(absl::Time deadline, SandboxResult& outcome) {
  std::string* sinks[4] = {&outcome.stdout_data, &stderr_all_, &outcome.result_data,
                           &status_bytes_};
  uint64_t* totals[4] = {&stdout_total_, &stderr_total_, &result_total_, &status_total_};
  Fd* fds[4] = {&stdout_, &stderr_, &result_, &status_};
  while (status_.get() >= 0) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      outcome.end = SandboxEnd::kWallTimeout;
      return;
    }
    pollfd pfds[4];
    int which[4];
    int n = 0;
    for (int i = 0; i < 4; ++i) {
      if (fds[i]->get() < 0) continue;
      pfds[n] = {fds[i]->get(), POLLIN, 0};
      which[n++] = i;
    }
    const int timeout_ms =
        static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 60000));
    int ready = poll(pfds, n, timeout_ms);
    if (ready < 0 && errno != EINTR) return;
    for (int j = 0; j < n && ready > 0; ++j) {
      if (pfds[j].revents == 0) continue;
      const int i = which[j];
      if (!ReadSome(fds[i]->get(), *sinks[i], *totals[i])) fds[i]->Reset();
    }
    if (stderr_all_.size() > 4 * kStderrTailBytes) {
      stderr_all_.erase(0, stderr_all_.size() - kStderrTailBytes);
    }
    if (OverOutput()) {
      outcome.end = SandboxEnd::kOutputLimit;
      return;
    }
  }
}

// After everything is dead: the pipes hold what is left, and reach end of file.
void SandboxRun::Drain(SandboxResult& outcome) {
  std::string* sinks[4] = {&outcome.stdout_data, &stderr_all_, &outcome.result_data,
                           &status_bytes_};
  uint64_t* totals[4] = {&stdout_total_, &stderr_total_, &result_total_, &status_total_};
  Fd* fds[4] = {&stdout_, &stderr_, &result_, &status_};
  const uint64_t cap = spec_.limits.output_bytes;
  for (int i = 0; i < 4; ++i) {
    while (fds[i]->get() >= 0) {
      pollfd pfd{fds[i]->get(), POLLIN, 0};
      // Stragglers outside a pid namespace die asynchronously; never wait long for them.
      if (poll(&pfd, 1, 1000) <= 0 || !ReadSome(fds[i]->get(), *sinks[i], *totals[i]) ||
          *totals[i] > cap) {
        fds[i]->Reset();
      }
    }
  }
  if (outcome.stdout_data.size() > cap) outcome.stdout_data.resize(cap);
  if (outcome.result_data.size() > cap) outcome.result_data.resize(cap);
}

void SandboxRun::KillAndReap() {
  if (pid_ <= 0) return;
  // The init is this process's child and is not reaped yet, so neither its pid nor its process
  // group id can have been reused.
  kill(-pid_, SIGKILL);
  kill(pid_, SIGKILL);
  while (waitpid(pid_, &init_status_, __WALL) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

absl::StatusOr<SandboxResult> SandboxRun::Wait() {
  SandboxResult outcome;
  outcome.end = SandboxEnd::kSignaled;
  Collect(started_ + spec_.limits.wall, outcome);
  const SandboxEnd killed_for = outcome.end;
  KillAndReap();
  outcome.wall = absl::Now() - started_;
  Drain(outcome);
  outcome.stderr_tail = stderr_all_.size() > kStderrTailBytes
                            ? stderr_all_.substr(stderr_all_.size() - kStderrTailBytes)
                            : stderr_all_;
  std::optional<int> program_status;
  for (size_t at = 0; at + sizeof(ChildReport) <= status_bytes_.size(); at += sizeof(ChildReport)) {
    ChildReport report;
    memcpy(&report, status_bytes_.data() + at, sizeof(report));
    if (report.stage != kProgramStatus) {
      const std::string message = absl::StrCat(
          "sandbox setup failed at ", ChildStageName(report.stage), ": ", strerror(report.value));
      // Namespace-related steps: this level does not work here; a weaker one may.
      if (report.stage <= kStageSetIds) return absl::UnavailableError(message);
      return absl::InternalError(message);
    }
    program_status = report.value;
  }
  if (killed_for == SandboxEnd::kWallTimeout || killed_for == SandboxEnd::kOutputLimit) {
    outcome.end = killed_for;
    return outcome;
  }
  // No report: the init died first (outside a pid namespace the program can kill its own
  // process group); judge by how the init ended.
  const int status = program_status.value_or(init_status_);
  if (WIFEXITED(status)) {
    outcome.end = SandboxEnd::kExited;
    outcome.exit_code = WEXITSTATUS(status);
  } else {
    outcome.end = SandboxEnd::kSignaled;
    outcome.term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : SIGKILL;
  }
  return outcome;
}

absl::StatusOr<SandboxResult> RunAtLevel(const SandboxSpec& spec, const IsolationLevel& level,
                                         bool landlock) {
  SandboxRun run(spec, level, landlock);
  RETURN_IF_ERROR(run.Start());
  return run.Wait();
}

struct ProbedIsolation {
  const IsolationLevel* level = &kLevels[2];
  SandboxIsolation isolation;
};

// R1SERVE_SANDBOX_DISABLE: layers to leave out, comma-separated ("userns", "namespaces",
// "landlock"), to test the fallbacks or to work around a host where a layer misbehaves.
bool Disabled(std::string_view layer) {
  const char* value = getenv("R1SERVE_SANDBOX_DISABLE");
  if (value == nullptr) return false;
  for (absl::string_view token : absl::StrSplit(value, ',')) {
    if (absl::string_view(layer.data(), layer.size()) == token) return true;
  }
  return false;
}

// Runs /bin/true at each level until one works.
ProbedIsolation Probe() {
  ProbedIsolation probed;
  probed.isolation.landlock_abi = Disabled("landlock") ? 0 : LandlockAbiVersion();
  const bool landlock = probed.isolation.landlock_abi > 0;
  probed.isolation.seccomp = SeccompSupported();
  probed.isolation.runs_as_nobody = IsRoot();
  std::optional<DirOwner> owner;
  if (auto ids = SandboxFolderOwner()) owner = DirOwner{ids->first, ids->second};
  std::vector<std::string> failures;
  for (const IsolationLevel& level : kLevels) {
    if (level.clone_flags != 0 && !level.user_namespace && !IsRoot()) continue;
    if (level.user_namespace && Disabled("userns")) continue;
    if (level.clone_flags != 0 && Disabled("namespaces")) continue;
    absl::StatusOr<PrivateDir> dir = PrivateDir::Create(owner);
    if (!dir.ok()) break;
    SandboxSpec spec;
    spec.argv = {"/bin/true"};
    spec.work_dir = dir->work_path();
    spec.readable = {"/bin", "/usr", "/lib", "/lib64"};
    absl::StatusOr<SandboxResult> out = RunAtLevel(spec, level, landlock);
    if (out.ok() || !absl::IsUnavailable(out.status())) {
      probed.level = &level;
      break;
    }
    failures.push_back(std::string(out.status().message()));
  }
  probed.isolation.user_namespace = probed.level->user_namespace;
  probed.isolation.other_namespaces = probed.level->clone_flags != 0;
  if (!failures.empty()) {
    fprintf(stderr, "r1serve sandbox: stronger isolation unavailable (%s); using: %s\n",
            absl::StrJoin(failures, "; ").c_str(), probed.isolation.Describe().c_str());
  }
  return probed;
}

const ProbedIsolation& Probed() {
  static const ProbedIsolation* probed = new ProbedIsolation(Probe());
  return *probed;
}

}  // namespace

std::string SandboxIsolation::Describe() const {
  std::vector<std::string> layers;
  if (user_namespace) layers.push_back("user namespace");
  if (other_namespaces) layers.push_back("pid/net/mount/ipc/uts namespaces");
  if (runs_as_nobody) layers.push_back("uid nobody");
  layers.push_back("rlimits");
  layers.push_back(landlock_abi > 0 ? absl::StrCat("landlock abi ", landlock_abi)
                                    : "no landlock (files outside the folder readable)");
  layers.push_back(seccomp ? "seccomp" : "no seccomp");
  return absl::StrJoin(layers, ", ");
}

SandboxIsolation Isolation() { return Probed().isolation; }

std::optional<std::pair<uid_t, gid_t>> SandboxFolderOwner() {
  if (IsRoot()) return std::make_pair(kNobody, kNobody);
  return std::nullopt;
}

absl::StatusOr<SandboxResult> RunInSandbox(const SandboxSpec& spec) {
  const ProbedIsolation& probed = Probed();
  return RunAtLevel(spec, *probed.level, probed.isolation.landlock_abi > 0);
}

}  // namespace r1serve::verify
