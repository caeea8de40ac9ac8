#include "lib/verify/sandbox/private_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace r1serve::verify {
namespace {

absl::Status Errno(const char* what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", strerror(errno)));
}

// Empties the directory open as `dir_fd` (which this call closes).
absl::Status EmptyDirectory(int dir_fd, const std::string& path) {
  fchmod(dir_fd, 0700);
  DIR* dir = fdopendir(dir_fd);
  if (dir == nullptr) {
    close(dir_fd);
    return Errno("opendir", path);
  }
  std::vector<std::pair<std::string, bool>> entries;  // name, is a directory
  while (dirent* entry = readdir(dir)) {
    std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    entries.emplace_back(name, entry->d_type == DT_DIR);
  }
  absl::Status status;
  for (const auto& [name, is_dir] : entries) {
    if (unlinkat(dirfd(dir), name.c_str(), 0) == 0) continue;
    if (errno != EISDIR && errno != EPERM) {
      if (status.ok()) status = Errno("unlink", path + "/" + name);
      continue;
    }
    int child = openat(dirfd(dir), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (child < 0) {
      // Not searchable: give the owner access back first.
      fchmodat(dirfd(dir), name.c_str(), 0700, 0);
      child = openat(dirfd(dir), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (child < 0) {
      if (status.ok()) status = Errno("open", path + "/" + name);
      continue;
    }
    absl::Status emptied = EmptyDirectory(child, path + "/" + name);
    if (!emptied.ok() && status.ok()) status = emptied;
    if (unlinkat(dirfd(dir), name.c_str(), AT_REMOVEDIR) != 0 && status.ok()) {
      status = Errno("rmdir", path + "/" + name);
    }
  }
  closedir(dir);
  return status;
}

}  // namespace

absl::Status RemoveTree(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return Errno("open", path);
  }
  absl::Status status = EmptyDirectory(fd, path);
  if (rmdir(path.c_str()) != 0 && status.ok()) status = Errno("rmdir", path);
  return status;
}

absl::StatusOr<PrivateDir> PrivateDir::Create(std::optional<DirOwner> owner) {
  const char* base = getenv("TMPDIR");
  std::string pattern = absl::StrCat(base != nullptr && *base != '\0' ? base : "/tmp", "/",
                                     kPrivateDirPrefix, "XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) return Errno("mkdtemp", pattern);
  PrivateDir dir(pattern);
  const std::string work = dir.work_path();
  if (mkdir(work.c_str(), 0700) != 0) return Errno("mkdir", work);
  if (owner.has_value()) {
    for (const std::string& p : {dir.path_, work}) {
      if (chown(p.c_str(), owner->uid, owner->gid) != 0) return Errno("chown", p);
    }
  }
  return dir;
}

PrivateDir::PrivateDir(PrivateDir&& other) noexcept : path_(std::move(other.path_)) {
  other.path_.clear();
}

PrivateDir::~PrivateDir() {
  if (!path_.empty()) RemoveTree(path_).IgnoreError();
}

absl::Status PrivateDir::WriteFile(std::string_view name, std::string_view contents) const {
  const std::string file = absl::StrCat(path_, "/", std::string(name));
  int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (fd < 0) return Errno("create", file);
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      close(fd);
      return Errno("write", file);
    }
    done += static_cast<size_t>(n);
  }
  if (close(fd) != 0) return Errno("close", file);
  return absl::OkStatus();
}

}  // namespace r1serve::verify
