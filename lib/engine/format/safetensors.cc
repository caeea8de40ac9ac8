#include "lib/engine/format/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"
#include "nlohmann/json.hpp"

namespace r1serve::engine {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

// The reference implementation refuses headers above 100 MB; so do we, before parsing.
constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;
constexpr int64_t kMaxElements = int64_t{1} << 62;

struct DTypeRow {
  absl::string_view name;
  int64_t bytes;
  std::optional<DType> dtype;
};

// Every dtype the safetensors spec names, so that unsupported ones are still size-checked.
constexpr DTypeRow kDTypes[] = {
    {"F32", 4, DType::kF32},   {"F16", 2, DType::kF16},      {"BF16", 2, DType::kBF16},
    {"F64", 8, std::nullopt},  {"I64", 8, std::nullopt},     {"U64", 8, std::nullopt},
    {"I32", 4, std::nullopt},  {"U32", 4, std::nullopt},     {"I16", 2, std::nullopt},
    {"U16", 2, std::nullopt},  {"I8", 1, std::nullopt},      {"U8", 1, std::nullopt},
    {"BOOL", 1, std::nullopt}, {"F8_E4M3", 1, std::nullopt}, {"F8_E5M2", 1, std::nullopt},
};

const DTypeRow* FindDType(absl::string_view name) {
  for (const DTypeRow& row : kDTypes) {
    if (row.name == name) return &row;
  }
  return nullptr;
}

absl::Status Corrupt(const std::string& name, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(name, ": invalid safetensors file: ", message));
}

}  // namespace

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> mapping, MappedFile::Open(path));
  ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> file, Parse(mapping->bytes(), path));
  file->mapping_ = std::move(mapping);
  return file;
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Parse(
    std::span<const std::byte> bytes, std::string name) {
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->name_ = std::move(name);
  const std::string& n = file->name_;
  if (bytes.size() < 8) {
    return Corrupt(n,
                   absl::StrCat("truncated: ", bytes.size(), " bytes, the header length needs 8"));
  }
  uint64_t header_bytes;
  std::memcpy(&header_bytes, bytes.data(), 8);
  if (header_bytes > kMaxHeaderBytes) {
    return Corrupt(n, absl::StrCat("header length ", header_bytes, " exceeds 100 MB"));
  }
  if (header_bytes > bytes.size() - 8) {
    return Corrupt(n, absl::StrCat("truncated: header of ", header_bytes,
                                   " bytes but the file has ", bytes.size(), " bytes"));
  }
  const char* header_begin = reinterpret_cast<const char*>(bytes.data() + 8);
  const Json header = Json::parse(header_begin, header_begin + header_bytes, nullptr,
                                  /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) {
    return Corrupt(n, "the header is not a JSON object");
  }
  const uint64_t data_start = 8 + header_bytes;
  const uint64_t data_size = bytes.size() - data_start;

  struct Range {
    uint64_t begin, end;
    size_t index;
  };
  std::vector<Range> ranges;
  for (const auto& [key, entry] : header.items()) {
    if (key == "__metadata__") {
      if (!entry.is_object()) return Corrupt(n, "__metadata__ is not an object");
      for (const auto& [mkey, mvalue] : entry.items()) {
        if (!mvalue.is_string())
          return Corrupt(n, absl::StrCat("__metadata__.", mkey, " is not a string"));
        file->metadata_[mkey] = mvalue.get<std::string>();
      }
      continue;
    }
    const std::string what = absl::StrCat("tensor \"", key, "\"");
    if (!entry.is_object() || !entry.contains("dtype") || !entry["dtype"].is_string() ||
        !entry.contains("shape") || !entry["shape"].is_array() || !entry.contains("data_offsets") ||
        !entry["data_offsets"].is_array() || entry["data_offsets"].size() != 2) {
      return Corrupt(
          n, absl::StrCat(what, " lacks a string dtype, a shape array or two data_offsets"));
    }
    SafetensorsTensor tensor;
    tensor.name = key;
    tensor.dtype_name = entry["dtype"].get<std::string>();
    const DTypeRow* row = FindDType(tensor.dtype_name);
    if (row == nullptr) {
      return Corrupt(n, absl::StrCat(what, " has unknown dtype \"", tensor.dtype_name, "\""));
    }
    tensor.dtype = row->dtype;
    int64_t elements = 1;
    for (const Json& dim : entry["shape"]) {
      if (!dim.is_number_unsigned() || dim.get<uint64_t>() > static_cast<uint64_t>(kMaxElements)) {
        return Corrupt(n, absl::StrCat(what, " has an invalid dimension ", dim.dump()));
      }
      const int64_t d = static_cast<int64_t>(dim.get<uint64_t>());
      if (d != 0 && elements > kMaxElements / d) {
        return Corrupt(n, absl::StrCat(what, " has too many elements"));
      }
      elements *= d;
      tensor.shape.push_back(d);
    }
    const Json& offsets = entry["data_offsets"];
    if (!offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned()) {
      return Corrupt(n, absl::StrCat(what, " has non-integer data_offsets"));
    }
    const uint64_t begin = offsets[0].get<uint64_t>();
    const uint64_t end = offsets[1].get<uint64_t>();
    if (begin > end || end > data_size) {
      return Corrupt(
          n, absl::StrCat("truncated or corrupt: ", what, " occupies data bytes [", begin, ", ",
                          end, ") but the data section has ", data_size, " bytes"));
    }
    if (end - begin != static_cast<uint64_t>(elements) * static_cast<uint64_t>(row->bytes)) {
      return Corrupt(n, absl::StrCat(what, " of dtype ", tensor.dtype_name, " and ", elements,
                                     " elements needs ", elements * row->bytes,
                                     " bytes, but its data_offsets span ", end - begin));
    }
    tensor.data = bytes.data() + data_start + begin;
    tensor.size_bytes = static_cast<int64_t>(end - begin);
    ranges.push_back({begin, end, file->tensors_.size()});
    file->index_.emplace(key, file->tensors_.size());
    file->tensors_.push_back(std::move(tensor));
  }
  // Two tensors sharing bytes would silently alias weights: the spec forbids it.
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].begin < ranges[i - 1].end) {
      return Corrupt(
          n, absl::StrCat("tensors \"", file->tensors_[ranges[i - 1].index].name, "\" and \"",
                          file->tensors_[ranges[i].index].name, "\" overlap"));
    }
  }
  return file;
}

const SafetensorsTensor* SafetensorsFile::Find(absl::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

SafetensorsWriter::~SafetensorsWriter() {
  if (out_ != nullptr) std::fclose(out_);
}

void SafetensorsWriter::AddMetadata(std::string key, std::string value) {
  metadata_.emplace_back(std::move(key), std::move(value));
}

absl::Status SafetensorsWriter::AddTensor(std::string name, DType dtype,
                                          std::vector<int64_t> shape) {
  if (dtype == DType::kQ8_0) {
    return absl::InvalidArgumentError(
        absl::StrCat("safetensors tensor ", name, ": Q8_0 is not a safetensors dtype"));
  }
  for (const Tensor& t : tensors_) {
    if (t.name == name)
      return absl::InvalidArgumentError(absl::StrCat("safetensors tensor ", name, " added twice"));
  }
  int64_t elements = 1;
  for (int64_t d : shape) elements *= d;
  const int64_t size = elements * BlockBytes(dtype);
  tensors_.push_back({std::move(name), dtype, std::move(shape), total_bytes_, total_bytes_ + size});
  total_bytes_ += size;
  return absl::OkStatus();
}

absl::Status SafetensorsWriter::Open(const std::string& path) {
  path_ = path;
  OrderedJson header = OrderedJson::object();
  if (!metadata_.empty()) {
    OrderedJson meta = OrderedJson::object();
    for (const auto& [key, value] : metadata_) meta[key] = value;
    header["__metadata__"] = std::move(meta);
  }
  for (const Tensor& t : tensors_) {
    header[t.name] = {{"dtype", std::string(DTypeName(t.dtype))},
                      {"shape", t.shape},
                      {"data_offsets", {t.begin, t.end}}};
  }
  std::string text = header.dump();
  // Pad with spaces to a multiple of 8 so that the data starts 8-byte aligned, as the
  // reference writer does.
  text.append((8 - (8 + text.size()) % 8) % 8, ' ');
  out_ = std::fopen(path.c_str(), "wb");
  if (out_ == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": cannot create: ", std::strerror(errno)));
  }
  buffer_.resize(size_t{8} << 20);
  std::setvbuf(out_, buffer_.data(), _IOFBF, buffer_.size());
  const uint64_t header_size = text.size();
  if (std::fwrite(&header_size, 8, 1, out_) != 1 ||
      std::fwrite(text.data(), 1, text.size(), out_) != text.size()) {
    return absl::InternalError(absl::StrCat(path, ": write failed: ", std::strerror(errno)));
  }
  written_ = 0;
  return absl::OkStatus();
}

absl::Status SafetensorsWriter::Write(std::span<const std::byte> bytes) {
  if (out_ == nullptr) return absl::FailedPreconditionError("SafetensorsWriter::Write before Open");
  if (written_ + static_cast<int64_t>(bytes.size()) > total_bytes_) {
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ": more tensor data written than the tensors declared"));
  }
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), out_) != bytes.size()) {
    return absl::InternalError(absl::StrCat(path_, ": write failed: ", std::strerror(errno)));
  }
  written_ += static_cast<int64_t>(bytes.size());
  return absl::OkStatus();
}

absl::Status SafetensorsWriter::Close() {
  if (out_ == nullptr) return absl::FailedPreconditionError("SafetensorsWriter::Close before Open");
  absl::Status status = absl::OkStatus();
  if (written_ != total_bytes_) {
    status = absl::FailedPreconditionError(absl::StrCat(path_, ": closed after ", written_, " of ",
                                                        total_bytes_, " bytes of tensor data"));
  }
  if (std::fclose(out_) != 0 && status.ok()) {
    status = absl::InternalError(absl::StrCat(path_, ": close failed: ", std::strerror(errno)));
  }
  out_ = nullptr;
  return status;
}

}  // namespace r1serve::engine
