// The compute backend: the small, explicit set of operations a transformer forward pass needs,
// plus device memory and copies. The CPU backend (cpu_backend.h) is the reference every other
// backend (HIP next) is tested against, op by op (backend_ops_test.cc).
//
//   std::unique_ptr<Backend> backend = CreateCpuBackend({.num_threads = 2});
//   ASSIGN_OR_RETURN(Weight wq, backend->UploadWeight(*model.layer(0).wq, WeightUse::kMatMul));
//   ASSIGN_OR_RETURN(DeviceBuffer x, backend->Allocate(tokens * hidden * sizeof(float)));
//   backend->MatMul(wq, x.f32(), tokens, q.f32(), /*bias=*/nullptr);
//
// Conventions, for every op:
// - Activations are f32, row-major, on the device (`float*` below are device pointers; on the
//   CPU they are host memory). Shapes are given in comments, outermost first.
// - A batch is a flat run of T tokens from S sequences of different lengths, with no padding:
//   the rows of every activation are tokens; BatchLayout says which rows belong to which
//   sequence and where each sequence's KV lives (its block table).
// - Weights keep their stored dtype (F32, F16, BF16, Q8_0); kernels convert on the fly.
// - The KV cache is paged: per layer, K and V are each [num_blocks, num_kv_heads, block_size,
//   head_dim] in KvCacheSpec::dtype. Token t of a sequence lives in block
//   block_table[t / block_size], slot t % block_size.
// - Ops are issued in order; the host may read results only after Synchronize() (a no-op on
//   the CPU, where every op completes before it returns).
// - Preconditions (shapes, ids in range) are the caller's contract: the engine validates user
//   input before it reaches a backend, so a violation here is a bug and is asserted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/engine/format/dtype.h"
#include "lib/engine/format/tensor_view.h"

namespace r1serve::engine {

// Device memory owned by its holder; freed by the backend that allocated it on destruction.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(void* data, size_t bytes, std::shared_ptr<void> owner)
      : data_(data), bytes_(bytes), owner_(std::move(owner)) {}

  void* data() const { return data_; }
  float* f32() const { return static_cast<float*>(data_); }
  size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  std::shared_ptr<void> owner_;  // releases the memory when the last copy goes
};

// What a weight is uploaded for, so that a backend may lay it out for that use.
enum class WeightUse : uint8_t {
  kMatMul,  // MatMul's w (a tied embedding table too: also read by Embed)
  kLookup,  // read by Embed, RmsNorm or as a bias only
};

// How a weight's bytes are arranged.
enum class WeightLayout : uint8_t {
  kRowMajor,      // the file's: rows of the stored dtype, each row's blocks in order
  kQ8_0Groups16,  // the CPU backend's interleaved Q8_0 layout (q8_0_groups.h)
};

// A weight tensor ready for the backend's kernels: on the CPU a view of the mapped file (no
// copy, stored dtype) or, for Q8_0 matrices at AVX-512, a copy in the groups layout; on a GPU a
// device copy. When `owner` is set the backend holds its own copy and no longer reads the
// TensorView's bytes (the model may drop their pages).
struct Weight {
  DType dtype = DType::kF32;
  WeightLayout layout = WeightLayout::kRowMajor;
  int64_t rows = 0;  // output features for a matrix; 1 for a vector
  int64_t cols = 0;  // input features; elements for a vector
  const void* data = nullptr;
  std::shared_ptr<void> owner;  // the backend's copy, when there is one
};

// The KV cache's geometry.
struct KvCacheSpec {
  int num_layers = 0;
  int num_blocks = 0;
  int block_size = 16;  // tokens per block
  int num_kv_heads = 0;
  int head_dim = 0;
  DType dtype = DType::kF16;  // F16 or F32

  // Bytes of one block of K (or V) in one layer: num_kv_heads * block_size * head_dim elements.
  size_t BlockBytes() const;
};

// Where the tokens of one sequence sit in the batch and in the KV cache.
struct SequenceSlice {
  int first_row = 0;  // this sequence's tokens are batch rows [first_row, first_row + num_rows)
  int num_rows = 0;
  int start_position = 0;  // position of its first row; rows are consecutive positions
  // Physical KV block ids for positions [0, start_position + num_rows), in order (device memory
  // on a GPU backend; see BatchLayout).
  const int32_t* block_table = nullptr;
  int num_blocks = 0;
};

// One step's batch. Host-side description; a GPU backend uploads what it needs.
struct BatchLayout {
  int num_rows = 0;                      // T
  std::vector<SequenceSlice> sequences;  // S, rows ascending and disjoint, covering [0, T)
  std::vector<int32_t> positions;        // [T] position of each row within its sequence
  std::vector<int32_t> kv_slots;         // [T] block * block_size + slot where each row's K/V go
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string_view name() const = 0;

  // ---- Memory.
  virtual absl::StatusOr<DeviceBuffer> Allocate(size_t bytes) = 0;
  virtual void CopyToDevice(const DeviceBuffer& dst, size_t offset, const void* src,
                            size_t bytes) = 0;
  virtual void CopyToHost(void* dst, const DeviceBuffer& src, size_t offset, size_t bytes) = 0;
  virtual void Synchronize() = 0;

  // A weight for the kernels: F32/F16/BF16/Q8_0 1-D or 2-D tensors.
  virtual absl::StatusOr<Weight> UploadWeight(const TensorView& tensor, WeightUse use) = 0;

  // ---- KV cache (one per backend instance).
  virtual absl::Status AllocateKvCache(const KvCacheSpec& spec) = 0;
  virtual const KvCacheSpec& kv_spec() const = 0;
  // Copy-on-write for forks: copies whole blocks (every layer, K and V) src -> dst, in order.
  virtual void CopyKvBlocks(std::span<const std::pair<int32_t, int32_t>> src_dst) = 0;
  // Host transfer of whole blocks of one layer, for the prefill -> decode handoff: the K of
  // block_ids.size() blocks at k_host and their V at v_host, n * spec.BlockBytes() bytes each,
  // in the cache's dtype. (Two pointers: callers keep K and V in separate buffers or in one,
  // without a copy either way.)
  virtual void ReadKvBlocks(int layer, std::span<const int32_t> block_ids, void* k_host,
                            void* v_host) = 0;
  virtual void WriteKvBlocks(int layer, std::span<const int32_t> block_ids, const void* k_host,
                             const void* v_host) = 0;

  // ---- Ops of the forward pass.
  // out[T, cols] = rows of `table` [vocab, cols] picked by ids[T] (host array).
  virtual void Embed(const Weight& table, std::span<const int32_t> ids, float* out) = 0;
  // out[n, dim] = x / sqrt(mean(x^2) + eps) * weight[dim], row by row. out may equal x.
  virtual void RmsNorm(const float* x, const Weight& weight, int n, float eps, float* out) = 0;
  // y[n, w.rows] = x[n, w.cols] · w^T (+ bias[w.rows] when not null).
  virtual void MatMul(const Weight& w, const float* x, int n, float* y, const Weight* bias) = 0;
  // Rotary embedding in place on x[T, num_heads, head_dim], NEOX layout (dimension i pairs with
  // i + head_dim/2), angle = position * inv_freq[i], inv_freq[head_dim/2] (host array).
  virtual void Rope(float* x, const BatchLayout& batch, int num_heads, int head_dim,
                    std::span<const float> inv_freq) = 0;
  // Stores k, v [T, num_kv_heads, head_dim] of `layer` at batch.kv_slots.
  virtual void WriteKv(int layer, const float* k, const float* v, const BatchLayout& batch) = 0;
  // Causal attention of q [T, num_heads, head_dim] over the layer's cache (which already holds
  // this step's K/V): row at position p of a sequence attends to that sequence's positions
  // 0..p. Grouped-query: head h reads KV head h / (num_heads / num_kv_heads).
  // out[T, num_heads, head_dim]; scores scaled by `scale` (1/sqrt(head_dim)).
  virtual void Attention(int layer, const float* q, const BatchLayout& batch, int num_heads,
                         float scale, float* out) = 0;
  // out[n] = silu(gate[n]) * up[n]. out may equal gate.
  virtual void SwiGlu(const float* gate, const float* up, int64_t n, float* out) = 0;
  // x[n] += y[n].
  virtual void Add(float* x, const float* y, int64_t n) = 0;
  // out[rows.size(), cols] = x[rows[i], :] (rows: host array).
  virtual void GatherRows(const float* x, int64_t cols, std::span<const int32_t> rows,
                          float* out) = 0;
};

struct CpuBackendOptions {
  int num_threads = 0;  // 0 = hardware concurrency
};

std::unique_ptr<Backend> CreateCpuBackend(const CpuBackendOptions& options);

}  // namespace r1serve::engine
