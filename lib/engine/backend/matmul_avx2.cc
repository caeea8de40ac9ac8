// AVX2 + FMA + F16C matmul kernels (see matmul_kernels.h). Every function here carries the
// target attribute and is only called after DetectCpuKernelLevel() found the features.
#if defined(__x86_64__)

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "lib/engine/backend/avx2_math.h"
#include "lib/engine/backend/matmul_kernels.h"

namespace r1serve::engine::matmul_kernels {
namespace {

// 8 consecutive weights of a row, from element k, as f32.
template <DType kType>
R1_AVX2 inline __m256 Load8(const std::byte* row, int64_t k) {
  if constexpr (kType == DType::kF32) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + k);
  } else if constexpr (kType == DType::kF16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * k)));
  } else {
    // bf16 is the top half of an f32: widen to 32 bits and shift into place.
    const __m128i bits = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * k));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(bits), 16));
  }
}

template <DType kType>
inline float LoadOne(const std::byte* row, int64_t k) {
  float value;
  DequantizeRow(kType, row + k * BlockBytes(kType), 1, &value);
  return value;
}

// sums[RW][CX] = dot(weight row r, x row c) for an RW x CX tile, rows of `cols` values. The
// RW weight vectors of a k-step are loaded (and converted) once and used CX times.
// RW * CX accumulators + RW weight registers + 1 x register fit the 16 ymm registers for the
// shapes used: (4, 1), (4, 2), (3, 3), (3, 4).
// The `#pragma GCC unroll` lines matter: at the project's -O2 GCC leaves these constant loops
// rolled and the accumulator arrays in memory (F16, n = 16, one core: 27 -> 68 GFLOP/s).
template <DType kType, int RW, int CX>
R1_AVX2 void DotTile(const std::byte* w, int64_t row_bytes, const float* x, int64_t cols,
                     float* sums) {
  __m256 acc[RW][CX];
#pragma GCC unroll 8
  for (int r = 0; r < RW; ++r) {
#pragma GCC unroll 8
    for (int c = 0; c < CX; ++c) acc[r][c] = _mm256_setzero_ps();
  }
  const int64_t main = cols & ~int64_t{7};
  for (int64_t k = 0; k < main; k += 8) {
    __m256 wv[RW];
    // 16-bit weights: one prefetch per row per 64-byte line, 512 bytes ahead (see
    // DotTileQ8_0): one core, n = 1, F16/BF16 +5-10% GB/s. F32 rows (~14 GB/s on one core
    // without it) are left to the hardware prefetcher.
    if (kType != DType::kF32 && (k & 31) == 0) {
#pragma GCC unroll 8
      for (int r = 0; r < RW; ++r) {
        _mm_prefetch(reinterpret_cast<const char*>(w + r * row_bytes + 2 * k) + 512, _MM_HINT_T0);
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < RW; ++r) wv[r] = Load8<kType>(w + r * row_bytes, k);
#pragma GCC unroll 8
    for (int c = 0; c < CX; ++c) {
      const __m256 xv = _mm256_loadu_ps(x + c * cols + k);
#pragma GCC unroll 8
      for (int r = 0; r < RW; ++r) acc[r][c] = _mm256_fmadd_ps(wv[r], xv, acc[r][c]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < RW; ++r) {
#pragma GCC unroll 8
    for (int c = 0; c < CX; ++c) {
      float sum = avx2::HorizontalSum(acc[r][c]);
      for (int64_t k = main; k < cols; ++k) {
        sum += LoadOne<kType>(w + r * row_bytes, k) * x[c * cols + k];
      }
      sums[r * CX + c] = sum;
    }
  }
}

using TileFn = void (*)(const std::byte*, int64_t, const float*, int64_t, float*);

template <DType kType, int RW>
constexpr TileFn kTileRow[4] = {&DotTile<kType, RW, 1>, &DotTile<kType, RW, 2>,
                                &DotTile<kType, RW, 3>, &DotTile<kType, RW, 4>};
template <DType kType>
constexpr const TileFn* kTiles[4] = {kTileRow<kType, 1>, kTileRow<kType, 2>, kTileRow<kType, 3>,
                                     kTileRow<kType, 4>};

// Loop order: weight row groups outer, x tiles inner, whole rows of k per tile. The x rows
// (16 x 1536 f32 = 96 KiB at the batched-decode shape) are read from L2 by every weight row
// group; slicing k so that they stay in L1 was measured slower (per-slice horizontal sums and
// y updates cost more than L2 reads): F16, n = 16, 1536 x 8960, one core: 24 KiB slices
// 42 GFLOP/s, 64 KiB 56, 128 KiB 60, whole rows 68.
template <DType kType>
void SmallBatchTyped(const Weight& w, const float* x, int n, float* y, const float* bias,
                     int64_t row_lo, int64_t row_hi) {
  const int64_t row_bytes = RowBytes(kType, w.cols);
  const auto* base = static_cast<const std::byte*>(w.data);
  // Tile shape: 4 weight rows when x has 1-2 rows (weight-bound), else 3 rows x 4 x rows
  // (2 rows x 6 x rows, fewer conversions per FMA but more x loads, measured 20% slower).
  const int rows_per_tile = n <= 2 ? 4 : 3;
  float sums[16];
  for (int64_t o = row_lo; o < row_hi; o += rows_per_tile) {
    const int rw = static_cast<int>(std::min<int64_t>(rows_per_tile, row_hi - o));
    for (int t = 0; t < n; t += 4) {
      const int cx = std::min(4, n - t);
      kTiles<kType>[rw - 1][cx - 1](base + o * row_bytes, row_bytes, x + t * w.cols, w.cols, sums);
      for (int r = 0; r < rw; ++r) {
        const float b = bias != nullptr ? bias[o + r] : 0.0f;
        for (int c = 0; c < cx; ++c) y[(t + c) * w.rows + o + r] = sums[r * cx + c] + b;
      }
    }
  }
}

// ---- Q8_0.

// sums[RW][CX] over the Q8_0 blocks of RW weight rows and CX quantized x rows. Per block and
// pair: |w| (unsigned) times x with w's sign moved onto it (vpsignb), summed in pairs to int16
// (vpmaddubsw: at most 2 * 128 * 127, no saturation), then to int32 (vpmaddwd with ones),
// converted to f32 and accumulated with the product of the two block scales.
template <int RW, int CX>
R1_AVX2 void DotTileQ8_0(const std::byte* w, int64_t row_bytes, const int8_t* xq, const float* xd,
                         int64_t cols, float* sums) {
  const int64_t blocks = cols / kQ8_0BlockValues;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[RW][CX];
#pragma GCC unroll 8
  for (int r = 0; r < RW; ++r) {
#pragma GCC unroll 8
    for (int c = 0; c < CX; ++c) acc[r][c] = _mm256_setzero_ps();
  }
  for (int64_t b = 0; b < blocks; ++b) {
    // Software prefetch, 512 bytes ahead in each row: this loop is instruction-dense (about
    // 50 instructions per 4 blocks), so the out-of-order window covers few bytes ahead and
    // the core waits on memory. One core, n = 1, GB/s: 8960x1536 6.2 -> 8.1, 1536x8960
    // 10.3 -> 12.2 (256 and 1024 bytes ahead were slower). The float kernels, which read more
    // bytes per instruction, got slower with it.
#pragma GCC unroll 8
    for (int r = 0; r < RW; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(w + r * row_bytes + b * kQ8_0BlockBytes) + 512,
                   _MM_HINT_T0);
    }
    __m256i wq[RW], wabs[RW];
    float wd[RW];
#pragma GCC unroll 8
    for (int r = 0; r < RW; ++r) {
      const std::byte* block = w + r * row_bytes + b * kQ8_0BlockBytes;
      uint16_t scale;
      std::memcpy(&scale, block, 2);
      wd[r] = _cvtsh_ss(scale);
      wq[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 2));
      wabs[r] = _mm256_sign_epi8(wq[r], wq[r]);
    }
#pragma GCC unroll 8
    for (int c = 0; c < CX; ++c) {
      const __m256i xv =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + c * cols + b * 32));
      const float dx = xd[c * blocks + b];
#pragma GCC unroll 8
      for (int r = 0; r < RW; ++r) {
        const __m256i products =
            _mm256_madd_epi16(_mm256_maddubs_epi16(wabs[r], _mm256_sign_epi8(xv, wq[r])), ones);
        acc[r][c] =
            _mm256_fmadd_ps(_mm256_cvtepi32_ps(products), _mm256_set1_ps(wd[r] * dx), acc[r][c]);
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < RW; ++r) {
#pragma GCC unroll 8
    for (int c = 0; c < CX; ++c) sums[r * CX + c] = avx2::HorizontalSum(acc[r][c]);
  }
}

using TileQ8Fn = void (*)(const std::byte*, int64_t, const int8_t*, const float*, int64_t, float*);
template <int RW>
constexpr TileQ8Fn kTileQ8Row[4] = {&DotTileQ8_0<RW, 1>, &DotTileQ8_0<RW, 2>, &DotTileQ8_0<RW, 3>,
                                    &DotTileQ8_0<RW, 4>};
constexpr const TileQ8Fn* kTilesQ8[4] = {kTileQ8Row<1>, kTileQ8Row<2>, kTileQ8Row<3>,
                                         kTileQ8Row<4>};

}  // namespace

void SmallBatchAvx2(const Weight& w, const float* x, int n, float* y, const float* bias,
                    int64_t row_lo, int64_t row_hi) {
  switch (w.dtype) {
    case DType::kF32:
      return SmallBatchTyped<DType::kF32>(w, x, n, y, bias, row_lo, row_hi);
    case DType::kF16:
      return SmallBatchTyped<DType::kF16>(w, x, n, y, bias, row_lo, row_hi);
    case DType::kBF16:
      return SmallBatchTyped<DType::kBF16>(w, x, n, y, bias, row_lo, row_hi);
    case DType::kQ8_0:
      break;  // needs QuantizedX: SmallBatchQ8_0Avx2
  }
  SmallBatchPortable(w, x, n, y, bias, row_lo, row_hi);
}

R1_AVX2 void QuantizeRowsAvx2(const float* x, int row_lo, int row_hi, QuantizedX& out) {
  const int64_t blocks = out.cols / kQ8_0BlockValues;
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  // vpackssdw / vpacksswb interleave the 128-bit lanes; this puts the 32-bit groups back.
  const __m256i lane_order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  // Rows are whole blocks: b runs across the rows' blocks in order.
  for (int64_t b = int64_t{row_lo} * blocks; b < int64_t{row_hi} * blocks; ++b) {
    const float* src = x + b * kQ8_0BlockValues;
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
#pragma GCC unroll 8
    for (int i = 0; i < 4; ++i) {
      v[i] = _mm256_loadu_ps(src + 8 * i);
      amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign_mask, v[i]));
    }
    const float max_abs = avx2::HorizontalMax(amax);
    const float d = max_abs / 127.0f;
    const __m256 inverse = _mm256_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
    __m256i q[4];
#pragma GCC unroll 8
    for (int i = 0; i < 4; ++i) {
      // Round to nearest (even): the error bound (half a step) is what matters, not ties.
      q[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], inverse));
    }
    // |q| <= 127, so the packs below do not saturate and the sum is the stored values'.
    const __m256i sum =
        _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    const __m256i q16a = _mm256_packs_epi32(q[0], q[1]);
    const __m256i q16b = _mm256_packs_epi32(q[2], q[3]);
    const __m256i q8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(q16a, q16b), lane_order);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out.values.data() + b * kQ8_0BlockValues), q8);
    out.scales[b] = d;
    out.sums[b] = _mm_cvtsi128_si32(s);
  }
}

void QuantizeXAvx2(const float* x, int n, int64_t cols, QuantizedX& out) {
  ResizeQuantizedX(n, cols, out);
  QuantizeRowsAvx2(x, 0, n, out);
}

void SmallBatchQ8_0Avx2(const Weight& w, const QuantizedX& x, float* y, const float* bias,
                        int64_t row_lo, int64_t row_hi) {
  const int64_t row_bytes = RowBytes(DType::kQ8_0, w.cols);
  const int64_t blocks = w.cols / kQ8_0BlockValues;
  const auto* base = static_cast<const std::byte*>(w.data);
  const int n = x.n;
  const int rows_per_tile = n <= 1 ? 4 : 2;
  float sums[16];
  for (int64_t o = row_lo; o < row_hi; o += rows_per_tile) {
    const int rw = static_cast<int>(std::min<int64_t>(rows_per_tile, row_hi - o));
    for (int t = 0; t < n; t += 4) {
      const int cx = std::min(4, n - t);
      kTilesQ8[rw - 1][cx - 1](base + o * row_bytes, row_bytes, x.values.data() + t * w.cols,
                               x.scales.data() + t * blocks, w.cols, sums);
      for (int r = 0; r < rw; ++r) {
        const float b = bias != nullptr ? bias[o + r] : 0.0f;
        for (int c = 0; c < cx; ++c) y[(t + c) * w.rows + o + r] = sums[r * cx + c] + b;
      }
    }
  }
}

R1_AVX2 void ConvertRowsAvx2(const Weight& w, int64_t row_lo, int64_t count, float* out) {
  const int64_t cols = w.cols;
  const int64_t row_bytes = RowBytes(w.dtype, cols);
  const auto* base = static_cast<const std::byte*>(w.data) + row_lo * row_bytes;
  if (w.dtype == DType::kF32) {
    std::memcpy(out, base, count * cols * sizeof(float));
    return;
  }
  for (int64_t r = 0; r < count; ++r) {
    const std::byte* row = base + r * row_bytes;
    float* dst = out + r * cols;
    if (w.dtype == DType::kQ8_0) {
      for (int64_t b = 0; b < cols / kQ8_0BlockValues; ++b) {
        const std::byte* block = row + b * kQ8_0BlockBytes;
        uint16_t scale;
        std::memcpy(&scale, block, 2);
        const __m256 d = _mm256_set1_ps(_cvtsh_ss(scale));
#pragma GCC unroll 8
        for (int i = 0; i < 4; ++i) {
          const __m128i q8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(block + 2 + 8 * i));
          _mm256_storeu_ps(dst + b * 32 + 8 * i,
                           _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8))));
        }
      }
      continue;
    }
    const int64_t main = cols & ~int64_t{7};
    for (int64_t k = 0; k < main; k += 8) {
      _mm256_storeu_ps(dst + k, w.dtype == DType::kF16 ? Load8<DType::kF16>(row, k)
                                                       : Load8<DType::kBF16>(row, k));
    }
    if (main < cols) DequantizeRow(w.dtype, row + main * 2, cols - main, dst + main);
  }
}

namespace {

// ---- Prefill micro-kernel: 6 x rows by 16 outputs, 12 accumulators; per k, two panel loads
// and six broadcasts feed twelve FMAs.
template <int R>
R1_AVX2 void MicroKernel6x16(const float* x, int64_t ldx, const float* panel, int64_t k_len,
                             float* y, int64_t ldy, int valid_cols) {
  __m256 acc[R][2];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (int64_t k = 0; k < k_len; ++k) {
    const __m256 b0 = _mm256_loadu_ps(panel + k * 16);
    const __m256 b1 = _mm256_loadu_ps(panel + k * 16 + 8);
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      const __m256 a = _mm256_broadcast_ss(x + i * ldx + k);
      acc[i][0] = _mm256_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(a, b1, acc[i][1]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) {
    float* out = y + i * ldy;
    if (valid_cols == 16) {
      _mm256_storeu_ps(out, _mm256_add_ps(_mm256_loadu_ps(out), acc[i][0]));
      _mm256_storeu_ps(out + 8, _mm256_add_ps(_mm256_loadu_ps(out + 8), acc[i][1]));
    } else {
      alignas(32) float tmp[16];
      _mm256_store_ps(tmp, acc[i][0]);
      _mm256_store_ps(tmp + 8, acc[i][1]);
      for (int j = 0; j < valid_cols; ++j) out[j] += tmp[j];
    }
  }
}

using MicroKernelFn = void (*)(const float*, int64_t, const float*, int64_t, float*, int64_t, int);
constexpr MicroKernelFn kMicroKernels[6] = {&MicroKernel6x16<1>, &MicroKernel6x16<2>,
                                            &MicroKernel6x16<3>, &MicroKernel6x16<4>,
                                            &MicroKernel6x16<5>, &MicroKernel6x16<6>};

}  // namespace

void PackedGemmAvx2(const float* x, int64_t ldx, int n, const float* panel, int64_t k_len,
                    int64_t cols_out, float* y, int64_t ldy) {
  // Panel-outer: one 16-wide panel (k_len x 16 floats, in L1 for k_len <= 256) serves every
  // x row, which stream from L2.
  for (int64_t j = 0; j < cols_out; j += 16) {
    const float* p = panel + j * k_len;
    const int valid = static_cast<int>(std::min<int64_t>(16, cols_out - j));
    for (int t = 0; t < n; t += 6) {
      const int rows = std::min(6, n - t);
      kMicroKernels[rows - 1](x + t * ldx, ldx, p, k_len, y + t * ldy + j, ldy, valid);
    }
  }
}

}  // namespace r1serve::engine::matmul_kernels

#else  // !defined(__x86_64__)

#include <cstdlib>

#include "lib/engine/backend/matmul_kernels.h"

namespace r1serve::engine::matmul_kernels {

// Off x86-64 the AVX2 kernels do not exist; DetectCpuKernelLevel() never returns kAvx2 there,
// so these are never called.
void SmallBatchAvx2(const Weight&, const float*, int, float*, const float*, int64_t, int64_t) {
  std::abort();
}
void QuantizeRowsAvx2(const float*, int, int, QuantizedX&) { std::abort(); }
void QuantizeXAvx2(const float*, int, int64_t, QuantizedX&) { std::abort(); }
void SmallBatchQ8_0Avx2(const Weight&, const QuantizedX&, float*, const float*, int64_t, int64_t) {
  std::abort();
}
void ConvertRowsAvx2(const Weight&, int64_t, int64_t, float*) { std::abort(); }
void PackedGemmAvx2(const float*, int64_t, int, const float*, int64_t, int64_t, float*, int64_t) {
  std::abort();
}

}  // namespace r1serve::engine::matmul_kernels

#endif  // defined(__x86_64__)
