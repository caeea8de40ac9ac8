// Reading safetensors files (Hugging Face's weight format) through a memory mapping, and
// streaming them out. Untrusted input: the header length, the JSON, every shape and every
// offset are checked against the file; a bad file is an error naming it, never a crash.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> st,
//                    SafetensorsFile::Open("model.safetensors"));
//   const SafetensorsTensor* t = st->Find("model.embed_tokens.weight");  // t->shape {vocab,
//   hidden}
//
//   SafetensorsWriter writer;
//   RETURN_IF_ERROR(writer.AddTensor("model.norm.weight", DType::kF16, {hidden}));
//   RETURN_IF_ERROR(writer.Open("model.safetensors"));
//   RETURN_IF_ERROR(writer.Write(bytes));  // tensor data in declaration order, any chunking
//   RETURN_IF_ERROR(writer.Close());
//
// Layout: u64 little-endian N, then N bytes of JSON {"__metadata__": {str: str},
// name: {"dtype": "F16", "shape": [..], "data_offsets": [begin, end]}, ...}, then the data;
// offsets are relative to the data's start. Shapes are row-major, outermost first. The format
// promises no alignment, so tensor data pointers may be unaligned.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lib/engine/format/dtype.h"
#include "lib/engine/format/mapped_file.h"

namespace r1serve::engine {

struct SafetensorsTensor {
  std::string name;
  std::string dtype_name;      // as in the file: "F16", "I64", ...
  std::optional<DType> dtype;  // nullopt for types this engine does not compute with
  std::vector<int64_t> shape;
  const std::byte* data = nullptr;
  int64_t size_bytes = 0;
};

class SafetensorsFile {
 public:
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);
  // Parses bytes the caller keeps alive; `name` prefixes messages.
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Parse(std::span<const std::byte> bytes,
                                                                std::string name);

  const std::string& name() const { return name_; }
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  const SafetensorsTensor* Find(absl::string_view name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // The file's mapping; null when parsed from caller-owned bytes.
  const MappedFile* mapping() const { return mapping_.get(); }

 private:
  SafetensorsFile() = default;

  std::unique_ptr<MappedFile> mapping_;
  std::string name_;
  std::vector<SafetensorsTensor> tensors_;
  std::map<std::string, size_t, std::less<>> index_;
  std::map<std::string, std::string> metadata_;
};

class SafetensorsWriter {
 public:
  SafetensorsWriter() = default;
  ~SafetensorsWriter();
  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

  void AddMetadata(std::string key, std::string value);  // "__metadata__", e.g. format=pt
  // F32, F16 and BF16 only (safetensors has no Q8_0).
  absl::Status AddTensor(std::string name, DType dtype, std::vector<int64_t> shape);
  absl::Status Open(const std::string& path);
  absl::Status Write(std::span<const std::byte> bytes);
  absl::Status Close();

  int64_t total_data_bytes() const { return total_bytes_; }

 private:
  struct Tensor {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    int64_t begin;
    int64_t end;
  };

  std::vector<std::pair<std::string, std::string>> metadata_;
  std::vector<Tensor> tensors_;
  int64_t total_bytes_ = 0;
  std::string path_;
  std::FILE* out_ = nullptr;
  std::vector<char> buffer_;
  int64_t written_ = 0;
};

}  // namespace r1serve::engine
