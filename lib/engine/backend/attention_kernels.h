// The attention kernel workbench: one work item is a run of consecutive rows of one sequence
// and one KV head (with the `group` query heads that share it); cpu_kernels::Attention cuts a
// batch into items and spreads them over threads. reference::Attention (reference_ops.h) is
// the definition; backend_ops_test.cc checks every version, backend_bench.cc times them.
//
//   AttentionItem item{&cache, &seq, /*first_row=*/seq.first_row, /*num_rows=*/1, kv_head,
//                      group, scale};
//   attention_kernels::RunItemAvx2(item, q, num_heads, out, scratch);
#pragma once

#include <cstdint>
#include <vector>

#include "lib/engine/backend/cpu_kernels.h"

namespace r1serve::engine::attention_kernels {

struct AttentionItem {
  const cpu_kernels::KvLayer* cache = nullptr;
  const SequenceSlice* seq = nullptr;
  int first_row = 0;  // batch row of the item's first row
  int num_rows = 0;   // consecutive rows (positions) of `seq`
  int kv_head = 0;
  int group = 1;  // query heads per KV head
  float scale = 1.0f;
};

// Version 0, any CPU: one row and one query head group at a time, online softmax per position.
// q [T, num_heads, head_dim] and out likewise (the item's slice of them).
void RunItemPortable(const AttentionItem& item, const float* q, int num_heads, float* out,
                     std::vector<float>& scratch);

// Version 1, AVX2 (head_dim a multiple of 8): positions in tiles of 16, K/V converted to f32
// once per tile for all of the item's query vectors (rows x group), online softmax per tile
// with a vectorized exp.
void RunItemAvx2(const AttentionItem& item, const float* q, int num_heads, float* out,
                 std::vector<float>& scratch);

}  // namespace r1serve::engine::attention_kernels
