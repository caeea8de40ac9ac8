// A private temporary folder for one sandboxed run, removed with everything in it (whatever
// permissions the program left behind) when the object goes away.
//
//   ASSIGN_OR_RETURN(PrivateDir dir, PrivateDir::Create(owner));
//   RETURN_IF_ERROR(dir.WriteFile("main.py", program));
//   ... run with cwd dir.work_path() ...
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace r1serve::verify {

// Prefix of every private folder's name, below $TMPDIR (else /tmp).
inline constexpr char kPrivateDirPrefix[] = "r1serve-sandbox-";

struct DirOwner {
  uid_t uid;
  gid_t gid;
};

class PrivateDir {
 public:
  // Creates <base>/r1serve-sandbox-XXXXXX (0700) holding an empty "work" folder (0700). With
  // `owner`, both are handed to that user (the sandbox user when the service runs as root).
  static absl::StatusOr<PrivateDir> Create(std::optional<DirOwner> owner);
  PrivateDir(PrivateDir&& other) noexcept;
  PrivateDir& operator=(PrivateDir&&) = delete;
  ~PrivateDir();

  const std::string& path() const { return path_; }
  std::string work_path() const { return path_ + "/work"; }

  // Writes a read-only (0444) file directly inside path().
  absl::Status WriteFile(std::string_view name, std::string_view contents) const;

 private:
  explicit PrivateDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Removes `path` and everything below it, first granting the owner access to each folder so
// that chmod 000 inside cannot keep anything behind. Does not follow symbolic links.
absl::Status RemoveTree(const std::string& path);

}  // namespace r1serve::verify
