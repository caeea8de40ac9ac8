// Element types of stored weights (F32, F16, BF16, Q8_0), their sizes, and the scalar
// conversions between them. Weights stay in their stored type after loading; these are the
// reference conversions that kernels, tests and the model writer agree on.
//
//   DType dtype = DType::kQ8_0;
//   int64_t bytes = RowBytes(dtype, /*cols=*/4096);          // 4096 / 32 * 34 = 4352
//   float x = HalfToFloat(FloatToHalf(0.1f));                 // 0.0999755859375f
//   std::vector<float> row(4096);
//   DequantizeRow(dtype, row_bytes_ptr, 4096, row.data());
//
// Q8_0 is ggml's block format: blocks of 32 values along the innermost (row) dimension, each
// block an fp16 scale d followed by 32 int8 quants q; value = d * q. 34 bytes per 32 values.
// All multi-byte values are little-endian (the only byte order the formats define; the
// conversions assume a little-endian host, which every target of this project is).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"

namespace r1serve::engine {

enum class DType : uint8_t {
  kF32,
  kF16,
  kBF16,
  kQ8_0,
};

inline constexpr int64_t kQ8_0BlockValues = 32;
inline constexpr int64_t kQ8_0BlockBytes = 2 + kQ8_0BlockValues;  // fp16 scale + 32 int8

// "F32", "F16", "BF16", "Q8_0" (the spelling of safetensors and of ggml's type names).
absl::string_view DTypeName(DType dtype);
// Inverse of DTypeName, case-insensitive; nullopt for any other name.
std::optional<DType> DTypeFromName(absl::string_view name);

// Values per storage block: 1 for the float types, 32 for Q8_0. A row's length (innermost
// dimension) must be a multiple of it.
int64_t BlockValues(DType dtype);
// Bytes per storage block: 4, 2, 2, 34.
int64_t BlockBytes(DType dtype);
// Bytes of one row of `cols` values; `cols` must be a multiple of BlockValues(dtype).
int64_t RowBytes(DType dtype, int64_t cols);

// IEEE binary16 <-> binary32. FloatToHalf rounds to nearest even, keeps infinities, turns NaN
// into a quiet NaN, and produces subnormals exactly as hardware conversion (F16C) does.
uint16_t FloatToHalf(float value);
float HalfToFloat(uint16_t half);

// bfloat16 <-> binary32. FloatToBf16 rounds to nearest even (as PyTorch and ggml do) and keeps
// NaN a NaN.
uint16_t FloatToBf16(float value);
float Bf16ToFloat(uint16_t bf16);

// Rounds a float to the nearest value representable in `dtype` (F32: unchanged; F16/BF16:
// through the 16-bit type). Q8_0 has no per-value rounding (it depends on the block), so it
// returns the value unchanged.
float RoundToDType(DType dtype, float value);

// Quantizes `cols` floats (a multiple of 32) into Q8_0 blocks exactly as ggml's reference
// quantize_row_q8_0: d = max|x| / 127, q = round-half-away(x / d), d stored as fp16.
// `out` receives RowBytes(kQ8_0, cols) bytes.
void QuantizeRowQ8_0(const float* values, int64_t cols, std::byte* out);

// Converts `cols` floats to `dtype`'s stored bytes (RowBytes(dtype, cols) of them).
void EncodeRow(DType dtype, const float* values, int64_t cols, std::byte* out);

// Converts one stored row of `cols` values back to floats. `row` needs no alignment.
void DequantizeRow(DType dtype, const std::byte* row, int64_t cols, float* out);

}  // namespace r1serve::engine
