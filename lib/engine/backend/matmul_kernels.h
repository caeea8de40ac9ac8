// The matmul kernel workbench (llm.c style): each kernel computes a slice of
// y[n, w.rows] = x[n, w.cols] · w^T for weight rows [row_lo, row_hi) on the calling thread, in
// a portable version and AVX2 / AVX-512 / AMX versions; cpu_kernels::MatMul picks one and
// splits rows over threads. reference::MatMul (reference_ops.h) is the definition;
// backend_ops_test.cc checks every version through the backend (and the int8 Q8_0 kernels
// against their scalar definition, SmallBatchQ8_0Portable), backend_bench.cc times them.
//
//   // Decode (small n): weights streamed once, x reused from cache.
//   matmul_kernels::SmallBatchAvx2(w, x, n, y, bias, row_lo, row_hi);
//   // Q8_0 (row-major, AVX2): x quantized once per call, then integer dot products.
//   matmul_kernels::QuantizedX qx;
//   matmul_kernels::QuantizeXAvx2(x, n, w.cols, qx);
//   matmul_kernels::SmallBatchQ8_0Avx2(w, qx, y, bias, row_lo, row_hi);
//   // Whole matmuls, threads included.
//   matmul_kernels::PrefillBlas(pool, level, w, x, n, y, bias);     // F32 / F16 / BF16, large n
//   matmul_kernels::MatMulQ8_0Int8(pool, level, w, x, n, y, bias);  // Q8_0, int8 GEMM
//
// Shapes: x [n, cols] f32 row-major; y [n, w.rows] (row stride w.rows); bias [w.rows] f32 or
// null. Every kernel writes exactly y[:, row_lo:row_hi]. The portable kernels read weights in
// any layout (backend.h WeightLayout); the AVX2 ones need row-major weights, the AVX-512 /
// AMX ones the Q8_0 groups layout.
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
// fp16 as in the file format: it is a temporary, and f32 loses nothing). Values are
// round-to-nearest-even(x / d) with d = amax(block) / 127, so within [-127, 127]; every
// quantizer below gives bit-identical results (the kernels' tests rely on it).
struct QuantizedX {
  int n = 0;
  int64_t cols = 0;
  std::vector<int8_t> values;  // [n, cols] (cols is a multiple of 32)
  std::vector<float> scales;   // [n, cols / 32]
  // [n, cols / 32] sum of each block's 32 values: the AVX-512 kernels multiply w + 128
  // (unsigned) by x (vpdpbusd is unsigned x signed) and subtract 128 * sum.
  std::vector<int32_t> sums;
};
// Sizes `out` for n rows of `cols`; then the Rows functions fill rows [row_lo, row_hi) (so
// that threads can share the work), the X functions size and fill all rows.
void ResizeQuantizedX(int n, int64_t cols, QuantizedX& out);
void QuantizeRowsPortable(const float* x, int row_lo, int row_hi, QuantizedX& out);
void QuantizeRowsAvx2(const float* x, int row_lo, int row_hi, QuantizedX& out);
void QuantizeXAvx2(const float* x, int n, int64_t cols, QuantizedX& out);

// Version 0 of the int8 path (Q8_0, either layout), any CPU: the definition the SIMD int8
// kernels are checked against: per block, the exact integer dot product of w and quantized x,
// times both scales, summed in f32 in block order.
void SmallBatchQ8_0Portable(const Weight& w, const QuantizedX& x, float* y, const float* bias,
                            int64_t row_lo, int64_t row_hi);

// Version 1, AVX2 (Q8_0): integer dot products of int8 blocks (vpmaddubsw / vpmaddwd), one f32
// FMA per block and pair of rows.
void SmallBatchQ8_0Avx2(const Weight& w, const QuantizedX& x, float* y, const float* bias,
                        int64_t row_lo, int64_t row_hi);

// The int8 GEMM for Q8_0 weights in an interleaved layout of groups of rows, register-blocked
// micro-kernels multiplying x tiles by them:
// - AVX-512 VNNI: the Q8_0 groups layout (q8_0_groups.h), made once at upload by
//   PackQ8_0Avx512 (rows [row_lo, row_lo + count) of a row-major weight into
//   ceil(count / 16) groups): one zmm holds 4 k of 16 rows, made unsigned (w + 128) as it is
//   loaded, and vpdpbusd against 4 bytes of an x row broadcast adds 64 products (then the
//   128 * sum(x) correction). Tile: up to 4 x rows x 32 weight rows, 8 int32 + 8 f32 accumulators.
// - AVX2: groups of 8 rows of a row-major weight packed per call: per block 8 f32 scales,
//   then [8 (k / 4)][8 rows][4 bytes] (one ymm per 4 k); signed x signed through vpsignb +
//   vpmaddubsw + vpmaddwd. Tile: 4 x rows x 8 weight rows. That layout is private to
//   matmul_q8_0_avx2.cc.
void PackQ8_0Avx512(const Weight& w, int64_t row_lo, int64_t count, std::byte* packed);
// y[n, ldy] columns [0, count) = x · panel^T (+ bias[count] when not null), x quantized, for
// the `count` weight rows of the groups starting at `packed`.
void GemmQ8_0Avx512(const QuantizedX& x, const std::byte* packed, int64_t count, const float* bias,
                    float* y, int64_t ldy);
// AMX-INT8 on the AVX-512 packing: whole tiles of 16 x rows (the last n % 16 rows through
// the VNNI micro-kernel): per block one tdpbssd (x tile 16 x 32 signed bytes, the group's
// block as B, signed), the int32 tile stored and scaled into 16 f32 zmm accumulators.
void GemmQ8_0Amx(const QuantizedX& x, const std::byte* packed, int64_t count, const float* bias,
                 float* y, int64_t ldy);
int64_t PackedQ8_0GroupBytesAvx2(int64_t cols);
void PackQ8_0Avx2(const Weight& w, int64_t row_lo, int64_t count, std::byte* packed);
void GemmQ8_0Avx2(const QuantizedX& x, const std::byte* packed, int64_t count, const float* bias,
                  float* y, int64_t ldy);

// The whole int8 matmul for Q8_0 weights, threads included: quantizes x (split over
// threads), then threads take panels of weight rows and multiply them: groups-layout weights
// at kAvx512 / kAmx in place, row-major ones at kAvx2 packed per panel; kPortable (and a
// groups-layout weight below kAvx512) runs SmallBatchQ8_0Portable.
void MatMulQ8_0Int8(ThreadPool& pool, CpuKernelLevel level, const Weight& w, const float* x, int n,
                    float* y, const float* bias);

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
