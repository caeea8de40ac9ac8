// AVX2 + FMA + F16C attention kernel (see attention_kernels.h). Every function here carries
// the target attribute and is only called after DetectCpuKernelLevel() found the features.
#if defined(__x86_64__)

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "lib/engine/backend/attention_kernels.h"
#include "lib/engine/backend/avx2_math.h"

namespace r1serve::engine::attention_kernels {
namespace {

constexpr int kTile = 16;  // positions per tile: two 8-lane score vectors

// Four dot products q·k0..q·k3 of length head_dim (a multiple of 8): q is loaded once per
// step for four keys; the four sums are reduced together with horizontal adds.
R1_AVX2 inline __m128 Dot4(const float* q, const float* const* k, int head_dim) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int d = 0; d < head_dim; d += 8) {
    const __m256 qv = _mm256_loadu_ps(q + d);
    a0 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k[0] + d), a0);
    a1 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k[1] + d), a1);
    a2 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k[2] + d), a2);
    a3 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k[3] + d), a3);
  }
  const __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
  return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

R1_AVX2 void ConvertHalfRow(const uint16_t* src, int head_dim, float* dst) {
  for (int d = 0; d < head_dim; d += 8) {
    _mm256_storeu_ps(dst + d,
                     _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + d))));
  }
}

// out_q = out_q * correction + Σ_j weights[j] · v[j], j < valid, for one query vector;
// 32 dimensions (4 accumulators) at a time, then 8 at a time.
R1_AVX2 inline void AccumulateValues(float* o, float correction, const float* weights, int valid,
                                     const float* const* v, int head_dim) {
  const __m256 c = _mm256_set1_ps(correction);
  int d = 0;
  for (; d + 32 <= head_dim; d += 32) {
    __m256 o0 = _mm256_mul_ps(c, _mm256_loadu_ps(o + d));
    __m256 o1 = _mm256_mul_ps(c, _mm256_loadu_ps(o + d + 8));
    __m256 o2 = _mm256_mul_ps(c, _mm256_loadu_ps(o + d + 16));
    __m256 o3 = _mm256_mul_ps(c, _mm256_loadu_ps(o + d + 24));
    for (int j = 0; j < valid; ++j) {
      const __m256 w = _mm256_broadcast_ss(weights + j);
      const float* vj = v[j] + d;
      o0 = _mm256_fmadd_ps(w, _mm256_loadu_ps(vj), o0);
      o1 = _mm256_fmadd_ps(w, _mm256_loadu_ps(vj + 8), o1);
      o2 = _mm256_fmadd_ps(w, _mm256_loadu_ps(vj + 16), o2);
      o3 = _mm256_fmadd_ps(w, _mm256_loadu_ps(vj + 24), o3);
    }
    _mm256_storeu_ps(o + d, o0);
    _mm256_storeu_ps(o + d + 8, o1);
    _mm256_storeu_ps(o + d + 16, o2);
    _mm256_storeu_ps(o + d + 24, o3);
  }
  for (; d < head_dim; d += 8) {
    __m256 o0 = _mm256_mul_ps(c, _mm256_loadu_ps(o + d));
    for (int j = 0; j < valid; ++j) {
      o0 = _mm256_fmadd_ps(_mm256_broadcast_ss(weights + j), _mm256_loadu_ps(v[j] + d), o0);
    }
    _mm256_storeu_ps(o + d, o0);
  }
}

// Dot products of two queries with the same four keys: 8 accumulators, each key load serves
// both queries.
R1_AVX2 inline void Dot2x4(const float* q0, const float* q1, const float* const* k, int head_dim,
                           float* out0, float* out1) {
  __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a03 = a00;
  __m256 a10 = a00, a11 = a00, a12 = a00, a13 = a00;
  for (int d = 0; d < head_dim; d += 8) {
    const __m256 x0 = _mm256_loadu_ps(q0 + d), x1 = _mm256_loadu_ps(q1 + d);
    const __m256 k0 = _mm256_loadu_ps(k[0] + d), k1 = _mm256_loadu_ps(k[1] + d);
    const __m256 k2 = _mm256_loadu_ps(k[2] + d), k3 = _mm256_loadu_ps(k[3] + d);
    a00 = _mm256_fmadd_ps(x0, k0, a00);
    a01 = _mm256_fmadd_ps(x0, k1, a01);
    a02 = _mm256_fmadd_ps(x0, k2, a02);
    a03 = _mm256_fmadd_ps(x0, k3, a03);
    a10 = _mm256_fmadd_ps(x1, k0, a10);
    a11 = _mm256_fmadd_ps(x1, k1, a11);
    a12 = _mm256_fmadd_ps(x1, k2, a12);
    a13 = _mm256_fmadd_ps(x1, k3, a13);
  }
  const __m256 t0 = _mm256_hadd_ps(_mm256_hadd_ps(a00, a01), _mm256_hadd_ps(a02, a03));
  const __m256 t1 = _mm256_hadd_ps(_mm256_hadd_ps(a10, a11), _mm256_hadd_ps(a12, a13));
  _mm_store_ps(out0, _mm_add_ps(_mm256_castps256_ps128(t0), _mm256_extractf128_ps(t0, 1)));
  _mm_store_ps(out1, _mm_add_ps(_mm256_castps256_ps128(t1), _mm256_extractf128_ps(t1, 1)));
}

// Online softmax over one tile for one query: masks scores[j >= valid] (the causal limit),
// updates the running max and sum, turns scores into weights exp(s - max) in place, and
// returns the factor that rescales what was accumulated before (0 on the first tile).
R1_AVX2 inline float SoftmaxTile(float* scores, int valid, float& running_max, float& running_sum) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i limit = _mm256_set1_epi32(valid);
  const __m256 neg_inf = _mm256_set1_ps(-INFINITY);
  const __m256 s0 = _mm256_blendv_ps(neg_inf, _mm256_load_ps(scores),
                                     _mm256_castsi256_ps(_mm256_cmpgt_epi32(limit, lane)));
  const __m256 s1 = _mm256_blendv_ps(
      neg_inf, _mm256_load_ps(scores + 8),
      _mm256_castsi256_ps(_mm256_cmpgt_epi32(limit, _mm256_add_epi32(lane, _mm256_set1_epi32(8)))));
  const float new_max = std::max(running_max, avx2::HorizontalMax(_mm256_max_ps(s0, s1)));
  const float correction = std::exp(running_max - new_max);
  running_max = new_max;
  const __m256 m = _mm256_set1_ps(new_max);
  const __m256 w0 = avx2::Exp(_mm256_sub_ps(s0, m));
  const __m256 w1 = avx2::Exp(_mm256_sub_ps(s1, m));
  running_sum = running_sum * correction + avx2::HorizontalSum(_mm256_add_ps(w0, w1));
  _mm256_store_ps(scores, w0);
  _mm256_store_ps(scores + 8, w1);
  return correction;
}

// AccumulateValues for two queries whose outputs are adjacent ([2, head_dim] at o): each V
// load serves both. Weights of positions past a query's causal limit are 0.
R1_AVX2 inline void AccumulateValues2(float* o, const float* correction,
                                      const float (*weights)[kTile], int valid,
                                      const float* const* v, int head_dim) {
  const __m256 c0 = _mm256_set1_ps(correction[0]), c1 = _mm256_set1_ps(correction[1]);
  float* p0 = o;
  float* p1 = o + head_dim;
  int d = 0;
  for (; d + 24 <= head_dim; d += 24) {
    __m256 o00 = _mm256_mul_ps(c0, _mm256_loadu_ps(p0 + d));
    __m256 o01 = _mm256_mul_ps(c0, _mm256_loadu_ps(p0 + d + 8));
    __m256 o02 = _mm256_mul_ps(c0, _mm256_loadu_ps(p0 + d + 16));
    __m256 o10 = _mm256_mul_ps(c1, _mm256_loadu_ps(p1 + d));
    __m256 o11 = _mm256_mul_ps(c1, _mm256_loadu_ps(p1 + d + 8));
    __m256 o12 = _mm256_mul_ps(c1, _mm256_loadu_ps(p1 + d + 16));
    for (int j = 0; j < valid; ++j) {
      const __m256 w0 = _mm256_broadcast_ss(weights[0] + j);
      const __m256 w1 = _mm256_broadcast_ss(weights[1] + j);
      const float* vj = v[j] + d;
      const __m256 v0 = _mm256_loadu_ps(vj), v1 = _mm256_loadu_ps(vj + 8);
      const __m256 v2 = _mm256_loadu_ps(vj + 16);
      o00 = _mm256_fmadd_ps(w0, v0, o00);
      o01 = _mm256_fmadd_ps(w0, v1, o01);
      o02 = _mm256_fmadd_ps(w0, v2, o02);
      o10 = _mm256_fmadd_ps(w1, v0, o10);
      o11 = _mm256_fmadd_ps(w1, v1, o11);
      o12 = _mm256_fmadd_ps(w1, v2, o12);
    }
    _mm256_storeu_ps(p0 + d, o00);
    _mm256_storeu_ps(p0 + d + 8, o01);
    _mm256_storeu_ps(p0 + d + 16, o02);
    _mm256_storeu_ps(p1 + d, o10);
    _mm256_storeu_ps(p1 + d + 8, o11);
    _mm256_storeu_ps(p1 + d + 16, o12);
  }
  for (; d < head_dim; d += 8) {
    __m256 o0 = _mm256_mul_ps(c0, _mm256_loadu_ps(p0 + d));
    __m256 o1 = _mm256_mul_ps(c1, _mm256_loadu_ps(p1 + d));
    for (int j = 0; j < valid; ++j) {
      const __m256 vj = _mm256_loadu_ps(v[j] + d);
      o0 = _mm256_fmadd_ps(_mm256_broadcast_ss(weights[0] + j), vj, o0);
      o1 = _mm256_fmadd_ps(_mm256_broadcast_ss(weights[1] + j), vj, o1);
    }
    _mm256_storeu_ps(p0 + d, o0);
    _mm256_storeu_ps(p1 + d, o1);
  }
}

}  // namespace

R1_AVX2 void RunItemAvx2(const AttentionItem& item, const float* q, int num_heads, float* out,
                         std::vector<float>& scratch) {
  const KvCacheSpec& spec = *item.cache->spec;
  const SequenceSlice& seq = *item.seq;
  const int head_dim = spec.head_dim;
  const int group = item.group;
  const int nq = item.num_rows * group;  // query vectors: row-major (row, group head)
  const int first_position = seq.start_position + (item.first_row - seq.first_row);
  const int last_position = first_position + item.num_rows - 1;

  // scratch: queries (pre-scaled) [nq, D] | outputs [nq, D] | K tile [16, D] | V tile [16, D]
  //          | a zero row [D] | running max [nq] | running sum [nq]
  scratch.resize(static_cast<size_t>(nq) * head_dim * 2 + (2 * kTile + 1) * head_dim + 2 * nq);
  float* queries = scratch.data();
  float* outputs = queries + nq * head_dim;
  float* k_tile = outputs + nq * head_dim;
  float* v_tile = k_tile + kTile * head_dim;
  float* zero_row = v_tile + kTile * head_dim;
  float* running_max = zero_row + head_dim;
  float* running_sum = running_max + nq;
  std::fill_n(zero_row, head_dim, 0.0f);
  std::fill_n(outputs, nq * head_dim, 0.0f);
  std::fill_n(running_max, nq, -INFINITY);
  std::fill_n(running_sum, nq, 0.0f);
  const __m256 scale = _mm256_set1_ps(item.scale);
  for (int r = 0; r < item.num_rows; ++r) {
    const float* src =
        q + (int64_t{item.first_row + r} * num_heads + int64_t{item.kv_head} * group) * head_dim;
    float* dst = queries + int64_t{r} * group * head_dim;
    for (int i = 0; i < group * head_dim; i += 8) {
      _mm256_storeu_ps(dst + i, _mm256_mul_ps(scale, _mm256_loadu_ps(src + i)));
    }
  }

  const bool f16 = spec.dtype == DType::kF16;
  const size_t element_bytes = f16 ? 2 : 4;
  const auto* k_base = static_cast<const std::byte*>(item.cache->k);
  const auto* v_base = static_cast<const std::byte*>(item.cache->v);
  const float* k_rows[kTile];
  const float* v_rows[kTile];
  alignas(32) float scores[2][kTile];

  for (int p0 = 0; p0 <= last_position; p0 += kTile) {
    const int tile_len = std::min(kTile, last_position - p0 + 1);
    // Gather the tile's K/V rows through the block table; F16 rows are converted once here
    // for all nq query vectors, F32 rows are used in place.
    for (int j = 0; j < kTile; ++j) {
      if (j >= tile_len) {
        k_rows[j] = v_rows[j] = zero_row;
        continue;
      }
      const int p = p0 + j;
      const int64_t block = seq.block_table[p / spec.block_size];
      const size_t index = static_cast<size_t>(
          ((block * spec.num_kv_heads + item.kv_head) * spec.block_size + p % spec.block_size) *
          head_dim);
      if (f16) {
        ConvertHalfRow(reinterpret_cast<const uint16_t*>(k_base + index * element_bytes), head_dim,
                       k_tile + j * head_dim);
        ConvertHalfRow(reinterpret_cast<const uint16_t*>(v_base + index * element_bytes), head_dim,
                       v_tile + j * head_dim);
        k_rows[j] = k_tile + j * head_dim;
        v_rows[j] = v_tile + j * head_dim;
      } else {
        k_rows[j] = reinterpret_cast<const float*>(k_base + index * element_bytes);
        v_rows[j] = reinterpret_cast<const float*>(v_base + index * element_bytes);
      }
    }
    // Query vectors two at a time: each K and V load then serves two FMAs.
    for (int qi = 0; qi < nq; qi += 2) {
      const int pair = std::min(2, nq - qi);
      int valid[2] = {0, 0};  // causal limit of each query in this tile
      for (int i = 0; i < pair; ++i) {
        valid[i] = std::min(tile_len, first_position + (qi + i) / group - p0 + 1);
      }
      const int pair_valid = std::max(valid[0], valid[1]);
      if (pair_valid <= 0) continue;
      const float* q0 = queries + int64_t{qi} * head_dim;
      for (int j = 0; j < kTile; j += 4) {
        if (j >= pair_valid) {
          _mm_store_ps(scores[0] + j, _mm_set1_ps(-INFINITY));
          _mm_store_ps(scores[1] + j, _mm_set1_ps(-INFINITY));
        } else if (pair == 2) {
          Dot2x4(q0, q0 + head_dim, k_rows + j, head_dim, scores[0] + j, scores[1] + j);
        } else {
          _mm_store_ps(scores[0] + j, Dot4(q0, k_rows + j, head_dim));
        }
      }
      float correction[2] = {1.0f, 1.0f};
      for (int i = 0; i < pair; ++i) {
        if (valid[i] > 0) {
          correction[i] =
              SoftmaxTile(scores[i], valid[i], running_max[qi + i], running_sum[qi + i]);
        } else {
          // This query's row precedes the tile (the other one of the pair does not): it keeps
          // its state, weights 0.
          std::fill_n(scores[i], kTile, 0.0f);
        }
      }
      if (pair == 2) {
        AccumulateValues2(outputs + int64_t{qi} * head_dim, correction, scores, pair_valid, v_rows,
                          head_dim);
      } else {
        AccumulateValues(outputs + int64_t{qi} * head_dim, correction[0], scores[0], valid[0],
                         v_rows, head_dim);
      }
    }
  }

  for (int qi = 0; qi < nq; ++qi) {
    const int r = qi / group, g = qi % group;
    float* dst =
        out +
        (int64_t{item.first_row + r} * num_heads + int64_t{item.kv_head} * group + g) * head_dim;
    const __m256 inverse = _mm256_set1_ps(1.0f / running_sum[qi]);
    for (int d = 0; d < head_dim; d += 8) {
      _mm256_storeu_ps(
          dst + d, _mm256_mul_ps(inverse, _mm256_loadu_ps(outputs + int64_t{qi} * head_dim + d)));
    }
  }
}

}  // namespace r1serve::engine::attention_kernels

#else  // !defined(__x86_64__)

#include <cstdlib>

#include "lib/engine/backend/attention_kernels.h"

namespace r1serve::engine::attention_kernels {

// Off x86-64 the AVX2 kernel does not exist; DetectCpuKernelLevel() never returns kAvx2 there,
// so this is never called.
void RunItemAvx2(const AttentionItem&, const float*, int, float*, std::vector<float>&) {
  std::abort();
}

}  // namespace r1serve::engine::attention_kernels

#endif  // defined(__x86_64__)
