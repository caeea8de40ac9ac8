// A weight tensor as the model formats hand it to the engine: a read-only view, in its stored
// element type, into a memory-mapped file (or into a buffer the Model owns).
//
//   const TensorView& wq = model.layer(0).wq;  // shape {q_dim, hidden}
//   std::vector<float> row(wq.cols());
//   wq.DequantizeRows(/*first_row=*/5, /*count=*/1, row.data());
//
// Shape convention (every format is converted to it): row-major, outermost dimension first,
// as PyTorch writes it. A matrix is {rows, cols}: a linear layer y = W x with W of shape
// {out_features, in_features} keeps each output's weights contiguous in one row. Quantized
// blocks (Q8_0) run along the innermost dimension, so every row starts on a block boundary.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/engine/format/dtype.h"

namespace r1serve::engine {

struct TensorView {
  std::string name;  // canonical name, e.g. "blk.3.wq" (see architecture.h)
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;       // outermost first; 1 or 2 dimensions for the supported models
  const std::byte* data = nullptr;  // not necessarily aligned: safetensors guarantees nothing
  int64_t size_bytes = 0;

  int64_t rows() const { return shape.size() < 2 ? 1 : shape[0]; }
  int64_t cols() const { return shape.empty() ? 1 : shape.back(); }
  int64_t num_elements() const { return rows() * cols(); }
  int64_t row_bytes() const { return RowBytes(dtype, cols()); }
  const std::byte* row(int64_t index) const { return data + index * row_bytes(); }

  // Converts rows [first_row, first_row + count) to floats: out holds count * cols() values.
  void DequantizeRows(int64_t first_row, int64_t count, float* out) const {
    for (int64_t r = 0; r < count; ++r) {
      DequantizeRow(dtype, row(first_row + r), cols(), out + r * cols());
    }
  }
};

// "[151936, 1536]": shapes in error messages.
inline std::string ShapeText(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

}  // namespace r1serve::engine
