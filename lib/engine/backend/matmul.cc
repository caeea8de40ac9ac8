// cpu_kernels::MatMul: picks a kernel by batch size and weight dtype and splits the weight's
// rows over the threads (each thread reads its own slice of the weights exactly once), plus
// the portable kernels of matmul_kernels.h.
#include <algorithm>
#include <mutex>
#include <vector>

#include "lib/engine/backend/cpu_kernels.h"
#include "lib/engine/backend/matmul_kernels.h"

#if R1SERVE_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace r1serve::engine {
namespace matmul_kernels {
namespace {

const std::byte* WeightRow(const Weight& w, int64_t row) {
  return static_cast<const std::byte*>(w.data) + row * RowBytes(w.dtype, w.cols);
}

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
  if (level == CpuKernelLevel::kAvx2) {
    ConvertRowsAvx2(w, row_lo, count, out);
  } else {
    ConvertRowsPortable(w, row_lo, count, out);
  }
}

}  // namespace

void SmallBatchPortable(const Weight& w, const float* x, int n, float* y, const float* bias,
                        int64_t row_lo, int64_t row_hi) {
  const int64_t cols = w.cols;
  std::vector<float> row(cols);
  for (int64_t o = row_lo; o < row_hi; ++o) {
    DequantizeRow(w.dtype, WeightRow(w, o), cols, row.data());
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
    DequantizeRow(w.dtype, WeightRow(w, row_lo + r), w.cols, out + r * w.cols);
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
  if (level == CpuKernelLevel::kAvx2) {
    PrefillOwn(pool, w, x, n, y, bias);
  } else {
    pool.ParallelFor(0, w.rows, 16,
                     [&](int64_t lo, int64_t hi) { SmallBatchPortable(w, x, n, y, bias, lo, hi); });
  }
#endif
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
  if (n >= kPrefillMinRows) {
    matmul_kernels::PrefillBlas(pool, level, w, x, n, y, bias);
    return;
  }
  if (level == CpuKernelLevel::kAvx2 && w.dtype == DType::kQ8_0) {
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
    if (level == CpuKernelLevel::kAvx2) {
      matmul_kernels::SmallBatchAvx2(w, x, n, y, bias, lo, hi);
    } else {
      matmul_kernels::SmallBatchPortable(w, x, n, y, bias, lo, hi);
    }
  });
}

}  // namespace cpu_kernels
}  // namespace r1serve::engine
