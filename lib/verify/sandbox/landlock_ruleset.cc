#include "lib/verify/sandbox/landlock_ruleset.h"

#include <fcntl.h>
#include <linux/landlock.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace r1serve::verify {
namespace {

// Access rights newer than Debian 12's <linux/landlock.h>; values from the kernel's uapi.
constexpr uint64_t kAccessFsTruncate = uint64_t{1} << 14;        // ABI 3
constexpr uint64_t kAccessFsIoctlDev = uint64_t{1} << 15;        // ABI 5
constexpr uint64_t kScopeAbstractUnixSocket = uint64_t{1} << 0;  // ABI 6
constexpr uint64_t kScopeSignal = uint64_t{1} << 1;              // ABI 6

// struct landlock_ruleset_attr as of ABI 6 (handled_access_fs, handled_access_net, scoped).
struct RulesetAttr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
  uint64_t scoped;
};

constexpr uint64_t kFileRights = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                                 LANDLOCK_ACCESS_FS_READ_FILE | kAccessFsTruncate |
                                 kAccessFsIoctlDev;
constexpr uint64_t kReadRights =
    LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;

uint64_t HandledFsRights(int abi) {
  uint64_t rights = (uint64_t{1} << 13) - 1;  // ABI 1: EXECUTE .. MAKE_SYM
  if (abi >= 2) rights |= LANDLOCK_ACCESS_FS_REFER;
  if (abi >= 3) rights |= kAccessFsTruncate;
  if (abi >= 5) rights |= kAccessFsIoctlDev;
  return rights;
}

// Adds `path` with `rights` (restricted to what a regular file accepts when it is not a
// directory). Returns false when the path does not exist.
absl::StatusOr<bool> AddPath(int ruleset_fd, const std::string& path, uint64_t rights) {
  int fd = open(path.c_str(), O_PATH | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR || errno == EACCES) return false;
    return absl::InternalError(absl::StrCat("landlock: open ", path, ": ", strerror(errno)));
  }
  struct stat st;
  if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) rights &= kFileRights;
  landlock_path_beneath_attr attr{};
  attr.allowed_access = rights;
  attr.parent_fd = fd;
  long rc = syscall(SYS_landlock_add_rule, ruleset_fd, LANDLOCK_RULE_PATH_BENEATH, &attr, 0);
  int err = errno;
  close(fd);
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("landlock: add rule ", path, ": ", strerror(err)));
  }
  return true;
}

}  // namespace

int LandlockAbiVersion() {
  static const int abi = [] {
    long v = syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return v < 0 ? 0 : static_cast<int>(v);
  }();
  return abi;
}

absl::StatusOr<LandlockRuleset> LandlockRuleset::Create(const LandlockPaths& paths) {
  const int abi = LandlockAbiVersion();
  if (abi <= 0) return absl::UnavailableError("landlock is not available on this kernel");
  const uint64_t handled = HandledFsRights(abi);
  RulesetAttr attr{handled, 0, 0};
  size_t attr_size = sizeof(uint64_t);
  if (abi >= 6) {
    attr.scoped = kScopeSignal | kScopeAbstractUnixSocket;
    attr_size = sizeof(RulesetAttr);
  }
  long fd = syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("landlock_create_ruleset: ", strerror(errno)));
  }
  LandlockRuleset ruleset(static_cast<int>(fd), abi >= 6, handled);
  for (const std::string& path : paths.read_only) {
    absl::StatusOr<bool> added = AddPath(ruleset.fd_, path, kReadRights & handled);
    if (!added.ok()) return added.status();
  }
  const uint64_t device_rights = (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                                  kAccessFsTruncate | kAccessFsIoctlDev) &
                                 handled;
  for (const std::string& path : paths.device_files) {
    absl::StatusOr<bool> added = AddPath(ruleset.fd_, path, device_rights);
    if (!added.ok()) return added.status();
  }
  return ruleset;
}

LandlockRuleset::LandlockRuleset(LandlockRuleset&& other) noexcept
    : fd_(other.fd_),
      scopes_signals_(other.scopes_signals_),
      read_write_rights_(other.read_write_rights_) {
  other.fd_ = -1;
}

LandlockRuleset::~LandlockRuleset() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace r1serve::verify
