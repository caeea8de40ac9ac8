// A whole file mapped read-only into memory, so that weights are used where they lie: loading a
// model costs page-table entries, not copies, and pages come in as the forward pass touches them.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> file, MappedFile::Open("model.gguf"));
//   std::span<const std::byte> bytes = file->bytes();
//
// The mapping is private and read-only: a file changed on disk while mapped is undefined
// behaviour for the reader (as for every mmap-based loader); truncating it underneath a running
// process raises SIGBUS. Callers check every offset against size() before dereferencing.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include "absl/status/statusor.h"

namespace r1serve::engine {

class MappedFile {
 public:
  // NotFound when the file does not exist, InvalidArgument when it is empty or not a regular
  // file, Internal when mmap fails; every message names the path.
  static absl::StatusOr<std::unique_ptr<MappedFile>> Open(const std::string& path);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<const std::byte> bytes() const { return {data_, size_}; }

  // Takes the pages that lie wholly inside [begin, begin + bytes) out of this process's
  // resident set (MADV_DONTNEED): for a caller that has copied those bytes elsewhere. The
  // content does not change (a later read faults the page back in from the file); a range
  // outside the mapping is ignored. Returns whether the range was inside.
  bool ReleasePages(const std::byte* begin, size_t bytes) const;

 private:
  MappedFile(std::string path, const std::byte* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}

  std::string path_;
  const std::byte* data_;
  size_t size_;
};

}  // namespace r1serve::engine
