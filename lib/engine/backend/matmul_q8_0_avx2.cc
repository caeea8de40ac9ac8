// AVX2 Q8_0 prefill GEMM: packing and micro-kernel (see matmul_kernels.h). Every function
// here carries R1_AVX2 and is only called at CpuKernelLevel::kAvx2 or above.
//
// vpmaddubsw multiplies unsigned by signed bytes and adds pairs into int16 with saturation.
// With |w| as the unsigned side and x carrying w's sign (vpsignb), each pair sums at most
// 2 * 128 * 127 = 32512 (|x| <= 127 from the quantizer): no saturation. vpmaddwd with ones
// then adds pairs of those into int32, exact.
#if defined(__x86_64__)

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "lib/engine/backend/avx2_math.h"
#include "lib/engine/backend/matmul_kernels.h"

namespace r1serve::engine::matmul_kernels {
namespace {

constexpr int64_t kGroupRows = 8;  // weight rows per packed group: one ymm of int32 lanes
// One packed block of a group: 8 f32 scales, then [8 (k / 4)][8 rows][4 bytes] of w (signed).
constexpr int64_t kPackedBlockBytes = kGroupRows * 4 + kGroupRows * kQ8_0BlockValues;

// y[M rows, 8 columns] for M x rows (row stride `cols` bytes) and one packed group. Per block
// and step of 4 k: one weight load and |w|, then per x row a broadcast, vpsignb, vpmaddubsw,
// vpmaddwd and an add; per block and row one conversion and FMA. M = 4: 4 int32 + 4 f32
// accumulators, w, |w|, ones and temporaries fit the 16 ymm registers.
template <int M>
R1_AVX2 void GemmTile(const int8_t* xq, const float* xd, int64_t cols, const std::byte* group,
                      int valid, const float* bias, float* y, int64_t ldy) {
  const int64_t blocks = cols / kQ8_0BlockValues;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[M];
#pragma GCC unroll 8
  for (int m = 0; m < M; ++m) acc[m] = _mm256_setzero_ps();
  for (int64_t b = 0; b < blocks; ++b) {
    const std::byte* packed = group + b * kPackedBlockBytes;
    const int8_t* xb = xq + b * kQ8_0BlockValues;
    __m256i dot[M];
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) dot[m] = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int s = 0; s < 8; ++s) {
      const __m256i wv =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(packed + 32 + s * 32));
      const __m256i wabs = _mm256_sign_epi8(wv, wv);
#pragma GCC unroll 8
      for (int m = 0; m < M; ++m) {
        int32_t four;
        std::memcpy(&four, xb + m * cols + 4 * s, 4);
        const __m256i xv = _mm256_sign_epi8(_mm256_set1_epi32(four), wv);
        dot[m] = _mm256_add_epi32(dot[m],
                                  _mm256_madd_epi16(_mm256_maddubs_epi16(wabs, xv), ones));
      }
    }
    const __m256 dw = _mm256_loadu_ps(reinterpret_cast<const float*>(packed));
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) {
      acc[m] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot[m]),
                               _mm256_mul_ps(dw, _mm256_set1_ps(xd[m * blocks + b])), acc[m]);
    }
  }
#pragma GCC unroll 8
  for (int m = 0; m < M; ++m) {
    float* out = y + m * ldy;
    if (valid == 8) {
      const __m256 b = bias != nullptr ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
      _mm256_storeu_ps(out, _mm256_add_ps(acc[m], b));
    } else {
      alignas(32) float tmp[8];
      _mm256_store_ps(tmp, acc[m]);
      for (int j = 0; j < valid; ++j) out[j] = tmp[j] + (bias != nullptr ? bias[j] : 0.0f);
    }
  }
}

using GemmTileFn = void (*)(const int8_t*, const float*, int64_t, const std::byte*, int,
                            const float*, float*, int64_t);
constexpr GemmTileFn kGemmTiles[4] = {&GemmTile<1>, &GemmTile<2>, &GemmTile<3>, &GemmTile<4>};

}  // namespace

int64_t PackedQ8_0GroupBytesAvx2(int64_t cols) {
  return cols / kQ8_0BlockValues * kPackedBlockBytes;
}

R1_AVX2 void PackQ8_0Avx2(const Weight& w, int64_t row_lo, int64_t count, std::byte* packed) {
  const int64_t row_bytes = RowBytes(DType::kQ8_0, w.cols);
  const int64_t blocks = w.cols / kQ8_0BlockValues;
  const int64_t group_bytes = PackedQ8_0GroupBytesAvx2(w.cols);
  const auto* base = static_cast<const std::byte*>(w.data) + row_lo * row_bytes;
  for (int64_t g = 0; g * kGroupRows < count; ++g) {
    for (int64_t b = 0; b < blocks; ++b) {
      std::byte* dst = packed + g * group_bytes + b * kPackedBlockBytes;
      for (int64_t r = 0; r < kGroupRows; ++r) {
        const int64_t row = g * kGroupRows + r;
        float scale = 0.0f;
        // Rows past `count` in the last group: scale 0 and w = 0, never stored out.
        uint32_t four = 0;
        for (int s = 0; s < 8; ++s) {
          if (row < count) {
            std::memcpy(&four, base + row * row_bytes + b * kQ8_0BlockBytes + 2 + 4 * s, 4);
          }
          std::memcpy(dst + kGroupRows * 4 + (s * kGroupRows + r) * 4, &four, 4);
        }
        if (row < count) {
          uint16_t bits;
          std::memcpy(&bits, base + row * row_bytes + b * kQ8_0BlockBytes, 2);
          scale = _cvtsh_ss(bits);
        }
        std::memcpy(dst + r * 4, &scale, 4);
      }
    }
  }
}

void GemmQ8_0Avx2(const QuantizedX& x, const std::byte* packed, int64_t count, const float* bias,
                  float* y, int64_t ldy) {
  const int64_t cols = x.cols;
  const int64_t blocks = cols / kQ8_0BlockValues;
  const int64_t group_bytes = PackedQ8_0GroupBytesAvx2(cols);
  const int64_t groups = (count + kGroupRows - 1) / kGroupRows;
  for (int t = 0; t < x.n; t += 4) {
    const int m = std::min(4, x.n - t);
    for (int64_t g = 0; g < groups; ++g) {
      const int valid = static_cast<int>(std::min<int64_t>(kGroupRows, count - g * kGroupRows));
      kGemmTiles[m - 1](x.values.data() + t * cols, x.scales.data() + t * blocks, cols,
                        packed + g * group_bytes, valid,
                        bias != nullptr ? bias + g * kGroupRows : nullptr,
                        y + t * ldy + g * kGroupRows, ldy);
    }
  }
}

}  // namespace r1serve::engine::matmul_kernels

#else  // !defined(__x86_64__)

#include <cstdlib>

#include "lib/engine/backend/matmul_kernels.h"

namespace r1serve::engine::matmul_kernels {

// Off x86-64 these kernels do not exist; DetectCpuKernelLevel() never returns kAvx2 there.
int64_t PackedQ8_0GroupBytesAvx2(int64_t) { std::abort(); }
void PackQ8_0Avx2(const Weight&, int64_t, int64_t, std::byte*) { std::abort(); }
void GemmQ8_0Avx2(const QuantizedX&, const std::byte*, int64_t, const float*, float*, int64_t) {
  std::abort();
}

}  // namespace r1serve::engine::matmul_kernels

#endif  // defined(__x86_64__)
