// Landlock (Linux >= 5.13) file-system confinement for sandboxed code, built in the parent and
// applied by the child with one async-signal-safe syscall.
//
//   ASSIGN_OR_RETURN(LandlockRuleset rules, LandlockRuleset::Create(
//       {.read_only = {"/usr", "/lib"}, .device_files = {"/dev/null"}}));
//   ...in the child: add the work folder with rules.read_write_rights(), set
//   PR_SET_NO_NEW_PRIVS, then syscall(SYS_landlock_restrict_self, rules.fd(), 0);
//
// Everything not listed is denied: no reading secrets, no writing outside the private folder.
// From ABI 6 the ruleset also scopes signals and abstract unix sockets to the sandbox.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace r1serve::verify {

// The kernel's Landlock ABI version, 0 when Landlock is unavailable (old kernel, disabled LSM).
int LandlockAbiVersion();

struct LandlockPaths {
  std::vector<std::string> read_only;     // read and execute; missing paths are skipped
  std::vector<std::string> device_files;  // read/write an existing file (/dev/null)
};

class LandlockRuleset {
 public:
  static absl::StatusOr<LandlockRuleset> Create(const LandlockPaths& paths);
  LandlockRuleset(LandlockRuleset&& other) noexcept;
  LandlockRuleset& operator=(LandlockRuleset&&) = delete;
  ~LandlockRuleset();

  int fd() const { return fd_; }
  // Rights for a folder the program may change freely. The sandbox adds that rule itself, from
  // inside its mount namespace: a rule on a folder does not reach a tmpfs mounted over it.
  uint64_t read_write_rights() const { return read_write_rights_; }
  // Whether signals from inside are confined to the sandbox's own Landlock domain (ABI >= 6).
  bool scopes_signals() const { return scopes_signals_; }

 private:
  LandlockRuleset(int fd, bool scopes_signals, uint64_t read_write_rights)
      : fd_(fd), scopes_signals_(scopes_signals), read_write_rights_(read_write_rights) {}
  int fd_;
  bool scopes_signals_;
  uint64_t read_write_rights_;
};

}  // namespace r1serve::verify
