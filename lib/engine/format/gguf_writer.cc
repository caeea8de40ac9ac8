#include "lib/engine/format/gguf_writer.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <variant>

#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"

namespace r1serve::engine {
namespace {

constexpr size_t kBufferBytes = size_t{8} << 20;

// Appends the little-endian encoding of values to a byte string.
class Encoder {
 public:
  template <typename T>
  void Put(T value) {
    const char* p = reinterpret_cast<const char*>(&value);
    bytes_.append(p, sizeof(T));
  }
  void PutString(const std::string& text) {
    Put<uint64_t>(text.size());
    bytes_.append(text);
  }
  void PutScalar(GgufType type, const GgufScalar& scalar) {
    const auto as_u = [&] {
      return std::holds_alternative<uint64_t>(scalar)
                 ? std::get<uint64_t>(scalar)
                 : static_cast<uint64_t>(std::get<int64_t>(scalar));
    };
    const auto as_i = [&] {
      return std::holds_alternative<int64_t>(scalar)
                 ? std::get<int64_t>(scalar)
                 : static_cast<int64_t>(std::get<uint64_t>(scalar));
    };
    switch (type) {
      case GgufType::kUint8:
        Put<uint8_t>(static_cast<uint8_t>(as_u()));
        return;
      case GgufType::kInt8:
        Put<int8_t>(static_cast<int8_t>(as_i()));
        return;
      case GgufType::kUint16:
        Put<uint16_t>(static_cast<uint16_t>(as_u()));
        return;
      case GgufType::kInt16:
        Put<int16_t>(static_cast<int16_t>(as_i()));
        return;
      case GgufType::kUint32:
        Put<uint32_t>(static_cast<uint32_t>(as_u()));
        return;
      case GgufType::kInt32:
        Put<int32_t>(static_cast<int32_t>(as_i()));
        return;
      case GgufType::kUint64:
        Put<uint64_t>(as_u());
        return;
      case GgufType::kInt64:
        Put<int64_t>(as_i());
        return;
      case GgufType::kFloat32:
        Put<float>(static_cast<float>(std::get<double>(scalar)));
        return;
      case GgufType::kFloat64:
        Put<double>(std::get<double>(scalar));
        return;
      case GgufType::kBool:
        Put<uint8_t>(std::get<bool>(scalar) ? 1 : 0);
        return;
      case GgufType::kString:
        PutString(std::get<std::string>(scalar));
        return;
      case GgufType::kArray:
        return;  // AddMetadata never stores nested arrays
    }
  }
  void PutValue(const GgufValue& value) {
    Put<uint32_t>(static_cast<uint32_t>(value.type));
    if (value.type != GgufType::kArray) {
      PutScalar(value.type, value.scalar);
      return;
    }
    Put<uint32_t>(static_cast<uint32_t>(value.element_type));
    Put<uint64_t>(value.elements.size());
    for (const GgufScalar& element : value.elements) PutScalar(value.element_type, element);
  }
  std::string& bytes() { return bytes_; }

 private:
  std::string bytes_;
};

uint64_t AlignUp(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

}  // namespace

GgufWriter::GgufWriter(uint32_t alignment) : alignment_(alignment) {
  if (alignment_ != kGgufDefaultAlignment) {
    AddMetadata("general.alignment", GgufValue::Uint32(alignment_));
  }
}

GgufWriter::~GgufWriter() {
  if (out_ != nullptr) std::fclose(out_);
}

void GgufWriter::AddMetadata(std::string key, GgufValue value) {
  for (auto& [existing, existing_value] : metadata_) {
    if (existing == key) {
      existing_value = std::move(value);
      return;
    }
  }
  metadata_.emplace_back(std::move(key), std::move(value));
}

absl::Status GgufWriter::AddTensor(std::string name, DType dtype, std::vector<int64_t> shape) {
  for (const Tensor& t : tensors_) {
    if (t.name == name)
      return absl::InvalidArgumentError(absl::StrCat("GGUF tensor ", name, " added twice"));
  }
  if (shape.empty() || shape.size() > 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("GGUF tensor ", name, ": ", shape.size(), " dimensions"));
  }
  int64_t elements = 1;
  for (int64_t d : shape) {
    if (d <= 0)
      return absl::InvalidArgumentError(absl::StrCat("GGUF tensor ", name, ": dimension ", d));
    elements *= d;
  }
  if (shape.back() % BlockValues(dtype) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("GGUF tensor ", name, ": row of ", shape.back(),
                                                   " values is not a multiple of the ",
                                                   DTypeName(dtype), " block"));
  }
  const int64_t size = elements / BlockValues(dtype) * BlockBytes(dtype);
  const uint64_t offset =
      tensors_.empty() ? 0
                       : AlignUp(tensors_.back().offset + tensors_.back().size_bytes, alignment_);
  tensors_.push_back({std::move(name), dtype, std::move(shape), size, offset});
  return absl::OkStatus();
}

int64_t GgufWriter::total_data_bytes() const {
  int64_t total = 0;
  for (const Tensor& t : tensors_) total += t.size_bytes;
  return total;
}

absl::Status GgufWriter::WriteRaw(const void* data, size_t size) {
  if (size != 0 && std::fwrite(data, 1, size, out_) != size) {
    return absl::InternalError(absl::StrCat(path_, ": write failed: ", std::strerror(errno)));
  }
  file_position_ += size;
  return absl::OkStatus();
}

absl::Status GgufWriter::PadTo(uint64_t alignment) {
  static constexpr char kZeros[256] = {};
  uint64_t padding = AlignUp(file_position_, alignment) - file_position_;
  while (padding > 0) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(padding, sizeof(kZeros)));
    RETURN_IF_ERROR(WriteRaw(kZeros, n));
    padding -= n;
  }
  return absl::OkStatus();
}

absl::Status GgufWriter::Open(const std::string& path) {
  path_ = path;
  out_ = std::fopen(path.c_str(), "wb");
  if (out_ == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": cannot create: ", std::strerror(errno)));
  }
  buffer_.resize(kBufferBytes);
  std::setvbuf(out_, buffer_.data(), _IOFBF, buffer_.size());

  Encoder header;
  header.bytes().append("GGUF");
  header.Put<uint32_t>(3);
  header.Put<uint64_t>(tensors_.size());
  header.Put<uint64_t>(metadata_.size());
  for (const auto& [key, value] : metadata_) {
    header.PutString(key);
    header.PutValue(value);
  }
  for (const Tensor& t : tensors_) {
    header.PutString(t.name);
    header.Put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) header.Put<uint64_t>(*it);
    header.Put<uint32_t>(GgmlTypeOf(t.dtype));
    header.Put<uint64_t>(t.offset);
  }
  RETURN_IF_ERROR(WriteRaw(header.bytes().data(), header.bytes().size()));
  RETURN_IF_ERROR(PadTo(alignment_));
  data_start_ = file_position_;
  current_tensor_ = 0;
  current_written_ = 0;
  return AdvancePastFilledTensors();
}

absl::Status GgufWriter::AdvancePastFilledTensors() {
  while (current_tensor_ < tensors_.size() &&
         current_written_ == tensors_[current_tensor_].size_bytes) {
    ++current_tensor_;
    current_written_ = 0;
    if (current_tensor_ < tensors_.size()) {
      RETURN_IF_ERROR(PadTo(alignment_));
      if (file_position_ != data_start_ + tensors_[current_tensor_].offset) {
        return absl::InternalError(
            absl::StrCat(path_, ": tensor layout mismatch at ", tensors_[current_tensor_].name));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status GgufWriter::Write(std::span<const std::byte> bytes) {
  if (out_ == nullptr) return absl::FailedPreconditionError("GgufWriter::Write before Open");
  while (!bytes.empty()) {
    if (current_tensor_ >= tensors_.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path_, ": more tensor data written than the tensors declared"));
    }
    const Tensor& t = tensors_[current_tensor_];
    const size_t n = static_cast<size_t>(
        std::min<int64_t>(t.size_bytes - current_written_, static_cast<int64_t>(bytes.size())));
    RETURN_IF_ERROR(WriteRaw(bytes.data(), n));
    current_written_ += static_cast<int64_t>(n);
    bytes = bytes.subspan(n);
    RETURN_IF_ERROR(AdvancePastFilledTensors());
  }
  return absl::OkStatus();
}

absl::Status GgufWriter::Close() {
  if (out_ == nullptr) return absl::FailedPreconditionError("GgufWriter::Close before Open");
  absl::Status status = absl::OkStatus();
  if (current_tensor_ < tensors_.size()) {
    status = absl::FailedPreconditionError(
        absl::StrCat(path_, ": closed before the data of tensor ", tensors_[current_tensor_].name,
                     " was complete"));
  } else {
    status = PadTo(alignment_);  // llama.cpp's own writer pads the last tensor too
  }
  if (std::fclose(out_) != 0 && status.ok()) {
    status = absl::InternalError(absl::StrCat(path_, ": close failed: ", std::strerror(errno)));
  }
  out_ = nullptr;
  return status;
}

}  // namespace r1serve::engine
