#include "lib/engine/backend/cpu_backend.h"

#include <sys/mman.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/engine/backend/elementwise_kernels.h"
#include "lib/engine/backend/matmul_kernels.h"
#include "lib/engine/backend/q8_0_groups.h"

namespace r1serve::engine {
namespace {

// A 1-D weight (norm scale, bias) as floats: the stored data when it is F32, else converted
// into `scratch` (a few thousand values: negligible next to the op itself).
const float* VectorAsF32(const Weight& w, std::vector<float>& scratch) {
  if (w.dtype == DType::kF32) return static_cast<const float*>(w.data);
  scratch.resize(w.rows * w.cols);
  for (int64_t r = 0; r < w.rows; ++r) {
    DequantizeWeightRow(w, r, scratch.data() + r * w.cols);
  }
  return scratch.data();
}

// Elementwise ops are memory-bound and short; below this many elements one thread is faster
// than a fork-join.
constexpr int64_t kElementwiseGrain = 16384;

}  // namespace

CpuBackend::CpuBackend(const CpuBackendOptions& options)
    : pool_(options.num_threads), level_(DetectCpuKernelLevel()) {}

CpuBackend::~CpuBackend() {
  if (kv_data_ != nullptr) munmap(kv_data_, kv_bytes_);
}

void CpuBackend::set_kernel_level(CpuKernelLevel level) {
  level_ = std::min(level, DetectCpuKernelLevel());
}

absl::StatusOr<DeviceBuffer> CpuBackend::Allocate(size_t bytes) {
  // 64-byte alignment: whole cache lines, and aligned AVX loads never split a line.
  const size_t rounded = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
  void* data = std::aligned_alloc(64, rounded);
  if (data == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cpu backend: cannot allocate ", bytes, " bytes"));
  }
  return DeviceBuffer(data, bytes, std::shared_ptr<void>(data, std::free));
}

void CpuBackend::CopyToDevice(const DeviceBuffer& dst, size_t offset, const void* src,
                              size_t bytes) {
  assert(offset + bytes <= dst.bytes());
  std::memcpy(static_cast<std::byte*>(dst.data()) + offset, src, bytes);
}

void CpuBackend::CopyToHost(void* dst, const DeviceBuffer& src, size_t offset, size_t bytes) {
  assert(offset + bytes <= src.bytes());
  std::memcpy(dst, static_cast<const std::byte*>(src.data()) + offset, bytes);
}

absl::StatusOr<Weight> CpuBackend::UploadWeight(const TensorView& tensor, WeightUse use) {
  if (tensor.shape.empty() || tensor.shape.size() > 2) {
    return absl::InvalidArgumentError(absl::StrCat("cpu backend: weight ", tensor.name,
                                                   " has shape ", ShapeText(tensor.shape),
                                                   "; only 1-D and 2-D tensors are supported"));
  }
  if (tensor.cols() % BlockValues(tensor.dtype) != 0 ||
      tensor.size_bytes < tensor.rows() * tensor.row_bytes()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cpu backend: weight ", tensor.name, " (", DTypeName(tensor.dtype), ", ",
                     ShapeText(tensor.shape), ") has an inconsistent size"));
  }
  Weight weight;
  weight.dtype = tensor.dtype;
  weight.rows = tensor.rows();
  weight.cols = tensor.cols();
  weight.data = tensor.data;
  // Q8_0 matrices for MatMul go into the groups layout of the AVX-512 kernels (q8_0_groups.h
  // says why); everything else is used where it lies (an untied embedding table: Embed reads one
  // row per token, and the file's pages need not become resident).
  if (use == WeightUse::kMatMul && tensor.dtype == DType::kQ8_0 && tensor.shape.size() == 2 &&
      level_ >= CpuKernelLevel::kAvx512) {
    return PackQ8_0Groups(pool_, weight);
  }
  return weight;
}

absl::Status CpuBackend::AllocateKvCache(const KvCacheSpec& spec) {
  if (spec.num_layers <= 0 || spec.num_blocks <= 0 || spec.block_size <= 0 ||
      spec.num_kv_heads <= 0 || spec.head_dim <= 0 ||
      (spec.dtype != DType::kF16 && spec.dtype != DType::kF32)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cpu backend: invalid KV cache spec (layers ", spec.num_layers, ", blocks ",
                     spec.num_blocks, ", block size ", spec.block_size, ", kv heads ",
                     spec.num_kv_heads, ", head dim ", spec.head_dim, ", dtype ",
                     DTypeName(spec.dtype), "); the dtype must be F16 or F32"));
  }
  if (kv_data_ != nullptr) {
    munmap(kv_data_, kv_bytes_);
    kv_data_ = nullptr;
  }
  const size_t bytes =
      static_cast<size_t>(spec.num_layers) * 2 * spec.num_blocks * spec.BlockBytes();
  // An anonymous mapping: zero pages until written, so a large cache costs memory only as it
  // fills.
  void* data = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (data == MAP_FAILED) {
    kv_bytes_ = 0;
    return absl::ResourceExhaustedError(absl::StrCat("cpu backend: cannot map a KV cache of ",
                                                     bytes, " bytes; lower the cache size"));
  }
  kv_data_ = static_cast<std::byte*>(data);
  kv_bytes_ = bytes;
  kv_spec_ = spec;
  return absl::OkStatus();
}

std::byte* CpuBackend::KvData(int layer, int kv) const {
  assert(kv_data_ != nullptr && layer >= 0 && layer < kv_spec_.num_layers);
  return kv_data_ +
         (static_cast<size_t>(layer) * 2 + kv) * kv_spec_.num_blocks * kv_spec_.BlockBytes();
}

void CpuBackend::CopyKvBlocks(std::span<const std::pair<int32_t, int32_t>> src_dst) {
  const size_t block_bytes = kv_spec_.BlockBytes();
  // In the given order: a later pair may read a block an earlier one wrote.
  for (const auto& [src, dst] : src_dst) {
    assert(src >= 0 && src < kv_spec_.num_blocks && dst >= 0 && dst < kv_spec_.num_blocks);
    if (src == dst) continue;
    for (int layer = 0; layer < kv_spec_.num_layers; ++layer) {
      for (int kv = 0; kv < 2; ++kv) {
        std::byte* base = KvData(layer, kv);
        std::memcpy(base + dst * block_bytes, base + src * block_bytes, block_bytes);
      }
    }
  }
}

void CpuBackend::ReadKvBlocks(int layer, std::span<const int32_t> block_ids, void* k_host,
                              void* v_host) {
  const size_t block_bytes = kv_spec_.BlockBytes();
  for (int kv = 0; kv < 2; ++kv) {
    const std::byte* base = KvData(layer, kv);
    auto* out = static_cast<std::byte*>(kv == 0 ? k_host : v_host);
    for (size_t i = 0; i < block_ids.size(); ++i) {
      assert(block_ids[i] >= 0 && block_ids[i] < kv_spec_.num_blocks);
      std::memcpy(out + i * block_bytes, base + block_ids[i] * block_bytes, block_bytes);
    }
  }
}

void CpuBackend::WriteKvBlocks(int layer, std::span<const int32_t> block_ids, const void* k_host,
                               const void* v_host) {
  const size_t block_bytes = kv_spec_.BlockBytes();
  for (int kv = 0; kv < 2; ++kv) {
    std::byte* base = KvData(layer, kv);
    const auto* in = static_cast<const std::byte*>(kv == 0 ? k_host : v_host);
    for (size_t i = 0; i < block_ids.size(); ++i) {
      assert(block_ids[i] >= 0 && block_ids[i] < kv_spec_.num_blocks);
      std::memcpy(base + block_ids[i] * block_bytes, in + i * block_bytes, block_bytes);
    }
  }
}

void CpuBackend::Embed(const Weight& table, std::span<const int32_t> ids, float* out) {
  pool_.ParallelFor(0, static_cast<int64_t>(ids.size()), 8, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      assert(ids[t] >= 0 && ids[t] < table.rows);
      if (level_ >= CpuKernelLevel::kAvx2 && table.layout == WeightLayout::kRowMajor) {
        matmul_kernels::ConvertRowsAvx2(table, ids[t], 1, out + t * table.cols);
      } else {
        DequantizeWeightRow(table, ids[t], out + t * table.cols);
      }
    }
  });
}

void CpuBackend::RmsNorm(const float* x, const Weight& weight, int n, float eps, float* out) {
  std::vector<float> scratch;
  const float* scale = VectorAsF32(weight, scratch);
  const int64_t dim = weight.rows * weight.cols;
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / dim);
  pool_.ParallelFor(0, n, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const float* xr = x + r * dim;
      float* yr = out + r * dim;
      if (level_ >= CpuKernelLevel::kAvx2) {
        const double sum_squares = elementwise_kernels::SumSquaresAvx2(xr, dim);
        const float inverse_rms =
            static_cast<float>(1.0 / std::sqrt(sum_squares / static_cast<double>(dim) + eps));
        elementwise_kernels::ScaleByWeightAvx2(xr, inverse_rms, scale, dim, yr);
        continue;
      }
      // Sum of squares in double: dim is in the thousands and a norm is cheap either way.
      double sum_squares = 0.0;
      for (int64_t i = 0; i < dim; ++i) sum_squares += double{xr[i]} * xr[i];
      const float inverse_rms =
          static_cast<float>(1.0 / std::sqrt(sum_squares / static_cast<double>(dim) + eps));
      for (int64_t i = 0; i < dim; ++i) yr[i] = xr[i] * inverse_rms * scale[i];
    }
  });
}

void CpuBackend::MatMul(const Weight& w, const float* x, int n, float* y, const Weight* bias) {
  std::vector<float> scratch;
  const float* b = bias != nullptr ? VectorAsF32(*bias, scratch) : nullptr;
  cpu_kernels::MatMul(pool_, level_, w, x, n, y, b);
}

void CpuBackend::Rope(float* x, const BatchLayout& batch, int num_heads, int head_dim,
                      std::span<const float> inv_freq) {
  const int half = head_dim / 2;
  assert(static_cast<int>(inv_freq.size()) == half);
  // The angles depend on the positions only, and a step rotates q and k of every layer at the
  // same positions: the table is computed once per step (in double, so that large positions
  // keep their precision) and reused by the next 2 * num_layers - 1 calls.
  RopeTable& table = rope_table_;
  if (!std::equal(inv_freq.begin(), inv_freq.end(), table.inv_freq.begin(), table.inv_freq.end()) ||
      table.positions != batch.positions) {
    table.inv_freq.assign(inv_freq.begin(), inv_freq.end());
    table.positions = batch.positions;
    table.cos_sin.resize(static_cast<size_t>(batch.num_rows) * head_dim);
    pool_.ParallelFor(0, batch.num_rows, 4, [&](int64_t lo, int64_t hi) {
      for (int64_t t = lo; t < hi; ++t) {
        float* cos_sin = table.cos_sin.data() + t * head_dim;
        for (int i = 0; i < half; ++i) {
          const double angle = double{inv_freq[i]} * batch.positions[t];
          cos_sin[i] = static_cast<float>(std::cos(angle));
          cos_sin[half + i] = static_cast<float>(std::sin(angle));
        }
      }
    });
  }
  pool_.ParallelFor(0, batch.num_rows, 4, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const float* cos = table.cos_sin.data() + t * head_dim;
      const float* sin = cos + half;
      for (int h = 0; h < num_heads; ++h) {
        float* head = x + (t * num_heads + h) * head_dim;
        for (int i = 0; i < half; ++i) {
          const float a = head[i], b = head[i + half];
          head[i] = a * cos[i] - b * sin[i];
          head[i + half] = a * sin[i] + b * cos[i];
        }
      }
    }
  });
}

void CpuBackend::WriteKv(int layer, const float* k, const float* v, const BatchLayout& batch) {
  const KvCacheSpec& spec = kv_spec_;
  std::byte* k_cache = KvData(layer, 0);
  std::byte* v_cache = KvData(layer, 1);
  const size_t element_bytes = spec.dtype == DType::kF16 ? 2 : 4;
  const int64_t row = static_cast<int64_t>(spec.num_kv_heads) * spec.head_dim;
  for (int t = 0; t < batch.num_rows; ++t) {
    const int64_t slot = batch.kv_slots[t];
    const int64_t block = slot / spec.block_size;
    assert(block >= 0 && block < spec.num_blocks);
    for (int h = 0; h < spec.num_kv_heads; ++h) {
      const size_t index = static_cast<size_t>(
          ((block * spec.num_kv_heads + h) * spec.block_size + slot % spec.block_size) *
          spec.head_dim);
      const float* ks = k + t * row + int64_t{h} * spec.head_dim;
      const float* vs = v + t * row + int64_t{h} * spec.head_dim;
      std::byte* kd = k_cache + index * element_bytes;
      std::byte* vd = v_cache + index * element_bytes;
      if (spec.dtype == DType::kF16 && level_ >= CpuKernelLevel::kAvx2) {
        elementwise_kernels::FloatToHalfAvx2(ks, spec.head_dim, reinterpret_cast<uint16_t*>(kd));
        elementwise_kernels::FloatToHalfAvx2(vs, spec.head_dim, reinterpret_cast<uint16_t*>(vd));
      } else {
        EncodeRow(spec.dtype, ks, spec.head_dim, kd);
        EncodeRow(spec.dtype, vs, spec.head_dim, vd);
      }
    }
  }
}

void CpuBackend::Attention(int layer, const float* q, const BatchLayout& batch, int num_heads,
                           float scale, float* out) {
  const cpu_kernels::KvLayer cache{&kv_spec_, KvData(layer, 0), KvData(layer, 1)};
  cpu_kernels::Attention(pool_, level_, cache, q, batch, num_heads, scale, out);
}

void CpuBackend::SwiGlu(const float* gate, const float* up, int64_t n, float* out) {
  pool_.ParallelFor(0, n, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
    if (level_ >= CpuKernelLevel::kAvx2) {
      elementwise_kernels::SwiGluAvx2(gate + lo, up + lo, hi - lo, out + lo);
      return;
    }
    for (int64_t i = lo; i < hi; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
  });
}

void CpuBackend::Add(float* x, const float* y, int64_t n) {
  pool_.ParallelFor(0, n, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) x[i] += y[i];
  });
}

void CpuBackend::GatherRows(const float* x, int64_t cols, std::span<const int32_t> rows,
                            float* out) {
  for (size_t r = 0; r < rows.size(); ++r) {
    std::memcpy(out + r * cols, x + rows[r] * cols, cols * sizeof(float));
  }
}

std::unique_ptr<Backend> CreateCpuBackend(const CpuBackendOptions& options) {
  return std::make_unique<CpuBackend>(options);
}

}  // namespace r1serve::engine
