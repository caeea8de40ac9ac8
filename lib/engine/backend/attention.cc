// cpu_kernels::Attention: cuts a batch into work items (rows of one sequence x one KV head)
// and runs them over the threads, plus the portable kernel of attention_kernels.h.
#include <algorithm>
#include <cmath>
#include <vector>

#include "lib/engine/backend/attention_kernels.h"
#include "lib/engine/backend/cpu_kernels.h"

namespace r1serve::engine {
namespace attention_kernels {
namespace {

// Converts head_dim values of the cache at element `index` to floats.
void LoadCacheRow(const KvCacheSpec& spec, const void* cache, size_t index, float* out) {
  if (spec.dtype == DType::kF16) {
    const uint16_t* src = static_cast<const uint16_t*>(cache) + index;
    for (int d = 0; d < spec.head_dim; ++d) out[d] = HalfToFloat(src[d]);
  } else {
    const float* src = static_cast<const float*>(cache) + index;
    std::copy(src, src + spec.head_dim, out);
  }
}

}  // namespace

void RunItemPortable(const AttentionItem& item, const float* q, int num_heads, float* out,
                     std::vector<float>& scratch) {
  const KvCacheSpec& spec = *item.cache->spec;
  const SequenceSlice& seq = *item.seq;
  const int head_dim = spec.head_dim;
  const int group = item.group;
  scratch.resize(static_cast<size_t>(head_dim) * 2 + group * 2);
  float* k = scratch.data();
  float* v = k + head_dim;
  float* running_max = v + head_dim;  // [group]
  float* running_sum = running_max + group;
  for (int row = item.first_row; row < item.first_row + item.num_rows; ++row) {
    const int position = seq.start_position + (row - seq.first_row);
    const int64_t offset = (int64_t{row} * num_heads + int64_t{item.kv_head} * group) * head_dim;
    const float* q_row = q + offset;
    float* out_row = out + offset;
    for (int g = 0; g < group; ++g) {
      running_max[g] = -INFINITY;
      running_sum[g] = 0.0f;
      std::fill_n(out_row + static_cast<int64_t>(g) * head_dim, head_dim, 0.0f);
    }
    // Each K/V row of the context is read once for all `group` query heads that share it.
    for (int p = 0; p <= position; ++p) {
      const int64_t block = seq.block_table[p / spec.block_size];
      const size_t index = static_cast<size_t>(
          ((block * spec.num_kv_heads + item.kv_head) * spec.block_size + p % spec.block_size) *
          head_dim);
      LoadCacheRow(spec, item.cache->k, index, k);
      LoadCacheRow(spec, item.cache->v, index, v);
      for (int g = 0; g < group; ++g) {
        const float* qh = q_row + static_cast<int64_t>(g) * head_dim;
        float* oh = out_row + static_cast<int64_t>(g) * head_dim;
        float dot = 0.0f;
        for (int d = 0; d < head_dim; ++d) dot += qh[d] * k[d];
        const float score = dot * item.scale;
        // Online softmax: rescale what was accumulated when the maximum grows.
        if (score > running_max[g]) {
          const float correction = std::exp(running_max[g] - score);
          running_sum[g] *= correction;
          for (int d = 0; d < head_dim; ++d) oh[d] *= correction;
          running_max[g] = score;
        }
        const float weight = std::exp(score - running_max[g]);
        running_sum[g] += weight;
        for (int d = 0; d < head_dim; ++d) oh[d] += weight * v[d];
      }
    }
    for (int g = 0; g < group; ++g) {
      const float inverse = 1.0f / running_sum[g];
      float* oh = out_row + static_cast<int64_t>(g) * head_dim;
      for (int d = 0; d < head_dim; ++d) oh[d] *= inverse;
    }
  }
}

}  // namespace attention_kernels

namespace cpu_kernels {

// Rows per work item in a prefill: enough query vectors (rows x group) to reuse each
// converted K/V tile many times, few enough that a long prompt still yields many items to
// balance over the threads.
constexpr int kRowsPerItem = 8;

void Attention(ThreadPool& pool, CpuKernelLevel level, const KvLayer& cache, const float* q,
               const BatchLayout& batch, int num_heads, float scale, float* out) {
  using attention_kernels::AttentionItem;
  const KvCacheSpec& spec = *cache.spec;
  const int group = num_heads / spec.num_kv_heads;
  const bool avx2 = level >= CpuKernelLevel::kAvx2 && spec.head_dim % 8 == 0;
  std::vector<AttentionItem> items;
  for (const SequenceSlice& seq : batch.sequences) {
    for (int r = 0; r < seq.num_rows; r += kRowsPerItem) {
      const int rows = std::min(kRowsPerItem, seq.num_rows - r);
      for (int h = 0; h < spec.num_kv_heads; ++h) {
        items.push_back(AttentionItem{&cache, &seq, seq.first_row + r, rows, h, group, scale});
      }
    }
  }
  // Longest items first (cost ~ rows x context), so that the dynamic split ends with short
  // ones and the threads finish together.
  std::stable_sort(items.begin(), items.end(), [](const AttentionItem& a, const AttentionItem& b) {
    const auto item_cost = [](const AttentionItem& i) {
      return int64_t{i.num_rows} *
             (i.seq->start_position + (i.first_row - i.seq->first_row) + i.num_rows);
    };
    return item_cost(a) > item_cost(b);
  });
  pool.ParallelForDynamic(0, static_cast<int64_t>(items.size()), 1, [&](int64_t lo, int64_t hi) {
    thread_local std::vector<float> scratch;
    for (int64_t i = lo; i < hi; ++i) {
      if (avx2) {
        attention_kernels::RunItemAvx2(items[i], q, num_heads, out, scratch);
      } else {
        attention_kernels::RunItemPortable(items[i], q, num_heads, out, scratch);
      }
    }
  });
}

}  // namespace cpu_kernels
}  // namespace r1serve::engine
