#include "lib/engine/format/dtype.h"

#include <algorithm>
#include <bit>
#include <cctype>
#include <cmath>
#include <cstring>

namespace r1serve::engine {
namespace {

uint32_t FloatBits(float value) { return std::bit_cast<uint32_t>(value); }
float BitsFloat(uint32_t bits) { return std::bit_cast<float>(bits); }

uint16_t LoadU16(const std::byte* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

void StoreU16(std::byte* p, uint16_t v) { std::memcpy(p, &v, sizeof(v)); }

}  // namespace

absl::string_view DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "F32";
    case DType::kF16:
      return "F16";
    case DType::kBF16:
      return "BF16";
    case DType::kQ8_0:
      return "Q8_0";
  }
  return "?";
}

std::optional<DType> DTypeFromName(absl::string_view name) {
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0}) {
    const absl::string_view canonical = DTypeName(dtype);
    if (name.size() == canonical.size() &&
        std::equal(name.begin(), name.end(), canonical.begin(), [](char a, char b) {
          return std::toupper(static_cast<unsigned char>(a)) == b;
        })) {
      return dtype;
    }
  }
  return std::nullopt;
}

int64_t BlockValues(DType dtype) { return dtype == DType::kQ8_0 ? kQ8_0BlockValues : 1; }

int64_t BlockBytes(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return 4;
    case DType::kF16:
    case DType::kBF16:
      return 2;
    case DType::kQ8_0:
      return kQ8_0BlockBytes;
  }
  return 0;
}

int64_t RowBytes(DType dtype, int64_t cols) {
  return cols / BlockValues(dtype) * BlockBytes(dtype);
}

uint16_t FloatToHalf(float value) {
  const uint32_t bits = FloatBits(value);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t abs = bits & 0x7fffffffu;
  if (abs >= 0x7f800000u) {  // inf or NaN
    return sign | (abs > 0x7f800000u ? 0x7e00u : 0x7c00u);
  }
  if (abs >= 0x477ff000u) return sign | 0x7c00u;  // rounds to >= 65520: overflow to inf
  if (abs < 0x38800000u) {
    // Below the smallest normal half (2^-14): a subnormal half, i.e. a multiple of 2^-24.
    // Adding 0.5 (= 2^23 * 2^-24) as a float makes the FPU do the round-to-nearest-even at
    // exactly the 2^-24 position; the low mantissa bits are then the result.
    const float shifted = BitsFloat(abs) + 0.5f;
    return sign | static_cast<uint16_t>(FloatBits(shifted) - FloatBits(0.5f));
  }
  // Normal: rebias the exponent (127 -> 15) and round the 13 dropped mantissa bits to even.
  const uint32_t mantissa_odd = (abs >> 13) & 1u;
  const uint32_t rounded = abs + 0xfffu + mantissa_odd;
  return sign | static_cast<uint16_t>((rounded - (112u << 23)) >> 13);
}

float HalfToFloat(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  const uint32_t exponent = (half >> 10) & 0x1fu;
  const uint32_t mantissa = half & 0x3ffu;
  if (exponent == 0x1f) return BitsFloat(sign | 0x7f800000u | (mantissa << 13));
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float.
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return sign ? -magnitude : magnitude;
  }
  return BitsFloat(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

uint16_t FloatToBf16(float value) {
  const uint32_t bits = FloatBits(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) {
    return static_cast<uint16_t>((bits >> 16) | 0x40u);  // quiet NaN, sign kept
  }
  const uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

float Bf16ToFloat(uint16_t bf16) { return BitsFloat(static_cast<uint32_t>(bf16) << 16); }

float RoundToDType(DType dtype, float value) {
  switch (dtype) {
    case DType::kF16:
      return HalfToFloat(FloatToHalf(value));
    case DType::kBF16:
      return Bf16ToFloat(FloatToBf16(value));
    case DType::kF32:
    case DType::kQ8_0:
      return value;
  }
  return value;
}

void QuantizeRowQ8_0(const float* values, int64_t cols, std::byte* out) {
  for (int64_t block = 0; block < cols / kQ8_0BlockValues; ++block) {
    const float* x = values + block * kQ8_0BlockValues;
    std::byte* y = out + block * kQ8_0BlockBytes;
    float amax = 0.0f;
    for (int64_t i = 0; i < kQ8_0BlockValues; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float d = amax / 127.0f;
    const float inverse = d != 0.0f ? 1.0f / d : 0.0f;
    StoreU16(y, FloatToHalf(d));
    for (int64_t i = 0; i < kQ8_0BlockValues; ++i) {
      // roundf rounds half away from zero, as ggml's reference does.
      const auto q = static_cast<int8_t>(std::roundf(x[i] * inverse));
      y[2 + i] = static_cast<std::byte>(q);
    }
  }
}

void EncodeRow(DType dtype, const float* values, int64_t cols, std::byte* out) {
  switch (dtype) {
    case DType::kF32:
      std::memcpy(out, values, static_cast<size_t>(cols) * sizeof(float));
      return;
    case DType::kF16:
      for (int64_t i = 0; i < cols; ++i) StoreU16(out + 2 * i, FloatToHalf(values[i]));
      return;
    case DType::kBF16:
      for (int64_t i = 0; i < cols; ++i) StoreU16(out + 2 * i, FloatToBf16(values[i]));
      return;
    case DType::kQ8_0:
      QuantizeRowQ8_0(values, cols, out);
      return;
  }
}

void DequantizeRow(DType dtype, const std::byte* row, int64_t cols, float* out) {
  switch (dtype) {
    case DType::kF32:
      std::memcpy(out, row, static_cast<size_t>(cols) * sizeof(float));
      return;
    case DType::kF16:
      for (int64_t i = 0; i < cols; ++i) out[i] = HalfToFloat(LoadU16(row + 2 * i));
      return;
    case DType::kBF16:
      for (int64_t i = 0; i < cols; ++i) out[i] = Bf16ToFloat(LoadU16(row + 2 * i));
      return;
    case DType::kQ8_0:
      for (int64_t block = 0; block < cols / kQ8_0BlockValues; ++block) {
        const std::byte* x = row + block * kQ8_0BlockBytes;
        const float d = HalfToFloat(LoadU16(x));
        for (int64_t i = 0; i < kQ8_0BlockValues; ++i) {
          out[block * kQ8_0BlockValues + i] = d * static_cast<float>(static_cast<int8_t>(x[2 + i]));
        }
      }
      return;
  }
}

}  // namespace r1serve::engine
