// cpu_kernels::MatMul: picks a kernel by batch size and weight dtype and splits the weight's
// rows over the threads (each thread reads its own slice of the weights exactly once), plus
// the portable kernels of matmul_kernels.h.
#include <algorithm>
#include <cmath>
#include <mutex>
#include <vector>

#include "lib/engine/backend/cpu_kernels.h"
#include "lib/engine/backend/matmul_kernels.h"
#include "lib/engine/backend/q8_0_groups.h"

#if R1SERVE_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace r1serve::engine {
namespace matmul_kernels {
namespace {

// Weight rows per PrefillOwn panel: as many as keep the panel's f32 copy near 1 MiB, so that
// it stays in L2 next to a slice of x.
int64_t PanelRows(int64_t cols, int64_t multiple) {
  const int64_t rows = (int64_t{1} << 20) / (cols * int64_t{sizeof(float)});
  return std::clamp<int64_t>(rows / multiple * multiple, multiple, 16 * multiple);
}

#if R1SERVE_HAVE_OPENBLAS
// Weight rows per sgemm call. Each call packs all of x again (n x cols floats), so panels are
// as wide as 16 MiB of f32 allows (a panel larger than L2 costs little: it is written once and
// read once by sgemm's packing, next to 2 * n flops per element), and spread evenly over the
// threads. One core, F16, n = 512, GFLOP/s: 1536 x 8960 (down) with 128-row panels 104, with
// 16 MiB panels 127; 1536 x 1536 with 160-row panels 134, 16 MiB 141; 16-row panels 68.
int64_t BlasPanelRows(int64_t rows, int64_t cols, int threads) {
  const int64_t widest =
      std::max<int64_t>(128, (int64_t{16} << 20) / (cols * int64_t{sizeof(float)}));
  int64_t panels = (rows + widest - 1) / widest;
  panels = (panels + threads - 1) / threads * threads;
  return std::max<int64_t>(16, ((rows + panels - 1) / panels + 15) / 16 * 16);
}
#endif

void ConvertRows(CpuKernelLevel level, const Weight& w, int64_t row_lo, int64_t count, float* out) {
  if (level >= CpuKernelLevel::kAvx2 && w.layout == WeightLayout::kRowMajor) {
    ConvertRowsAvx2(w, row_lo, count, out);
  } else {
    ConvertRowsPortable(w, row_lo, count, out);
  }
}

// Weight rows per MatMulQ8_0Int8 panel (multiples of 32, the AVX-512 tile width): the packed
// panel (~1.1 bytes per weight) within kQ8_0PanelBytes, so that it stays in L2 while every x
// tile passes over it, and panels spread evenly over the threads: at least 2 per thread, so
// that a thread that loses its core leaves work to the other, and 8 per thread for one pass
// over the weights (n <= 4, decode), whose panels are short.
constexpr int64_t kQ8_0PanelBytes = int64_t{768} << 10;
int64_t Q8_0PanelRows(int64_t rows, int64_t group_bytes_per_row, int threads, int n) {
  const int64_t widest = std::max<int64_t>(32, kQ8_0PanelBytes / group_bytes_per_row / 32 * 32);
  const int per_thread = n <= 4 ? 8 : 2;
  int64_t panels = std::max<int64_t>((rows + widest - 1) / widest, per_thread * threads);
  panels = (panels + threads - 1) / threads * threads;
  return std::max<int64_t>(32, ((rows + panels - 1) / panels + 31) / 32 * 32);
}

}  // namespace

void ResizeQuantizedX(int n, int64_t cols, QuantizedX& out) {
  const size_t blocks = static_cast<size_t>(n) * (cols / kQ8_0BlockValues);
  out.n = n;
  out.cols = cols;
  out.values.resize(static_cast<size_t>(n) * cols);
  out.scales.resize(blocks);
  out.sums.resize(blocks);
}

void QuantizeRowsPortable(const float* x, int row_lo, int row_hi, QuantizedX& out) {
  const int64_t blocks = out.cols / kQ8_0BlockValues;
  for (int64_t b = int64_t{row_lo} * blocks; b < int64_t{row_hi} * blocks; ++b) {
    const float* src = x + b * kQ8_0BlockValues;  // rows are whole blocks
    float max_abs = 0.0f;
    for (int i = 0; i < kQ8_0BlockValues; ++i) max_abs = std::max(max_abs, std::fabs(src[i]));
    const float d = max_abs / 127.0f;
    const float inverse = d != 0.0f ? 1.0f / d : 0.0f;
    int32_t sum = 0;
    for (int i = 0; i < kQ8_0BlockValues; ++i) {
      // Round to nearest even, as vcvtps2dq does in the AVX2 quantizer: identical values.
      const auto q = static_cast<int8_t>(std::nearbyint(src[i] * inverse));
      out.values[b * kQ8_0BlockValues + i] = q;
      sum += q;
    }
    out.scales[b] = d;
    out.sums[b] = sum;
  }
}

void SmallBatchQ8_0Portable(const Weight& w, const QuantizedX& x, float* y, const float* bias,
                            int64_t row_lo, int64_t row_hi) {
  const int64_t blocks = w.cols / kQ8_0BlockValues;
  std::vector<float> scales(blocks);
  std::vector<int8_t> values(w.cols);
  for (int64_t o = row_lo; o < row_hi; ++o) {
    for (int64_t b = 0; b < blocks; ++b) {
      ReadQ8_0Block(w, o, b, &scales[b], values.data() + b * kQ8_0BlockValues);
    }
    for (int t = 0; t < x.n; ++t) {
      const int8_t* xq = x.values.data() + t * w.cols;
      float sum = 0.0f;
      for (int64_t b = 0; b < blocks; ++b) {
        int32_t dot = 0;
        for (int i = 0; i < kQ8_0BlockValues; ++i) {
          dot += int32_t{values[b * kQ8_0BlockValues + i]} * xq[b * kQ8_0BlockValues + i];
        }
        sum += static_cast<float>(dot) * (scales[b] * x.scales[t * blocks + b]);
      }
      y[t * w.rows + o] = sum + (bias != nullptr ? bias[o] : 0.0f);
    }
  }
}

void SmallBatchPortable(const Weight& w, const float* x, int n, float* y, const float* bias,
                        int64_t row_lo, int64_t row_hi) {
  const int64_t cols = w.cols;
  std::vector<float> row(cols);
  for (int64_t o = row_lo; o < row_hi; ++o) {
    DequantizeWeightRow(w, o, row.data());
    for (int t = 0; t < n; ++t) {
      const float* xt = x + t * cols;
      // Four partial sums: independent chains the compiler can keep in flight.
      float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      int64_t i = 0;
      for (; i + 4 <= cols; i += 4) {
        s0 += row[i] * xt[i];
        s1 += row[i + 1] * xt[i + 1];
        s2 += row[i + 2] * xt[i + 2];
        s3 += row[i + 3] * xt[i + 3];
      }
      for (; i < cols; ++i) s0 += row[i] * xt[i];
      y[t * w.rows + o] = (s0 + s1) + (s2 + s3) + (bias != nullptr ? bias[o] : 0.0f);
    }
  }
}

void ConvertRowsPortable(const Weight& w, int64_t row_lo, int64_t count, float* out) {
  for (int64_t r = 0; r < count; ++r) {
    DequantizeWeightRow(w, row_lo + r, out + r * w.cols);
  }
}

// The prefill GEMM. OpenBLAS against our own PackedGemmAvx2, n = 512, F16 weights, GFLOP/s
// per core (thread CPU time, 1 thread):
//                 1536x1536   8960x1536   1536x8960
//   OpenBLAS          141         134         127
//   PackedGemmAvx2     89          79          77
// With 2 threads on a quiet machine (wall-clock): OpenBLAS 275, 267, 258 GFLOP/s. OpenBLAS
// wins clearly, so it is the prefill path; ours stays as the fallback for builds without it.
// Calling sgemm from each of our threads (single-threaded OpenBLAS) matched one call on
// OpenBLAS's own 2 threads (backend_bench prefill_blas_threaded) and keeps one thread pool.
void PrefillBlas(ThreadPool& pool, CpuKernelLevel level, const Weight& w, const float* x, int n,
                 float* y, const float* bias) {
#if R1SERVE_HAVE_OPENBLAS
  // Each pool thread runs its own single-threaded sgemm on its rows: OpenBLAS's own threads
  // on top of ours would put 4 busy threads on 2 cores.
  static std::once_flag single_threaded;
  std::call_once(single_threaded, [] { openblas_set_num_threads(1); });
  const int64_t cols = w.cols;
  const int64_t panel_rows = BlasPanelRows(w.rows, cols, pool.num_threads());
  // One panel per dynamic chunk (see SplitRows for why dynamic).
  pool.ParallelForDynamic(0, w.rows, panel_rows, [&](int64_t lo, int64_t hi) {
    thread_local std::vector<float> panel;
    panel.resize(panel_rows * cols);
    for (int64_t o = lo; o < hi; o += panel_rows) {
      const int64_t count = std::min(panel_rows, hi - o);
      ConvertRows(level, w, o, count, panel.data());
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, static_cast<int>(count),
                  static_cast<int>(cols), 1.0f, x, static_cast<int>(cols), panel.data(),
                  static_cast<int>(cols), 0.0f, y + o, static_cast<int>(w.rows));
      if (bias != nullptr) {
        for (int t = 0; t < n; ++t) {
          float* yt = y + t * w.rows + o;
          for (int64_t r = 0; r < count; ++r) yt[r] += bias[o + r];
        }
      }
    }
  });
#else
  if (level >= CpuKernelLevel::kAvx2) {
    PrefillOwn(pool, w, x, n, y, bias);
  } else {
    pool.ParallelFor(0, w.rows, 16,
                     [&](int64_t lo, int64_t hi) { SmallBatchPortable(w, x, n, y, bias, lo, hi); });
  }
#endif
}

void MatMulQ8_0Int8(ThreadPool& pool, CpuKernelLevel level, const Weight& w, const float* x, int n,
                    float* y, const float* bias) {
  // The calling thread's buffer, shared with the workers through `quantized` (a lambda
  // naming the thread_local itself would see each worker's own, empty one).
  thread_local QuantizedX buffer;  // [n, w.cols]
  QuantizedX& quantized = buffer;
  ResizeQuantizedX(n, w.cols, quantized);
  pool.ParallelFor(0, n, 8, [&](int64_t lo, int64_t hi) {
    if (level >= CpuKernelLevel::kAvx2) {
      QuantizeRowsAvx2(x, static_cast<int>(lo), static_cast<int>(hi), quantized);
    } else {
      QuantizeRowsPortable(x, static_cast<int>(lo), static_cast<int>(hi), quantized);
    }
  });
  const bool groups = w.layout == WeightLayout::kQ8_0Groups16;
  // Groups-layout weights are made only at kAvx512; a level lowered after the upload (tests)
  // takes the scalar path, as does kPortable.
  if (level == CpuKernelLevel::kPortable || (groups && level < CpuKernelLevel::kAvx512)) {
    pool.ParallelForDynamic(0, w.rows, 16, [&](int64_t lo, int64_t hi) {
      SmallBatchQ8_0Portable(w, quantized, y, bias, lo, hi);
    });
    return;
  }
  if (groups) {
    // Panels are row ranges of the packed weight (multiples of 32 rows: whole groups).
    const auto* packed = static_cast<const std::byte*>(w.data);
    const int64_t group_bytes = Q8_0GroupBytes(w.cols);
    const int64_t panel_rows =
        Q8_0PanelRows(w.rows, group_bytes / kQ8_0GroupRows, pool.num_threads(), n);
    pool.ParallelForDynamic(0, w.rows, panel_rows, [&](int64_t lo, int64_t hi) {
      for (int64_t o = lo; o < hi; o += panel_rows) {
        const int64_t count = std::min(panel_rows, hi - o);
        const std::byte* panel = packed + o / kQ8_0GroupRows * group_bytes;
        const float* panel_bias = bias != nullptr ? bias + o : nullptr;
        if (level >= CpuKernelLevel::kAmx) {
          GemmQ8_0Amx(quantized, panel, count, panel_bias, y + o, w.rows);
        } else {
          GemmQ8_0Avx512(quantized, panel, count, panel_bias, y + o, w.rows);
        }
      }
    });
    return;
  }
  // Row-major weights at kAvx2: each panel packed per call into 8-row groups.
  const int64_t group_bytes = PackedQ8_0GroupBytesAvx2(w.cols);
  const int64_t panel_rows = Q8_0PanelRows(w.rows, group_bytes / 8, pool.num_threads(), n);
  pool.ParallelForDynamic(0, w.rows, panel_rows, [&](int64_t lo, int64_t hi) {
    thread_local std::vector<std::byte> packed;  // [panel_rows / 8][group_bytes]
    packed.resize((panel_rows + 7) / 8 * group_bytes);
    for (int64_t o = lo; o < hi; o += panel_rows) {
      const int64_t count = std::min(panel_rows, hi - o);
      PackQ8_0Avx2(w, o, count, packed.data());
      GemmQ8_0Avx2(quantized, packed.data(), count, bias != nullptr ? bias + o : nullptr, y + o,
                   w.rows);
    }
  });
}

void PrefillOwn(ThreadPool& pool, const Weight& w, const float* x, int n, float* y,
                const float* bias) {
  const int64_t cols = w.cols;
  // k-slices of 256: a 16-wide packed panel slice is 16 KiB and stays in L1 while every x row
  // passes over it.
  constexpr int64_t kSlice = 256;
  const int64_t panel_rows = PanelRows(cols, 16);
  pool.ParallelForDynamic(0, w.rows, panel_rows, [&](int64_t lo, int64_t hi) {
    thread_local std::vector<float> rows;
    thread_local std::vector<float> packed;
    rows.resize(panel_rows * cols);
    packed.resize(panel_rows * kSlice);
    for (int64_t o = lo; o < hi; o += panel_rows) {
      const int64_t count = std::min(panel_rows, hi - o);
      ConvertRowsAvx2(w, o, count, rows.data());
      for (int t = 0; t < n; ++t) {
        float* yt = y + t * w.rows + o;
        for (int64_t r = 0; r < count; ++r) yt[r] = bias != nullptr ? bias[o + r] : 0.0f;
      }
      const int64_t groups = (count + 15) / 16;
      for (int64_t k0 = 0; k0 < cols; k0 += kSlice) {
        const int64_t k_len = std::min(kSlice, cols - k0);
        // packed [groups][k_len][16]: 16 output features interleaved per k, zero past `count`.
        for (int64_t g = 0; g < groups; ++g) {
          float* dst = packed.data() + g * k_len * 16;
          for (int c = 0; c < 16; ++c) {
            const int64_t r = g * 16 + c;
            if (r < count) {
              const float* src = rows.data() + r * cols + k0;
              for (int64_t k = 0; k < k_len; ++k) dst[k * 16 + c] = src[k];
            } else {
              for (int64_t k = 0; k < k_len; ++k) dst[k * 16 + c] = 0.0f;
            }
          }
        }
        PackedGemmAvx2(x + k0, cols, n, packed.data(), k_len, count, y + o, w.rows);
      }
    }
  });
}

}  // namespace matmul_kernels

namespace cpu_kernels {

// Below this many rows of x, the small-batch kernels (weights streamed once, converted in
// registers) beat converting weight panels for sgemm. One core, F16, GFLOP/s, small batch vs
// sgemm: 1536x1536 n=32 75 vs 61, n=64 83 vs 93; 8960x1536 n=32 71 vs 60, n=64 80 vs 90;
// 1536x8960 n=32 80 vs 57, n=64 65 vs 86.
constexpr int kPrefillMinRows = 48;

// From this many rows of x, row-major Q8_0 weights (kAvx2) go through the int8 GEMM
// (MatMulQ8_0Int8), which packs weight panels, rather than the small-batch kernel, which
// streams them once per call. backend_bench MatMulAlt/Q8_0, one thread (CPU time, loaded
// machine), weight GB/s, q_o / down: GEMM 1.5 / 1.7 vs small batch 1.4 / 1.8 at n = 16, at
// n = 32 1.08 / 1.07 vs 0.87 / 1.03. It stops at kPrefillMinRows: vpmaddubsw needs vpsignb
// and vpmaddwd around it (4 instructions per 32 products and row), about the cost of f32
// FMAs, and OpenBLAS's sgemm on converted panels was faster at n = 512 (GFLOP/s per core,
// q_o / down: 132 / 119 vs 105 / 97).
// At kAvx512 Q8_0 weights are already packed (q8_0_groups.h) and the int8 GEMM serves every
// n: one pass over the weights for n <= 4 (decode), L2-sized panels reused by 4-row x tiles
// above (VNNI: 340 / 316 GFLOP/s per core at n = 512 against sgemm's 132 / 119).
constexpr int kQ8_0GemmMinRows = 16;

// Weight rows in chunks taken dynamically, about 8 per thread (multiples of 16, the kernels'
// tile heights divide it): on a shared machine a thread that loses its core for a while
// leaves its chunks to the others instead of holding up the whole op.
template <typename Fn>
void SplitRows(ThreadPool& pool, int64_t rows, const Fn& fn) {
  const int64_t chunk = std::max<int64_t>(16, rows / (8 * pool.num_threads()) / 16 * 16);
  pool.ParallelForDynamic(0, rows, chunk, fn);
}

void MatMul(ThreadPool& pool, CpuKernelLevel level, const Weight& w, const float* x, int n,
            float* y, const float* bias) {
  if (w.layout == WeightLayout::kQ8_0Groups16) {  // Q8_0 by construction
    matmul_kernels::MatMulQ8_0Int8(pool, level, w, x, n, y, bias);
    return;
  }
  // Row-major weights: at most the AVX2 kernels (the AVX-512 ones read the groups layout).
  level = std::min(level, CpuKernelLevel::kAvx2);
  const bool q8_0_simd = w.dtype == DType::kQ8_0 && level >= CpuKernelLevel::kAvx2;
  if (q8_0_simd && n >= kQ8_0GemmMinRows && n < kPrefillMinRows) {
    matmul_kernels::MatMulQ8_0Int8(pool, level, w, x, n, y, bias);
    return;
  }
  if (n >= kPrefillMinRows) {
    matmul_kernels::PrefillBlas(pool, level, w, x, n, y, bias);
    return;
  }
  if (q8_0_simd) {
    // The calling thread's buffer, shared with the workers through `quantized` (a lambda
    // naming the thread_local itself would see each worker's own, empty one).
    thread_local matmul_kernels::QuantizedX buffer;
    const matmul_kernels::QuantizedX& quantized = buffer;
    matmul_kernels::QuantizeXAvx2(x, n, w.cols, buffer);
    SplitRows(pool, w.rows, [&](int64_t lo, int64_t hi) {
      matmul_kernels::SmallBatchQ8_0Avx2(w, quantized, y, bias, lo, hi);
    });
    return;
  }
  SplitRows(pool, w.rows, [&](int64_t lo, int64_t hi) {
    if (level >= CpuKernelLevel::kAvx2) {
      matmul_kernels::SmallBatchAvx2(w, x, n, y, bias, lo, hi);
    } else {
      matmul_kernels::SmallBatchPortable(w, x, n, y, bias, lo, hi);
    }
  });
}

}  // namespace cpu_kernels
}  // namespace r1serve::engine
