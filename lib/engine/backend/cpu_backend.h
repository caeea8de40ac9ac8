// The CPU backend: every Backend op on host memory, multi-threaded with a ThreadPool, with
// AVX2/FMA/F16C kernels (and AVX-512 VNNI / AMX-INT8 ones for Q8_0 weights) picked at run
// time where the CPU has them (portable code otherwise; R1SERVE_CPU_KERNEL_LEVEL caps the
// level for a whole process, see cpu_kernels.h).
// It is the reference the GPU backends are tested against, so each fast kernel is checked
// against reference_ops.h in backend_ops_test.cc.
//
//   std::unique_ptr<Backend> backend = CreateCpuBackend({.num_threads = 2});
//   CpuBackend* cpu = static_cast<CpuBackend*>(backend.get());   // tests and benchmarks only
//   cpu->set_kernel_level(CpuKernelLevel::kPortable);            // force the scalar path
//
// Weights are used where they lie (UploadWeight returns a view of the mapped file), except Q8_0
// matrices at kernel level kAvx512 and above: UploadWeight copies them once into the groups
// layout of the int8 kernels (q8_0_groups.h: as many bytes, in huge pages), and the model runner
// then drops their file pages from the resident set. The KV cache is one anonymous mapping
// (pages are touched, and so cost memory, only when used). A prefill-sized MatMul (n >= 48)
// keeps an f32 panel of up to ~16 MiB per thread (Q8_0 with int8 kernels: the quantized x on
// the calling thread, ~1.1 bytes per activation; at kAvx2 also a packed int8 panel of
// ~768 KiB per thread), and the first sgemm sets
// OpenBLAS to one thread process-wide (openblas_set_num_threads(1)): each of our threads calls
// sgemm on its own rows, and OpenBLAS threads on top would oversubscribe the cores.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/engine/backend/backend.h"
#include "lib/engine/backend/cpu_kernels.h"
#include "lib/engine/backend/thread_pool.h"

namespace r1serve::engine {

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const CpuBackendOptions& options);
  ~CpuBackend() override;

  std::string_view name() const override { return "cpu"; }

  absl::StatusOr<DeviceBuffer> Allocate(size_t bytes) override;
  void CopyToDevice(const DeviceBuffer& dst, size_t offset, const void* src, size_t bytes) override;
  void CopyToHost(void* dst, const DeviceBuffer& src, size_t offset, size_t bytes) override;
  void Synchronize() override {}

  absl::StatusOr<Weight> UploadWeight(const TensorView& tensor, WeightUse use) override;

  absl::Status AllocateKvCache(const KvCacheSpec& spec) override;
  const KvCacheSpec& kv_spec() const override { return kv_spec_; }
  void CopyKvBlocks(std::span<const std::pair<int32_t, int32_t>> src_dst) override;
  void ReadKvBlocks(int layer, std::span<const int32_t> block_ids, void* k_host,
                    void* v_host) override;
  void WriteKvBlocks(int layer, std::span<const int32_t> block_ids, const void* k_host,
                     const void* v_host) override;

  void Embed(const Weight& table, std::span<const int32_t> ids, float* out) override;
  void RmsNorm(const float* x, const Weight& weight, int n, float eps, float* out) override;
  void MatMul(const Weight& w, const float* x, int n, float* y, const Weight* bias) override;
  void Rope(float* x, const BatchLayout& batch, int num_heads, int head_dim,
            std::span<const float> inv_freq) override;
  void WriteKv(int layer, const float* k, const float* v, const BatchLayout& batch) override;
  void Attention(int layer, const float* q, const BatchLayout& batch, int num_heads, float scale,
                 float* out) override;
  void SwiGlu(const float* gate, const float* up, int64_t n, float* out) override;
  void Add(float* x, const float* y, int64_t n) override;
  void GatherRows(const float* x, int64_t cols, std::span<const int32_t> rows, float* out) override;

  // For tests and benchmarks: which kernels run (defaults to the best the CPU supports;
  // asking for more than it supports is clamped).
  CpuKernelLevel kernel_level() const { return level_; }
  void set_kernel_level(CpuKernelLevel level);
  ThreadPool& thread_pool() { return pool_; }

 private:
  // K (kv = 0) or V (kv = 1) cache of `layer`: [num_blocks, num_kv_heads, block_size, head_dim].
  std::byte* KvData(int layer, int kv) const;

  // cos and sin of every (row, frequency) of the last Rope call's batch: [T, head_dim], the
  // cosines in the first half of each row, the sines in the second.
  struct RopeTable {
    std::vector<float> inv_freq;
    std::vector<int32_t> positions;
    std::vector<float> cos_sin;
  };

  ThreadPool pool_;
  CpuKernelLevel level_;
  RopeTable rope_table_;
  KvCacheSpec kv_spec_;
  std::byte* kv_data_ = nullptr;  // [num_layers, 2 (K, V), num_blocks, block bytes]
  size_t kv_bytes_ = 0;
};

}  // namespace r1serve::engine
