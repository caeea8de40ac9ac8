// AVX2 elementwise kernels (see elementwise_kernels.h).
#if defined(__x86_64__)

#include <immintrin.h>

#include <cmath>

#include "lib/engine/backend/avx2_math.h"
#include "lib/engine/backend/elementwise_kernels.h"
#include "lib/engine/format/dtype.h"

namespace r1serve::engine::elementwise_kernels {

R1_AVX2 void SwiGluAvx2(const float* gate, const float* up, int64_t n, float* out) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    const __m256 e = avx2::Exp(_mm256_xor_ps(g, sign));  // exp(-g)
    const __m256 silu = _mm256_div_ps(g, _mm256_add_ps(one, e));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
  }
  for (; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

R1_AVX2 float SumSquaresAvx2(const float* x, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
    const __m256 v2 = _mm256_loadu_ps(x + i + 16), v3 = _mm256_loadu_ps(x + i + 24);
    a0 = _mm256_fmadd_ps(v0, v0, a0);
    a1 = _mm256_fmadd_ps(v1, v1, a1);
    a2 = _mm256_fmadd_ps(v2, v2, a2);
    a3 = _mm256_fmadd_ps(v3, v3, a3);
  }
  float sum = avx2::HorizontalSum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  for (; i < n; ++i) sum += x[i] * x[i];
  return sum;
}

R1_AVX2 void ScaleByWeightAvx2(const float* x, float scale, const float* weight, int64_t n,
                               float* out) {
  const __m256 s = _mm256_set1_ps(scale);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), s),
                                            _mm256_loadu_ps(weight + i)));
  }
  for (; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

R1_AVX2 void FloatToHalfAvx2(const float* x, int64_t n, uint16_t* out) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  }
  for (; i < n; ++i) out[i] = FloatToHalf(x[i]);
}

}  // namespace r1serve::engine::elementwise_kernels

#else  // !defined(__x86_64__)

#include <cstdlib>

#include "lib/engine/backend/elementwise_kernels.h"

namespace r1serve::engine::elementwise_kernels {

// Off x86-64 the AVX2 kernels do not exist; DetectCpuKernelLevel() never returns kAvx2 there,
// so these are never called.
void SwiGluAvx2(const float*, const float*, int64_t, float*) { std::abort(); }
float SumSquaresAvx2(const float*, int64_t) { std::abort(); }
void ScaleByWeightAvx2(const float*, float, const float*, int64_t, float*) { std::abort(); }
void FloatToHalfAvx2(const float*, int64_t, uint16_t*) { std::abort(); }

}  // namespace r1serve::engine::elementwise_kernels

#endif  // defined(__x86_64__)
