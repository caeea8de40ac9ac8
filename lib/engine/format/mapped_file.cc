#include "lib/engine/format/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace r1serve::engine {

absl::StatusOr<std::unique_ptr<MappedFile>> MappedFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    const std::string message = absl::StrCat(path, ": cannot open: ", std::strerror(error));
    return error == ENOENT ? absl::NotFoundError(message) : absl::InvalidArgumentError(message);
  }
  struct stat info;
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
  }
  if (info.st_size == 0) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, ": file is empty"));
  }
  const size_t size = static_cast<size_t>(info.st_size);
  void* address = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int error = errno;
  ::close(fd);  // the mapping keeps the file alive
  if (address == MAP_FAILED) {
    return absl::InternalError(absl::StrCat(path, ": mmap failed: ", std::strerror(error)));
  }
  return std::unique_ptr<MappedFile>(
      new MappedFile(path, static_cast<const std::byte*>(address), size));
}

MappedFile::~MappedFile() { ::munmap(const_cast<std::byte*>(data_), size_); }

bool MappedFile::ReleasePages(const std::byte* begin, size_t bytes) const {
  const auto start = reinterpret_cast<uintptr_t>(begin);
  const auto mapped = reinterpret_cast<uintptr_t>(data_);
  if (start < mapped || bytes > size_ || start - mapped > size_ - bytes) return false;
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t first = (start + page - 1) / page * page;
  const uintptr_t last = (start + bytes) / page * page;
  // Pages shared with a neighbouring tensor stay: it may still be read from here.
  if (last > first) {
    void* range = reinterpret_cast<void*>(first);
    // The page cache may hold the file in large folios that a fault maps 2 MiB at a time
    // (FilePmdMapped): reading a neighbour would map the released pages again. Without huge
    // mappings for this range, faults nearby map only a few small pages around themselves.
    ::madvise(range, last - first, MADV_NOHUGEPAGE);
    ::madvise(range, last - first, MADV_DONTNEED);
  }
  return true;
}

}  // namespace r1serve::engine
