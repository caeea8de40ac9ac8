// Writing GGUF v3 files that llama.cpp loads, streaming: metadata and the tensor directory are
// declared first, then each tensor's bytes are appended in declaration order, so a multi-GB
// model never has to be in memory at once. Output is a pure function of the calls made.
//
//   GgufWriter writer;
//   writer.AddMetadata("general.architecture", GgufValue::String("qwen2"));
//   RETURN_IF_ERROR(writer.AddTensor("token_embd.weight", DType::kF16, {vocab, hidden}));
//   RETURN_IF_ERROR(writer.Open("model.gguf"));
//   RETURN_IF_ERROR(writer.Write(bytes));  // any number of calls, any chunk sizes
//   RETURN_IF_ERROR(writer.Close());       // fails unless every declared byte was written
//
// Shapes are given outermost first (as everywhere in this engine) and stored reversed, as
// ggml's ne[] (innermost first). Tensors are laid out in declaration order, each padded to the
// alignment (32 unless set otherwise; a non-default alignment is recorded as general.alignment).
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "lib/engine/format/dtype.h"
#include "lib/engine/format/gguf.h"

namespace r1serve::engine {

class GgufWriter {
 public:
  explicit GgufWriter(uint32_t alignment = kGgufDefaultAlignment);
  ~GgufWriter();
  GgufWriter(const GgufWriter&) = delete;
  GgufWriter& operator=(const GgufWriter&) = delete;

  // Metadata is written in the order added; a key added twice keeps its first position and
  // takes the later value.
  void AddMetadata(std::string key, GgufValue value);
  // InvalidArgument for a duplicate name, an empty or over-4-dimensional shape, or a row length
  // that is not a multiple of the dtype's block.
  absl::Status AddTensor(std::string name, DType dtype, std::vector<int64_t> shape);

  // Creates the file and writes everything before the tensor data.
  absl::Status Open(const std::string& path);
  // Appends tensor data; chunks may span tensors (padding is inserted where one ends).
  absl::Status Write(std::span<const std::byte> bytes);
  absl::Status Close();

  // Bytes of tensor data declared so far, padding excluded.
  int64_t total_data_bytes() const;

 private:
  struct Tensor {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    int64_t size_bytes;
    uint64_t offset;  // in the data section
  };

  absl::Status WriteRaw(const void* data, size_t size);
  absl::Status PadTo(uint64_t alignment);
  absl::Status AdvancePastFilledTensors();

  uint32_t alignment_;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::vector<Tensor> tensors_;
  std::string path_;
  std::FILE* out_ = nullptr;
  std::vector<char> buffer_;
  uint64_t file_position_ = 0;
  uint64_t data_start_ = 0;
  size_t current_tensor_ = 0;
  int64_t current_written_ = 0;
};

}  // namespace r1serve::engine
