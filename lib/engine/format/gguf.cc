#include "lib/engine/format/gguf.h"

#include <cstring>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"

namespace r1serve::engine {
namespace {

// Far above any real tensor (2^62 elements), far below int64 overflow in size arithmetic.
constexpr uint64_t kMaxElements = uint64_t{1} << 62;
constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS

// Bounds-checked little-endian reads over the file bytes.
class Cursor {
 public:
  Cursor(std::span<const std::byte> bytes, const std::string& name) : bytes_(bytes), name_(name) {}

  size_t position() const { return position_; }
  size_t remaining() const { return bytes_.size() - position_; }

  absl::Status Need(uint64_t count, absl::string_view what) const {
    if (count > remaining()) {
      return absl::InvalidArgumentError(absl::StrCat(
          name_, ": truncated or corrupt GGUF: ", what, " at byte ", position_, " needs ", count,
          " bytes but only ", remaining(), " remain (file size ", bytes_.size(), ")"));
    }
    return absl::OkStatus();
  }

  template <typename T>
  absl::StatusOr<T> Read(absl::string_view what) {
    RETURN_IF_ERROR(Need(sizeof(T), what));
    T value;
    std::memcpy(&value, bytes_.data() + position_, sizeof(T));
    position_ += sizeof(T);
    return value;
  }

  absl::StatusOr<std::string> ReadString(absl::string_view what) {
    ASSIGN_OR_RETURN(const uint64_t length, Read<uint64_t>(what));
    RETURN_IF_ERROR(Need(length, what));
    std::string text(reinterpret_cast<const char*>(bytes_.data() + position_),
                     static_cast<size_t>(length));
    position_ += static_cast<size_t>(length);
    return text;
  }

  absl::Status Error(absl::string_view message) const {
    return absl::InvalidArgumentError(
        absl::StrCat(name_, ": corrupt GGUF at byte ", position_, ": ", message));
  }

 private:
  std::span<const std::byte> bytes_;
  const std::string& name_;
  size_t position_ = 0;
};

bool IsKnownType(uint32_t type) { return type <= static_cast<uint32_t>(GgufType::kFloat64); }

// Smallest encoding of one value of `type`, to bound counts before allocating.
uint64_t MinEncodedSize(GgufType type) {
  switch (type) {
    case GgufType::kUint8:
    case GgufType::kInt8:
    case GgufType::kBool:
      return 1;
    case GgufType::kUint16:
    case GgufType::kInt16:
      return 2;
    case GgufType::kUint32:
    case GgufType::kInt32:
    case GgufType::kFloat32:
      return 4;
    case GgufType::kString:
    case GgufType::kUint64:
    case GgufType::kInt64:
    case GgufType::kFloat64:
      return 8;
    case GgufType::kArray:
      return 12;
  }
  return 1;
}

absl::StatusOr<GgufScalar> ReadScalar(Cursor& cursor, GgufType type, absl::string_view what) {
  switch (type) {
    case GgufType::kUint8: {
      ASSIGN_OR_RETURN(uint8_t v, cursor.Read<uint8_t>(what));
      return GgufScalar(uint64_t{v});
    }
    case GgufType::kInt8: {
      ASSIGN_OR_RETURN(int8_t v, cursor.Read<int8_t>(what));
      return GgufScalar(int64_t{v});
    }
    case GgufType::kUint16: {
      ASSIGN_OR_RETURN(uint16_t v, cursor.Read<uint16_t>(what));
      return GgufScalar(uint64_t{v});
    }
    case GgufType::kInt16: {
      ASSIGN_OR_RETURN(int16_t v, cursor.Read<int16_t>(what));
      return GgufScalar(int64_t{v});
    }
    case GgufType::kUint32: {
      ASSIGN_OR_RETURN(uint32_t v, cursor.Read<uint32_t>(what));
      return GgufScalar(uint64_t{v});
    }
    case GgufType::kInt32: {
      ASSIGN_OR_RETURN(int32_t v, cursor.Read<int32_t>(what));
      return GgufScalar(int64_t{v});
    }
    case GgufType::kUint64: {
      ASSIGN_OR_RETURN(uint64_t v, cursor.Read<uint64_t>(what));
      return GgufScalar(v);
    }
    case GgufType::kInt64: {
      ASSIGN_OR_RETURN(int64_t v, cursor.Read<int64_t>(what));
      return GgufScalar(v);
    }
    case GgufType::kFloat32: {
      ASSIGN_OR_RETURN(float v, cursor.Read<float>(what));
      return GgufScalar(double{v});
    }
    case GgufType::kFloat64: {
      ASSIGN_OR_RETURN(double v, cursor.Read<double>(what));
      return GgufScalar(v);
    }
    case GgufType::kBool: {
      ASSIGN_OR_RETURN(uint8_t v, cursor.Read<uint8_t>(what));
      if (v > 1) return cursor.Error(absl::StrCat(what, ": bool value ", v, " is not 0 or 1"));
      return GgufScalar(v == 1);
    }
    case GgufType::kString: {
      ASSIGN_OR_RETURN(std::string v, cursor.ReadString(what));
      return GgufScalar(std::move(v));
    }
    case GgufType::kArray:
      break;
  }
  return cursor.Error(absl::StrCat(what, ": arrays of arrays are not supported"));
}

absl::StatusOr<GgufValue> ReadValue(Cursor& cursor, const std::string& key) {
  const std::string what = absl::StrCat("metadata \"", key, "\"");
  ASSIGN_OR_RETURN(const uint32_t raw_type, cursor.Read<uint32_t>(what));
  if (!IsKnownType(raw_type)) {
    return cursor.Error(absl::StrCat(what, " has unknown value type ", raw_type));
  }
  GgufValue value;
  value.type = static_cast<GgufType>(raw_type);
  if (value.type != GgufType::kArray) {
    ASSIGN_OR_RETURN(value.scalar, ReadScalar(cursor, value.type, what));
    return value;
  }
  ASSIGN_OR_RETURN(const uint32_t raw_element_type, cursor.Read<uint32_t>(what));
  if (!IsKnownType(raw_element_type)) {
    return cursor.Error(absl::StrCat(what, " is an array of unknown type ", raw_element_type));
  }
  value.element_type = static_cast<GgufType>(raw_element_type);
  if (value.element_type == GgufType::kArray) {
    return cursor.Error(absl::StrCat(what, ": arrays of arrays are not supported"));
  }
  ASSIGN_OR_RETURN(const uint64_t count, cursor.Read<uint64_t>(what));
  // A corrupt count must not turn into a huge reservation: each element takes bytes.
  RETURN_IF_ERROR(
      cursor.Need(count > cursor.remaining() ? count : count * MinEncodedSize(value.element_type),
                  absl::StrCat(what, " (array of ", count, " elements)")));
  value.elements.reserve(static_cast<size_t>(count));
  for (uint64_t i = 0; i < count; ++i) {
    ASSIGN_OR_RETURN(GgufScalar element, ReadScalar(cursor, value.element_type, what));
    value.elements.push_back(std::move(element));
  }
  return value;
}

struct GgmlTypeRow {
  uint32_t id;
  absl::string_view name;
};

// ggml's type ids (ggml.h), for naming the ones this engine does not compute with.
constexpr GgmlTypeRow kGgmlTypes[] = {
    {0, "F32"},     {1, "F16"},    {2, "Q4_0"},     {3, "Q4_1"},    {6, "Q5_0"},     {7, "Q5_1"},
    {8, "Q8_0"},    {9, "Q8_1"},   {10, "Q2_K"},    {11, "Q3_K"},   {12, "Q4_K"},    {13, "Q5_K"},
    {14, "Q6_K"},   {15, "Q8_K"},  {16, "IQ2_XXS"}, {17, "IQ2_XS"}, {18, "IQ3_XXS"}, {19, "IQ1_S"},
    {20, "IQ4_NL"}, {21, "IQ3_S"}, {22, "IQ2_S"},   {23, "IQ4_XS"}, {24, "I8"},      {25, "I16"},
    {26, "I32"},    {27, "I64"},   {28, "F64"},     {29, "IQ1_M"},  {30, "BF16"},    {34, "TQ1_0"},
    {35, "TQ2_0"},  {39, "MXFP4"},
};

absl::string_view ValueTypeText(const GgufValue& value) { return GgufTypeName(value.type); }

absl::Status WrongType(const GgufValue& value, absl::string_view wanted) {
  return absl::InvalidArgumentError(
      absl::StrCat("has type ", ValueTypeText(value), ", expected ", wanted));
}

}  // namespace

absl::string_view GgufTypeName(GgufType type) {
  switch (type) {
    case GgufType::kUint8:
      return "uint8";
    case GgufType::kInt8:
      return "int8";
    case GgufType::kUint16:
      return "uint16";
    case GgufType::kInt16:
      return "int16";
    case GgufType::kUint32:
      return "uint32";
    case GgufType::kInt32:
      return "int32";
    case GgufType::kFloat32:
      return "float32";
    case GgufType::kBool:
      return "bool";
    case GgufType::kString:
      return "string";
    case GgufType::kArray:
      return "array";
    case GgufType::kUint64:
      return "uint64";
    case GgufType::kInt64:
      return "int64";
    case GgufType::kFloat64:
      return "float64";
  }
  return "?";
}

absl::StatusOr<int64_t> GgufAsInt(const GgufValue& value) {
  if (value.type != GgufType::kArray) {
    if (const auto* u = std::get_if<uint64_t>(&value.scalar)) {
      if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return absl::InvalidArgumentError(absl::StrCat("value ", *u, " does not fit int64"));
      }
      return static_cast<int64_t>(*u);
    }
    if (const auto* i = std::get_if<int64_t>(&value.scalar)) return *i;
  }
  return WrongType(value, "an integer");
}

absl::StatusOr<double> GgufAsDouble(const GgufValue& value) {
  if (value.type == GgufType::kFloat32 || value.type == GgufType::kFloat64) {
    return std::get<double>(value.scalar);
  }
  return WrongType(value, "float32 or float64");
}

absl::StatusOr<bool> GgufAsBool(const GgufValue& value) {
  if (value.type == GgufType::kBool) return std::get<bool>(value.scalar);
  return WrongType(value, "bool");
}

absl::StatusOr<std::string> GgufAsString(const GgufValue& value) {
  if (value.type == GgufType::kString) return std::get<std::string>(value.scalar);
  return WrongType(value, "string");
}

uint32_t GgmlTypeOf(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return kGgmlTypeF32;
    case DType::kF16:
      return kGgmlTypeF16;
    case DType::kBF16:
      return kGgmlTypeBF16;
    case DType::kQ8_0:
      return kGgmlTypeQ8_0;
  }
  return kGgmlTypeF32;
}

std::optional<DType> DTypeOfGgmlType(uint32_t ggml_type) {
  switch (ggml_type) {
    case kGgmlTypeF32:
      return DType::kF32;
    case kGgmlTypeF16:
      return DType::kF16;
    case kGgmlTypeBF16:
      return DType::kBF16;
    case kGgmlTypeQ8_0:
      return DType::kQ8_0;
    default:
      return std::nullopt;
  }
}

std::string GgmlTypeName(uint32_t ggml_type) {
  for (const GgmlTypeRow& row : kGgmlTypes) {
    if (row.id == ggml_type) return std::string(row.name);
  }
  return absl::StrCat("type ", ggml_type);
}

absl::StatusOr<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> mapping, MappedFile::Open(path));
  ASSIGN_OR_RETURN(std::unique_ptr<GgufFile> file, Parse(mapping->bytes(), path));
  file->mapping_ = std::move(mapping);
  return file;
}

absl::StatusOr<std::unique_ptr<GgufFile>> GgufFile::Parse(std::span<const std::byte> bytes,
                                                          std::string name) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->name_ = std::move(name);
  Cursor cursor(bytes, file->name_);

  RETURN_IF_ERROR(cursor.Need(4, "the magic"));
  if (std::memcmp(bytes.data(), "GGUF", 4) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(file->name_, ": not a GGUF file (the first 4 bytes are not \"GGUF\")"));
  }
  (void)cursor.Read<uint32_t>("the magic");
  ASSIGN_OR_RETURN(file->version_, cursor.Read<uint32_t>("the version"));
  if (file->version_ != 2 && file->version_ != 3) {
    return absl::InvalidArgumentError(absl::StrCat(file->name_, ": GGUF version ", file->version_,
                                                   " is not supported (supported: 2, 3)"));
  }
  ASSIGN_OR_RETURN(const uint64_t tensor_count, cursor.Read<uint64_t>("the tensor count"));
  ASSIGN_OR_RETURN(const uint64_t kv_count, cursor.Read<uint64_t>("the metadata count"));
  // Each entry takes bytes, so counts beyond the file size are corruption, caught before any
  // reservation.
  RETURN_IF_ERROR(cursor.Need(kv_count > cursor.remaining() ? kv_count : kv_count * 13,
                              absl::StrCat(kv_count, " metadata entries")));

  for (uint64_t i = 0; i < kv_count; ++i) {
    ASSIGN_OR_RETURN(std::string key, cursor.ReadString(absl::StrCat("metadata key #", i)));
    ASSIGN_OR_RETURN(GgufValue value, ReadValue(cursor, key));
    if (file->metadata_index_.count(key) != 0) {
      return cursor.Error(absl::StrCat("metadata key \"", key, "\" appears twice"));
    }
    file->metadata_index_.emplace(key, file->metadata_.size());
    file->metadata_.emplace_back(std::move(key), std::move(value));
  }

  if (const GgufValue* alignment = file->Find("general.alignment")) {
    if (alignment->type != GgufType::kUint32) {
      return absl::InvalidArgumentError(absl::StrCat(file->name_, ": general.alignment has type ",
                                                     ValueTypeText(*alignment),
                                                     ", expected uint32"));
    }
    const uint64_t a = std::get<uint64_t>(alignment->scalar);
    if (a == 0 || (a & (a - 1)) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(file->name_, ": general.alignment ", a, " is not a power of two"));
    }
    file->alignment_ = static_cast<uint32_t>(a);
  }

  RETURN_IF_ERROR(cursor.Need(tensor_count > cursor.remaining() ? tensor_count : tensor_count * 32,
                              absl::StrCat(tensor_count, " tensor infos")));
  file->tensors_.reserve(static_cast<size_t>(tensor_count));
  for (uint64_t i = 0; i < tensor_count; ++i) {
    GgufTensorInfo info;
    ASSIGN_OR_RETURN(info.name, cursor.ReadString(absl::StrCat("tensor name #", i)));
    const std::string what = absl::StrCat("tensor \"", info.name, "\"");
    ASSIGN_OR_RETURN(const uint32_t n_dims, cursor.Read<uint32_t>(what));
    if (n_dims == 0 || n_dims > kMaxDims) {
      return cursor.Error(absl::StrCat(what, " has ", n_dims, " dimensions (1 to 4 allowed)"));
    }
    uint64_t elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      ASSIGN_OR_RETURN(const uint64_t ne, cursor.Read<uint64_t>(what));
      if (ne > kMaxElements || (ne != 0 && elements > kMaxElements / ne)) {
        return cursor.Error(absl::StrCat(what, " has an impossible dimension ", ne));
      }
      elements *= ne;
      info.ggml_dims.push_back(static_cast<int64_t>(ne));
    }
    info.shape.assign(info.ggml_dims.rbegin(), info.ggml_dims.rend());
    ASSIGN_OR_RETURN(info.ggml_type, cursor.Read<uint32_t>(what));
    ASSIGN_OR_RETURN(info.offset, cursor.Read<uint64_t>(what));
    if (info.offset % file->alignment_ != 0) {
      return cursor.Error(absl::StrCat(what, " has offset ", info.offset,
                                       ", not a multiple of the alignment ", file->alignment_));
    }
    info.dtype = DTypeOfGgmlType(info.ggml_type);
    if (info.dtype) {
      const int64_t block = BlockValues(*info.dtype);
      if (info.ggml_dims[0] % block != 0) {
        return cursor.Error(absl::StrCat(what, " of type ", GgmlTypeName(info.ggml_type),
                                         " has a row of ", info.ggml_dims[0],
                                         " values, not a multiple of its block size ", block));
      }
      info.size_bytes = static_cast<int64_t>(elements / block) * BlockBytes(*info.dtype);
    }
    if (file->tensor_index_.count(info.name) != 0) {
      return cursor.Error(absl::StrCat(what, " appears twice"));
    }
    file->tensor_index_.emplace(info.name, file->tensors_.size());
    file->tensors_.push_back(std::move(info));
  }

  const uint64_t a = file->alignment_;
  file->data_offset_ = (cursor.position() + a - 1) / a * a;
  const uint64_t file_size = bytes.size();
  for (GgufTensorInfo& info : file->tensors_) {
    if (!info.dtype) continue;
    const uint64_t begin = file->data_offset_ + info.offset;
    const uint64_t size = static_cast<uint64_t>(info.size_bytes);
    if (info.offset > file_size || begin > file_size || size > file_size - begin) {
      return absl::InvalidArgumentError(absl::StrCat(
          file->name_, ": truncated or corrupt GGUF: tensor \"", info.name, "\" occupies bytes [",
          begin, ", ", begin + size, ") but the file has ", file_size, " bytes"));
    }
    info.data = bytes.data() + begin;
  }
  return file;
}

const GgufValue* GgufFile::Find(absl::string_view key) const {
  auto it = metadata_index_.find(key);
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].second;
}

namespace {

template <typename T>
absl::StatusOr<T> Get(const GgufFile& file, absl::string_view key,
                      absl::StatusOr<T> (*convert)(const GgufValue&)) {
  const GgufValue* value = file.Find(key);
  if (value == nullptr) {
    return absl::NotFoundError(
        absl::StrCat(file.name(), ": GGUF metadata key \"", key, "\" is missing"));
  }
  absl::StatusOr<T> result = convert(*value);
  if (!result.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(file.name(), ": GGUF metadata key \"", key, "\" ", result.status().message()));
  }
  return result;
}

}  // namespace

absl::StatusOr<int64_t> GgufFile::GetInt(absl::string_view key) const {
  return Get<int64_t>(*this, key, &GgufAsInt);
}
absl::StatusOr<double> GgufFile::GetDouble(absl::string_view key) const {
  return Get<double>(*this, key, &GgufAsDouble);
}
absl::StatusOr<std::string> GgufFile::GetString(absl::string_view key) const {
  return Get<std::string>(*this, key, &GgufAsString);
}
absl::StatusOr<bool> GgufFile::GetBool(absl::string_view key) const {
  return Get<bool>(*this, key, &GgufAsBool);
}

const GgufTensorInfo* GgufFile::FindTensor(absl::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace r1serve::engine
