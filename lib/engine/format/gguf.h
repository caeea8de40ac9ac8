// Reading GGUF files (llama.cpp's single-file model format, versions 2 and 3): the metadata
// key/value pairs of every value type, and the tensor directory with each tensor's bytes located
// inside a memory mapping. Untrusted input: every count, length and offset is checked against
// the file before use, so a truncated or corrupted file is an error naming the file and the
// byte offset, never a crash or a huge allocation.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<GgufFile> gguf, GgufFile::Open("model.gguf"));
//   ASSIGN_OR_RETURN(std::string arch, gguf->GetString("general.architecture"));
//   const GgufTensorInfo* embd = gguf->FindTensor("token_embd.weight");
//   // embd->shape is {vocab, hidden}: row-major, outermost first (the file lists ggml's
//   // ne[] innermost first; embd->ggml_dims keeps that order).
//
// Layout (all little-endian): "GGUF", u32 version, u64 tensor_count, u64 kv_count; kv_count
// times {string key, u32 type, value}; tensor_count times {string name, u32 n_dims,
// u64 ne[n_dims], u32 ggml_type, u64 offset}; padding to `alignment` (general.alignment,
// default 32); the data section, where each tensor starts at its offset (a multiple of the
// alignment). A string is a u64 byte length and the bytes; an array is a u32 element type,
// a u64 count and the elements.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lib/engine/format/dtype.h"
#include "lib/engine/format/mapped_file.h"

namespace r1serve::engine {

inline constexpr uint32_t kGgufDefaultAlignment = 32;

enum class GgufType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

absl::string_view GgufTypeName(GgufType type);

// A scalar metadata value: unsigned integers as uint64_t, signed as int64_t, floats as double;
// GgufValue::type says which exact type the file holds (and the writer writes).
using GgufScalar = std::variant<uint64_t, int64_t, double, bool, std::string>;

struct GgufValue {
  GgufType type = GgufType::kUint32;
  GgufScalar scalar;                         // when type != kArray
  GgufType element_type = GgufType::kUint8;  // when type == kArray
  std::vector<GgufScalar> elements;  // when type == kArray (arrays of arrays are unsupported)

  static GgufValue Uint32(uint32_t v) { return Scalar(GgufType::kUint32, uint64_t{v}); }
  static GgufValue Uint64(uint64_t v) { return Scalar(GgufType::kUint64, v); }
  static GgufValue Int32(int32_t v) { return Scalar(GgufType::kInt32, int64_t{v}); }
  static GgufValue Float32(float v) { return Scalar(GgufType::kFloat32, double{v}); }
  static GgufValue Bool(bool v) { return Scalar(GgufType::kBool, v); }
  static GgufValue String(std::string v) { return Scalar(GgufType::kString, std::move(v)); }
  static GgufValue Scalar(GgufType type, GgufScalar scalar) {
    GgufValue value;
    value.type = type;
    value.scalar = std::move(scalar);
    return value;
  }
  static GgufValue Array(GgufType element_type, std::vector<GgufScalar> elements) {
    GgufValue value;
    value.type = GgufType::kArray;
    value.element_type = element_type;
    value.elements = std::move(elements);
    return value;
  }
};

// Conversions that accept every compatible stored type (any integer type for AsInt when the
// value fits, float32 or float64 for AsDouble). InvalidArgument names the actual type.
absl::StatusOr<int64_t> GgufAsInt(const GgufValue& value);
absl::StatusOr<double> GgufAsDouble(const GgufValue& value);
absl::StatusOr<bool> GgufAsBool(const GgufValue& value);
absl::StatusOr<std::string> GgufAsString(const GgufValue& value);

// ggml's tensor type ids: the four this engine computes with, plus the names of the others for
// error messages.
inline constexpr uint32_t kGgmlTypeF32 = 0;
inline constexpr uint32_t kGgmlTypeF16 = 1;
inline constexpr uint32_t kGgmlTypeQ8_0 = 8;
inline constexpr uint32_t kGgmlTypeBF16 = 30;
uint32_t GgmlTypeOf(DType dtype);
std::optional<DType> DTypeOfGgmlType(uint32_t ggml_type);
std::string GgmlTypeName(uint32_t ggml_type);  // "Q4_K", or "type 77" when unknown

struct GgufTensorInfo {
  std::string name;
  uint32_t ggml_type = 0;
  std::optional<DType> dtype;      // nullopt: a type this engine does not support
  std::vector<int64_t> ggml_dims;  // as stored: ne[0] innermost
  std::vector<int64_t> shape;      // reversed: outermost first
  uint64_t offset = 0;             // relative to the data section
  // Located only when dtype is supported (the size of other types is not computed here).
  const std::byte* data = nullptr;
  int64_t size_bytes = 0;
};

class GgufFile {
 public:
  // Maps and parses the file.
  static absl::StatusOr<std::unique_ptr<GgufFile>> Open(const std::string& path);
  // Parses bytes that the caller keeps alive as long as the result; `name` prefixes messages.
  static absl::StatusOr<std::unique_ptr<GgufFile>> Parse(std::span<const std::byte> bytes,
                                                         std::string name);

  const std::string& name() const { return name_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // start of the data section

  // Metadata in file order.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
  const GgufValue* Find(absl::string_view key) const;
  // NotFound naming file and key when absent; InvalidArgument when of an incompatible type.
  absl::StatusOr<int64_t> GetInt(absl::string_view key) const;
  absl::StatusOr<double> GetDouble(absl::string_view key) const;
  absl::StatusOr<std::string> GetString(absl::string_view key) const;
  absl::StatusOr<bool> GetBool(absl::string_view key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* FindTensor(absl::string_view name) const;

  // The file's mapping; null when parsed from caller-owned bytes.
  const MappedFile* mapping() const { return mapping_.get(); }

 private:
  GgufFile() = default;

  std::unique_ptr<MappedFile> mapping_;  // null when parsed from caller-owned bytes
  std::string name_;
  uint32_t version_ = 0;
  uint32_t alignment_ = kGgufDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::map<std::string, size_t, std::less<>> metadata_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace r1serve::engine
