// The matmul kernel workbench (llm.c style): each kernel computes a slice of
// y[n, w.rows] = x[n, w.cols] · w^T for weight rows [row_lo, row_hi) on the calling thread, in
// a portable version and AVX2 versions; cpu_kernels::MatMul picks one and splits rows over
// threads. reference::MatMul (reference_ops.h) is the definition; backend_ops_test.cc checks
// every version through the backend, backend_bench.cc times them.
//
//   // Decode (small n): weights streamed once, x reused from cache.
//   matmul_kernels::SmallBatchAvx2(w, x, n, y, bias, row_lo, row_hi);
//   // Q8_0: x quantized once per call, then integer dot products.
//   matmul_kernels::QuantizedX qx;
//   matmul_kernels::QuantizeXAvx2(x, n, w.cols, qx);
//   matmul_kernels::SmallBatchQ8_0Avx2(w, qx, y, bias, row_lo, row_hi);
//   // Prefill (large n): whole matmuls, threads included.
//   matmul_kernels::PrefillBlas(pool, level, w, x, n, y, bias);
//
// Shapes: x [n, cols] f32 row-major; y [n, w.rows] (row stride w.rows); bias [w.rows] f32 or
// null. Every kernel writes exactly y[:, row_lo:row_hi].
#pragma once

#include <cstdint>
#include <vector>

#include "lib/engine/backend/backend.h"
#include "lib/engine/backend/cpu_kernels.h"
#include "lib/engine/backend/thread_pool.h"

namespace r1serve::engine::matmul_kernels {

// Version 0, any CPU: dequantize one weight row into a float buffer, dot it with every x row.
void SmallBatchPortable(const Weight& w, const float* x, int n, float* y, const float* bias,
                        int64_t row_lo, int64_t row_hi);

// Version 1, AVX2 (F32, F16, BF16): register tiles of up to 4 weight rows x 4 x rows, weights
// converted to f32 in registers (F16 with vcvtph2ps, BF16 with a 16-bit shift).
void SmallBatchAvx2(const Weight& w, const float* x, int n, float* y, const float* bias,
                    int64_t row_lo, int64_t row_hi);

// x quantized to Q8_0-like blocks of 32: int8 values and an f32 scale per block (f32, not
// fp16 as in the file format: it is a temporary, and f32 loses nothing).
struct QuantizedX {
  int n = 0;
  int64_t cols = 0;
  std::vector<int8_t> values;  // [n, cols] (cols is a multiple of 32)
  std::vector<float> scales;   // [n, cols / 32]
};
void QuantizeXAvx2(const float* x, int n, int64_t cols, QuantizedX& out);

// Version 1, AVX2 (Q8_0): integer dot products of int8 blocks (vpmaddubsw / vpmaddwd), one f32
// FMA per block and pair of rows.
void SmallBatchQ8_0Avx2(const Weight& w, const QuantizedX& x, float* y, const float* bias,
                        int64_t row_lo, int64_t row_hi);

// Converts weight rows [row_lo, row_lo + count) to f32, [count, w.cols] (for the prefill path,
// which converts weight panels once and reuses them for every token).
void ConvertRowsPortable(const Weight& w, int64_t row_lo, int64_t count, float* out);
void ConvertRowsAvx2(const Weight& w, int64_t row_lo, int64_t count, float* out);

// Own prefill micro-kernel (the alternative to OpenBLAS, see matmul.cc):
// y[n, ldy] columns [0, cols_out) += x[n, k_len (row stride ldx)] · panel^T where `panel` is
// the packed f32 weight slice [ceil(cols_out / 16)][k_len][16] (16 output features
// interleaved per k, zero-padded past cols_out).
void PackedGemmAvx2(const float* x, int64_t ldx, int n, const float* panel, int64_t k_len,
                    int64_t cols_out, float* y, int64_t ldy);

// The two prefill (large n) strategies, whole matmuls split over the pool's threads. Both
// convert a panel of weight rows to f32 and reuse it for all n rows:
// - Blas: OpenBLAS sgemm on each panel, one single-threaded sgemm per pool thread (`level`
//   picks the conversion kernel). Without OpenBLAS in the build: Own at kAvx2, else
//   SmallBatchPortable.
// - Own: PackedGemmAvx2 on 16-wide packed panels (AVX2 only).
void PrefillBlas(ThreadPool& pool, CpuKernelLevel level, const Weight& w, const float* x, int n,
                 float* y, const float* bias);
void PrefillOwn(ThreadPool& pool, const Weight& w, const float* x, int n, float* y,
                const float* bias);

}  // namespace r1serve::engine::matmul_kernels
