// Scalar reference implementations of every backend op: the definition each kernel is checked
// against (backend_ops_test.cc) and the baseline each fast kernel is benchmarked against
// (backend_bench.cc). One thread, plain loops, double accumulation; written to be obviously
// right, not fast. They work on host memory and take the same arguments as the Backend ops,
// except that the KV cache of one layer is passed explicitly.
//
//   std::vector<float> y(n * w.rows);
//   reference::MatMul(w, x.data(), n, y.data(), /*bias=*/nullptr);
//   reference::WriteKv(spec, k_cache, v_cache, k.data(), v.data(), batch);
//   reference::Attention(spec, k_cache, v_cache, q.data(), batch, num_heads, scale, out.data());
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "lib/engine/backend/backend.h"

namespace r1serve::engine::reference {

// A 1-D weight (norm scale, bias) as floats.
std::vector<float> VectorToF32(const Weight& weight);

void Embed(const Weight& table, std::span<const int32_t> ids, float* out);
void RmsNorm(const float* x, const Weight& weight, int n, float eps, float* out);
void MatMul(const Weight& w, const float* x, int n, float* y, const Weight* bias);
void Rope(float* x, const BatchLayout& batch, int num_heads, int head_dim,
          std::span<const float> inv_freq);
// k_cache, v_cache: one layer, each [num_blocks, num_kv_heads, block_size, head_dim] in
// spec.dtype.
void WriteKv(const KvCacheSpec& spec, void* k_cache, void* v_cache, const float* k, const float* v,
             const BatchLayout& batch);
void Attention(const KvCacheSpec& spec, const void* k_cache, const void* v_cache, const float* q,
               const BatchLayout& batch, int num_heads, float scale, float* out);
void SwiGlu(const float* gate, const float* up, int64_t n, float* out);
void Add(float* x, const float* y, int64_t n);
void GatherRows(const float* x, int64_t cols, std::span<const int32_t> rows, float* out);

}  // namespace r1serve::engine::reference
