#include "lib/engine/backend/reference_ops.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include "lib/engine/backend/q8_0_groups.h"

namespace r1serve::engine::reference {
namespace {

// Element `index` of one layer's cache, [num_blocks, num_kv_heads, block_size, head_dim].
size_t CacheIndex(const KvCacheSpec& spec, int64_t slot, int kv_head, int d) {
  const int64_t block = slot / spec.block_size;
  const int64_t offset = slot % spec.block_size;
  return static_cast<size_t>(
      ((block * spec.num_kv_heads + kv_head) * spec.block_size + offset) * spec.head_dim + d);
}

float LoadCache(const KvCacheSpec& spec, const void* cache, size_t index) {
  if (spec.dtype == DType::kF16) return HalfToFloat(static_cast<const uint16_t*>(cache)[index]);
  return static_cast<const float*>(cache)[index];
}

void StoreCache(const KvCacheSpec& spec, void* cache, size_t index, float value) {
  if (spec.dtype == DType::kF16) {
    static_cast<uint16_t*>(cache)[index] = FloatToHalf(value);
  } else {
    static_cast<float*>(cache)[index] = value;
  }
}

}  // namespace

std::vector<float> VectorToF32(const Weight& weight) {
  std::vector<float> out(weight.rows * weight.cols);
  for (int64_t r = 0; r < weight.rows; ++r) {
    DequantizeWeightRow(weight, r, out.data() + r * weight.cols);
  }
  return out;
}

void Embed(const Weight& table, std::span<const int32_t> ids, float* out) {
  for (size_t t = 0; t < ids.size(); ++t) {
    assert(ids[t] >= 0 && ids[t] < table.rows);
    DequantizeWeightRow(table, ids[t], out + t * table.cols);
  }
}

void RmsNorm(const float* x, const Weight& weight, int n, float eps, float* out) {
  const std::vector<float> scale = VectorToF32(weight);
  const int64_t dim = static_cast<int64_t>(scale.size());
  for (int64_t r = 0; r < n; ++r) {
    double sum_squares = 0.0;
    for (int64_t i = 0; i < dim; ++i) sum_squares += double{x[r * dim + i]} * x[r * dim + i];
    const double inverse_rms = 1.0 / std::sqrt(sum_squares / static_cast<double>(dim) + eps);
    for (int64_t i = 0; i < dim; ++i) {
      out[r * dim + i] = static_cast<float>(x[r * dim + i] * inverse_rms * scale[i]);
    }
  }
}

void MatMul(const Weight& w, const float* x, int n, float* y, const Weight* bias) {
  std::vector<float> row(w.cols);
  const std::vector<float> b = bias != nullptr ? VectorToF32(*bias) : std::vector<float>();
  for (int64_t o = 0; o < w.rows; ++o) {
    DequantizeWeightRow(w, o, row.data());
    for (int t = 0; t < n; ++t) {
      double sum = b.empty() ? 0.0 : b[o];
      for (int64_t i = 0; i < w.cols; ++i) sum += double{row[i]} * x[t * w.cols + i];
      y[t * w.rows + o] = static_cast<float>(sum);
    }
  }
}

void Rope(float* x, const BatchLayout& batch, int num_heads, int head_dim,
          std::span<const float> inv_freq) {
  const int half = head_dim / 2;
  assert(static_cast<int>(inv_freq.size()) == half);
  for (int t = 0; t < batch.num_rows; ++t) {
    for (int h = 0; h < num_heads; ++h) {
      float* head = x + (static_cast<int64_t>(t) * num_heads + h) * head_dim;
      for (int i = 0; i < half; ++i) {
        const double angle = double{inv_freq[i]} * batch.positions[t];
        const double c = std::cos(angle), s = std::sin(angle);
        const double a = head[i], b = head[i + half];
        head[i] = static_cast<float>(a * c - b * s);
        head[i + half] = static_cast<float>(a * s + b * c);
      }
    }
  }
}

void WriteKv(const KvCacheSpec& spec, void* k_cache, void* v_cache, const float* k, const float* v,
             const BatchLayout& batch) {
  for (int t = 0; t < batch.num_rows; ++t) {
    for (int h = 0; h < spec.num_kv_heads; ++h) {
      for (int d = 0; d < spec.head_dim; ++d) {
        const size_t src = (static_cast<size_t>(t) * spec.num_kv_heads + h) * spec.head_dim + d;
        const size_t dst = CacheIndex(spec, batch.kv_slots[t], h, d);
        StoreCache(spec, k_cache, dst, k[src]);
        StoreCache(spec, v_cache, dst, v[src]);
      }
    }
  }
}

void Attention(const KvCacheSpec& spec, const void* k_cache, const void* v_cache, const float* q,
               const BatchLayout& batch, int num_heads, float scale, float* out) {
  const int head_dim = spec.head_dim;
  const int group = num_heads / spec.num_kv_heads;
  for (const SequenceSlice& seq : batch.sequences) {
    for (int i = 0; i < seq.num_rows; ++i) {
      const int t = seq.first_row + i;
      const int position = seq.start_position + i;
      for (int h = 0; h < num_heads; ++h) {
        const int kv_head = h / group;
        const float* qh = q + (static_cast<int64_t>(t) * num_heads + h) * head_dim;
        // Two passes: scores, then the softmax-weighted sum of V.
        std::vector<double> scores(position + 1);
        double max_score = -INFINITY;
        for (int p = 0; p <= position; ++p) {
          const int64_t slot =
              int64_t{seq.block_table[p / spec.block_size]} * spec.block_size + p % spec.block_size;
          double dot = 0.0;
          for (int d = 0; d < head_dim; ++d) {
            dot += double{qh[d]} * LoadCache(spec, k_cache, CacheIndex(spec, slot, kv_head, d));
          }
          scores[p] = dot * scale;
          max_score = std::max(max_score, scores[p]);
        }
        double total = 0.0;
        for (double& s : scores) total += (s = std::exp(s - max_score));
        float* oh = out + (static_cast<int64_t>(t) * num_heads + h) * head_dim;
        for (int d = 0; d < head_dim; ++d) {
          double acc = 0.0;
          for (int p = 0; p <= position; ++p) {
            const int64_t slot = int64_t{seq.block_table[p / spec.block_size]} * spec.block_size +
                                 p % spec.block_size;
            acc += scores[p] * LoadCache(spec, v_cache, CacheIndex(spec, slot, kv_head, d));
          }
          oh[d] = static_cast<float>(acc / total);
        }
      }
    }
  }
}

void SwiGlu(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const double g = gate[i];
    out[i] = static_cast<float>(g / (1.0 + std::exp(-g)) * up[i]);
  }
}

void Add(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

void GatherRows(const float* x, int64_t cols, std::span<const int32_t> rows, float* out) {
  for (size_t r = 0; r < rows.size(); ++r) {
    std::memcpy(out + r * cols, x + rows[r] * cols, cols * sizeof(float));
  }
}

}  // namespace r1serve::engine::reference
