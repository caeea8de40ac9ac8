// The CPU backend's heavy kernels (matmul, attention), each in a portable version and, where
// the CPU has AVX2 + FMA + F16C, a fast version, behind one entry point per op that splits the
// work over a ThreadPool. The portable versions are plain C++ that any compiler builds for any
// target; reference_ops.h stays the definition both are checked against. Kernel workbenches:
// matmul_kernels.h, attention_kernels.h, elementwise_kernels.h.
//
//   ThreadPool pool(2);
//   const CpuKernelLevel level = DetectCpuKernelLevel();
//   cpu_kernels::MatMul(pool, level, w, x, n, y, bias_f32_or_null);
//
// Build decision: the library is compiled with the project's default flags (x86-64 baseline),
// and the AVX2 kernels live in *_avx2.cc files whose functions carry
// __attribute__((target("avx2,fma,f16c"))); DetectCpuKernelLevel (cpuid) picks them at run
// time; the AVX-512 (and AMX) kernels likewise live in *_avx512.cc files with
// target("avx512f,avx512bw,avx512vl,avx512vnni,...") functions. Per-function target
// attributes rather than -mavx2 on whole files, because a file compiled with -mavx2 can emit
// AVX2 code into inline functions from headers (std::vector, std::min...) that the linker may
// then pick for the whole program, which would crash on a CPU without AVX2. Off x86-64 these
// files compile to stubs that are never called.
#pragma once

#include <cstdint>

#include "lib/engine/backend/backend.h"
#include "lib/engine/backend/thread_pool.h"

namespace r1serve::engine {

// Ordered: a level runs every kernel of the levels below it (code tests `level >= kAvx2`).
enum class CpuKernelLevel {
  kPortable,  // plain C++
  kAvx2,      // AVX2 + FMA + F16C (x86-64-v3)
  kAvx512,    // kAvx2 + AVX-512 F/BW/VL + VNNI (Ice Lake, Zen 4 and later): Q8_0 int8 kernels
  kAmx,       // kAvx512 + AMX-INT8 (Sapphire Rapids and later), tile data enabled by the OS
};

// The best level this CPU runs, capped by the environment variable R1SERVE_CPU_KERNEL_LEVEL
// ("portable", "avx2", "avx512" or "amx"; read once) so that a whole process (an engine test, a
// benchmark) can be run on the lower levels' kernels on a machine that has the higher ones.
CpuKernelLevel DetectCpuKernelLevel();

// "portable", "avx2", "avx512", "amx".
const char* CpuKernelLevelName(CpuKernelLevel level);

namespace cpu_kernels {

// y[n, w.rows] = x[n, w.cols] · w^T (+ bias[w.rows] when not null, f32).
void MatMul(ThreadPool& pool, CpuKernelLevel level, const Weight& w, const float* x, int n,
            float* y, const float* bias);

// One layer's paged cache, [num_blocks, num_kv_heads, block_size, head_dim] each, spec.dtype.
struct KvLayer {
  const KvCacheSpec* spec = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
};

// Backend::Attention on one layer's cache.
void Attention(ThreadPool& pool, CpuKernelLevel level, const KvLayer& cache, const float* q,
               const BatchLayout& batch, int num_heads, float scale, float* out);

}  // namespace cpu_kernels
}  // namespace r1serve::engine
