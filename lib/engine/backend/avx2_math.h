// Small AVX2 building blocks shared by the *_avx2.cc kernel files: a vectorized exp and
// horizontal reductions. Include only from files whose callers check
// DetectCpuKernelLevel() >= CpuKernelLevel::kAvx2 first (cpu_kernels.h explains the build).
//
//   R1_AVX2 void Kernel(...) { __m256 e = avx2::Exp(x); float s = avx2::HorizontalSum(e); }
#pragma once

#if !defined(__x86_64__)
#error "avx2_math.h is for x86-64 only; guard its includer with #if defined(__x86_64__)"
#endif

#include <immintrin.h>

// Compiles a function for AVX2 + FMA + F16C whatever the file's flags.
#define R1_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace r1serve::engine::avx2 {

// exp(x) for 8 floats: 2^n * e^r with n = round(x / ln 2), |r| <= ln(2) / 2, e^r by Cephes'
// degree-6 polynomial (relative error ~2 ulp). x below -87 (including -inf, a masked score)
// gives 0; x above 88 saturates at e^88 (callers never pass more: softmax subtracts the max,
// silu passes -gate, which overflows only where the result is 0 anyway).
R1_AVX2 inline __m256 Exp(__m256 x) {
  const __m256 underflow = _mm256_cmp_ps(x, _mm256_set1_ps(-87.0f), _CMP_LT_OQ);
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // r = x - n ln2, with ln2 split in two so that n * ln2_hi is exact.
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  // 2^n: n + 127 into the exponent field (n in [-126, 127] after the clamp).
  const __m256i exponent =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(underflow, _mm256_mul_ps(p, _mm256_castsi256_ps(exponent)));
}

R1_AVX2 inline float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

R1_AVX2 inline float HorizontalMax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

}  // namespace r1serve::engine::avx2
