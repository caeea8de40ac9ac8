// Microbenchmarks of the CPU backend's kernels at Qwen2-1.5B's shapes (hidden 1536, kv 256,
// intermediate 8960, vocab 151936, 12 heads / 2 KV heads of 128), with the weight bytes read
// per second (GB/s: decode is bound by memory) and the arithmetic rate (GFLOP/s: prefill is
// bound by FMA throughput). DESIGN.md gives ~15 GB/s and ~80 GFLOP/s for our 2-core machines;
// in quiet moments we measured more: ~25 GB/s (F32 GEMV, 2 threads) and ~140 GFLOP/s per core
// (OpenBLAS sgemm; 2 x 8-wide FMA per cycle at a turbo clock). Forward/* runs a whole forward pass
// at that shape and reports tokens/s.
//
// The machines are shared: with --threads=1 the rates are per thread CPU time (meaningful
// under load); with 2 threads they are wall-clock, so check that the CPU column is close to
// the real-time column (else another process took the cores) and report the load average.
//
//   ninja -C build backend_bench
//   build/bin/backend_bench --benchmark_filter='MatMul/F16' --benchmark_repetitions=3
//       (add --benchmark_report_aggregates_only=true for medians only)
//
// Weights are replicated until a benchmark's working set is >= 1 GiB (--working_set_mb) and the
// copies are used in turn, so that every call streams its weights from memory as in a real
// forward pass (a single copy of a 27 MB matrix would sit in the last-level cache, which the
// VM reports as 480 MiB, and flatter the GB/s).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "lib/engine/backend/cpu_backend.h"
#include "lib/engine/backend/matmul_kernels.h"
#include "lib/engine/backend/q8_0_groups.h"
#include "lib/engine/backend/reference_ops.h"

#if R1SERVE_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace r1serve::engine {
namespace {

// --threads=N (default 2). With 1 thread the caller does all the work and the rates are per
// thread CPU time (Google Benchmark's default), which stays meaningful on a shared, loaded
// machine; with more, they are per wall-clock time (UseRealTime), the number that matters
// when the machine is ours alone.
int g_threads = 2;
// --working_set_mb=N (default 1024): bytes of weight copies a MatMul benchmark cycles through.
size_t g_working_set_bytes = size_t{1} << 30;

CpuBackend& SharedBackend() {
  static CpuBackend* backend = new CpuBackend(CpuBackendOptions{.num_threads = g_threads});
  return *backend;
}

benchmark::internal::Benchmark* Configure(benchmark::internal::Benchmark* b) {
  if (g_threads > 1) b->UseRealTime();
  return b->Unit(benchmark::kMicrosecond);
}

// Copies of one random weight matrix, used round-robin: row-major, and for Q8_0 on an
// AVX-512 CPU also in the groups layout (what UploadWeight makes of them).
struct WeightSet {
  std::vector<std::unique_ptr<std::byte[]>> copies;
  std::vector<Weight> weights;   // row-major
  std::vector<Weight> uploaded;  // as the backend uploads them
  size_t bytes_per_copy = 0;
};

// The last WeightSet built (one at a time: they are up to 1 GiB).
WeightSet& GetWeights(DType dtype, int64_t rows, int64_t cols) {
  static std::tuple<DType, int64_t, int64_t> key{DType::kF32, 0, 0};
  static WeightSet set;
  if (key == std::make_tuple(dtype, rows, cols)) return set;
  set = WeightSet();
  key = {dtype, rows, cols};
  const int64_t row_bytes = RowBytes(dtype, cols);
  set.bytes_per_copy = static_cast<size_t>(rows * row_bytes);
  const size_t copies =
      std::max<size_t>(1, (g_working_set_bytes + set.bytes_per_copy - 1) / set.bytes_per_copy);
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> row(cols);
  for (size_t c = 0; c < copies; ++c) {
    set.copies.emplace_back(new std::byte[set.bytes_per_copy]);
    if (c == 0) {
      for (int64_t r = 0; r < rows; ++r) {
        for (float& v : row) v = dist(rng);
        EncodeRow(dtype, row.data(), cols, set.copies[0].get() + r * row_bytes);
      }
    } else {
      std::memcpy(set.copies[c].get(), set.copies[0].get(), set.bytes_per_copy);
    }
    Weight& w = set.weights.emplace_back();
    w.dtype = dtype;
    w.rows = rows;
    w.cols = cols;
    w.data = set.copies[c].get();
    if (dtype == DType::kQ8_0 && DetectCpuKernelLevel() >= CpuKernelLevel::kAvx512) {
      set.uploaded.push_back(*PackQ8_0Groups(SharedBackend().thread_pool(), set.weights.back()));
    } else {
      set.uploaded.push_back(set.weights.back());
    }
  }
  return set;
}

std::vector<float> RandomVector(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

void SetMatMulCounters(benchmark::State& state, size_t weight_bytes, int n, int64_t rows,
                       int64_t cols) {
  const double calls = static_cast<double>(state.iterations());
  state.counters["GB/s"] =
      benchmark::Counter(calls * weight_bytes / 1e9, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(calls * 2.0 * n * rows * cols / 1e9, benchmark::Counter::kIsRate);
}

enum class Variant {
  kDispatch,             // backend.MatMul: what the runtime gets
  kPortable,             // backend.MatMul at CpuKernelLevel::kPortable
  kPrefillBlas,          // one single-threaded sgemm per pool thread (the library's choice)
  kPrefillBlasThreaded,  // the pool converts each panel, one sgemm call on OpenBLAS's threads
  kPrefillOwn,           // PackedGemmAvx2
  kSmallBatch,           // SmallBatchAvx2 at any n
  kInt8Q8_0Avx2,         // the int8 GEMM (MatMulQ8_0Int8) with the AVX2 micro-kernel
  kInt8Q8_0Avx512,       // the int8 GEMM with the AVX-512 VNNI micro-kernel (groups layout)
  kInt8Q8_0Amx,          // the int8 GEMM with AMX tiles (groups layout)
  kSmallBatchQ8_0Avx2,   // x quantized, then SmallBatchQ8_0Avx2 at any n
};

#if R1SERVE_HAVE_OPENBLAS
// The alternative threading for sgemm: our pool converts a panel of weight rows in parallel,
// then the caller runs one sgemm on OpenBLAS's own `threads` threads while our worker idles.
void PrefillBlasThreaded(ThreadPool& pool, const Weight& w, const float* x, int n, float* y,
                         int threads) {
  openblas_set_num_threads(threads);
  const int64_t panel_rows = 512;
  static std::vector<float> panel;
  panel.resize(panel_rows * w.cols);
  for (int64_t o = 0; o < w.rows; o += panel_rows) {
    const int64_t count = std::min(panel_rows, w.rows - o);
    pool.ParallelFor(0, count, 16, [&](int64_t lo, int64_t hi) {
      matmul_kernels::ConvertRowsAvx2(w, o + lo, hi - lo, panel.data() + lo * w.cols);
    });
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, static_cast<int>(count),
                static_cast<int>(w.cols), 1.0f, x, static_cast<int>(w.cols), panel.data(),
                static_cast<int>(w.cols), 0.0f, y + o, static_cast<int>(w.rows));
  }
  openblas_set_num_threads(1);
}
#endif

void BM_MatMul(benchmark::State& state, DType dtype, int64_t rows, int64_t cols, int n,
               Variant variant) {
  CpuBackend& backend = SharedBackend();
  WeightSet& set = GetWeights(dtype, rows, cols);
  const std::vector<float> x = RandomVector(static_cast<size_t>(n) * cols, 1);
  std::vector<float> y(static_cast<size_t>(n) * rows);
  const CpuKernelLevel best = DetectCpuKernelLevel();
  backend.set_kernel_level(variant == Variant::kPortable ? CpuKernelLevel::kPortable : best);
  if (variant == Variant::kInt8Q8_0Avx512 && best < CpuKernelLevel::kAvx512) {
    state.SkipWithError("CPU lacks AVX-512 VNNI");
    return;
  }
  if (variant == Variant::kInt8Q8_0Amx && best < CpuKernelLevel::kAmx) {
    state.SkipWithError("CPU (or OS) lacks AMX-INT8");
    return;
  }
  matmul_kernels::QuantizedX quantized;
  size_t next = 0;
  for (auto _ : state) {
    // The row-major copy for the AVX2-only kernels, the uploaded one for the others.
    const bool row_major = variant == Variant::kInt8Q8_0Avx2 ||
                           variant == Variant::kSmallBatchQ8_0Avx2 ||
                           variant == Variant::kPrefillBlasThreaded;
    const Weight& w = row_major ? set.weights[next] : set.uploaded[next];
    next = (next + 1) % set.weights.size();
    switch (variant) {
      case Variant::kDispatch:
      case Variant::kPortable:
        backend.MatMul(w, x.data(), n, y.data(), nullptr);
        break;
      case Variant::kPrefillBlas:
        matmul_kernels::PrefillBlas(backend.thread_pool(), CpuKernelLevel::kAvx2, w, x.data(), n,
                                    y.data(), nullptr);
        break;
      case Variant::kPrefillBlasThreaded:
#if R1SERVE_HAVE_OPENBLAS
        PrefillBlasThreaded(backend.thread_pool(), w, x.data(), n, y.data(), g_threads);
#endif
        break;
      case Variant::kPrefillOwn:
        matmul_kernels::PrefillOwn(backend.thread_pool(), w, x.data(), n, y.data(), nullptr);
        break;
      case Variant::kSmallBatch:
        backend.thread_pool().ParallelFor(0, rows, 16, [&](int64_t lo, int64_t hi) {
          matmul_kernels::SmallBatchAvx2(w, x.data(), n, y.data(), nullptr, lo, hi);
        });
        break;
      case Variant::kInt8Q8_0Avx2:
      case Variant::kInt8Q8_0Avx512:
      case Variant::kInt8Q8_0Amx:
        matmul_kernels::MatMulQ8_0Int8(backend.thread_pool(),
                                       variant == Variant::kInt8Q8_0Avx2 ? CpuKernelLevel::kAvx2
                                       : variant == Variant::kInt8Q8_0Avx512
                                           ? CpuKernelLevel::kAvx512
                                           : CpuKernelLevel::kAmx,
                                       w, x.data(), n, y.data(), nullptr);
        break;
      case Variant::kSmallBatchQ8_0Avx2:
        matmul_kernels::QuantizeXAvx2(x.data(), n, cols, quantized);
        backend.thread_pool().ParallelForDynamic(
            0, rows, std::max<int64_t>(16, rows / (8 * g_threads) / 16 * 16),
            [&](int64_t lo, int64_t hi) {
              matmul_kernels::SmallBatchQ8_0Avx2(w, quantized, y.data(), nullptr, lo, hi);
            });
        break;
    }
    benchmark::DoNotOptimize(y.data());
  }
  backend.set_kernel_level(best);
  SetMatMulCounters(state, set.bytes_per_copy, n, rows, cols);
}

void BM_MatMulReference(benchmark::State& state, DType dtype, int64_t rows, int64_t cols) {
  WeightSet& set = GetWeights(dtype, rows, cols);
  const std::vector<float> x = RandomVector(cols, 1);
  std::vector<float> y(rows);
  for (auto _ : state) {
    reference::MatMul(set.weights[0], x.data(), 1, y.data(), nullptr);
    benchmark::DoNotOptimize(y.data());
  }
  SetMatMulCounters(state, set.bytes_per_copy, 1, rows, cols);
}

// Attention of `num_seqs` sequences, each `new_rows` new tokens after `context` cached ones,
// at Qwen2-1.5B's heads (12 query heads, 2 KV heads, head_dim 128), F16 cache, block 16.
void BM_Attention(benchmark::State& state, int num_seqs, int context, int new_rows,
                  CpuKernelLevel level) {
  constexpr int kHeads = 12, kKvHeads = 2, kHeadDim = 128, kBlock = 16;
  CpuBackend& backend = SharedBackend();
  backend.set_kernel_level(level);
  const int total = context + new_rows;
  const int blocks_per_seq = (total + kBlock - 1) / kBlock;
  KvCacheSpec spec;
  spec.num_layers = 1;
  spec.num_blocks = blocks_per_seq * num_seqs;
  spec.block_size = kBlock;
  spec.num_kv_heads = kKvHeads;
  spec.head_dim = kHeadDim;
  spec.dtype = DType::kF16;
  if (!backend.AllocateKvCache(spec).ok()) {
    state.SkipWithError("kv cache");
    return;
  }
  // Sequences' blocks interleaved (block b of sequence s is b * num_seqs + s), as a busy
  // allocator would hand them out.
  std::vector<std::vector<int32_t>> tables(num_seqs);
  BatchLayout batch;
  for (int s = 0; s < num_seqs; ++s) {
    for (int b = 0; b < blocks_per_seq; ++b) tables[s].push_back(b * num_seqs + s);
    batch.sequences.push_back(
        SequenceSlice{s * new_rows, new_rows, context, tables[s].data(), blocks_per_seq});
    for (int i = 0; i < new_rows; ++i) {
      const int p = context + i;
      batch.positions.push_back(p);
      batch.kv_slots.push_back(tables[s][p / kBlock] * kBlock + p % kBlock);
    }
  }
  batch.num_rows = num_seqs * new_rows;
  // Fill the whole cache (random K/V) through the transfer API.
  std::vector<int32_t> all(spec.num_blocks);
  for (int b = 0; b < spec.num_blocks; ++b) all[b] = b;
  const std::vector<float> values = RandomVector(spec.BlockBytes() / 2 * all.size() * 2, 3);
  std::vector<std::byte> host(values.size() * 2);
  EncodeRow(DType::kF16, values.data(), values.size(), host.data());
  backend.WriteKvBlocks(0, all, host.data(), host.data() + host.size() / 2);

  const std::vector<float> q = RandomVector(size_t{1} * batch.num_rows * kHeads * kHeadDim, 4);
  std::vector<float> out(q.size());
  const float scale = 1.0f / std::sqrt(float{kHeadDim});
  for (auto _ : state) {
    backend.Attention(0, q.data(), batch, kHeads, scale, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  backend.set_kernel_level(DetectCpuKernelLevel());
  // Per row at position p: (p + 1) keys and values of head_dim per query head, 2 FLOP per
  // multiply-add in q·k and in p·v.
  double flops = 0, kv_bytes = 0;
  for (int i = 0; i < new_rows; ++i) {
    flops += 4.0 * (context + i + 1) * kHeads * kHeadDim;
  }
  flops *= num_seqs;
  kv_bytes = 2.0 * total * kKvHeads * kHeadDim * 2 * num_seqs;
  const double calls = static_cast<double>(state.iterations());
  state.counters["GFLOP/s"] = benchmark::Counter(calls * flops / 1e9, benchmark::Counter::kIsRate);
  state.counters["KV GB/s"] =
      benchmark::Counter(calls * kv_bytes / 1e9, benchmark::Counter::kIsRate);
}

// A whole forward pass at Qwen2-1.5B's shape (28 layers, the op sequence of
// ModelRunner::Forward) with random weights in `dtype` and an F16 KV cache: `num_seqs`
// sequences of `new_rows` tokens after `context` cached ones, logits for the last row of each.
// Reports tokens/s (new rows per second): the number to hold against llama.cpp's.
void BM_Forward(benchmark::State& state, DType dtype, int num_seqs, int context, int new_rows) {
  constexpr int kLayers = 28, kHidden = 1536, kHeads = 12, kKvHeads = 2, kHeadDim = 128;
  constexpr int kInter = 8960, kVocab = 151936, kBlock = 16;
  constexpr int kQ = kHeads * kHeadDim, kKv = kKvHeads * kHeadDim;
  CpuBackend& backend = SharedBackend();
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-0.05f, 0.05f);
  // Random rows are made once per shape and copied: every layer has its own bytes (as in a
  // model file), so the weights stream from memory as they would.
  std::vector<std::unique_ptr<std::byte[]>> storage;
  const auto make = [&](int64_t rows, int64_t cols, DType type) {
    const int64_t row_bytes = RowBytes(type, cols);
    storage.emplace_back(new std::byte[rows * row_bytes]);
    std::vector<float> row(cols);
    for (int64_t r = 0; r < std::min<int64_t>(rows, 64); ++r) {
      for (float& v : row) v = dist(rng);
      EncodeRow(type, row.data(), cols, storage.back().get() + r * row_bytes);
    }
    for (int64_t r = 64; r < rows; ++r) {
      std::memcpy(storage.back().get() + r * row_bytes, storage.back().get() + (r % 64) * row_bytes,
                  row_bytes);
    }
    Weight row_major;
    row_major.dtype = type;
    row_major.rows = rows;
    row_major.cols = cols;
    row_major.data = storage.back().get();
    // Q8_0 matrices as UploadWeight makes them.
    if (type == DType::kQ8_0 && rows > 1 && DetectCpuKernelLevel() >= CpuKernelLevel::kAvx512) {
      return *PackQ8_0Groups(SharedBackend().thread_pool(), row_major);
    }
    return row_major;
  };
  struct Layer {
    Weight norm1, wq, wk, wv, bq, bk, bv, wo, norm2, gate, up, down;
  };
  std::vector<Layer> layers;
  for (int l = 0; l < kLayers; ++l) {
    layers.push_back(Layer{
        make(1, kHidden, DType::kF32), make(kQ, kHidden, dtype), make(kKv, kHidden, dtype),
        make(kKv, kHidden, dtype), make(1, kQ, DType::kF32), make(1, kKv, DType::kF32),
        make(1, kKv, DType::kF32), make(kHidden, kQ, dtype), make(1, kHidden, DType::kF32),
        make(kInter, kHidden, dtype), make(kInter, kHidden, dtype), make(kHidden, kInter, dtype)});
  }
  const Weight embed = make(kVocab, kHidden, dtype);
  const Weight final_norm = make(1, kHidden, DType::kF32);
  const Weight lm_head = make(kVocab, kHidden, dtype);

  const int total = context + new_rows;
  const int blocks_per_seq = (total + kBlock - 1) / kBlock;
  KvCacheSpec spec;
  spec.num_layers = kLayers;
  spec.num_blocks = blocks_per_seq * num_seqs;
  spec.block_size = kBlock;
  spec.num_kv_heads = kKvHeads;
  spec.head_dim = kHeadDim;
  spec.dtype = DType::kF16;
  if (!backend.AllocateKvCache(spec).ok()) {
    state.SkipWithError("kv cache");
    return;
  }
  std::vector<std::vector<int32_t>> tables(num_seqs);
  BatchLayout batch;
  std::vector<int32_t> ids, last_rows;
  for (int s = 0; s < num_seqs; ++s) {
    for (int b = 0; b < blocks_per_seq; ++b) tables[s].push_back(b * num_seqs + s);
    batch.sequences.push_back(
        SequenceSlice{s * new_rows, new_rows, context, tables[s].data(), blocks_per_seq});
    for (int i = 0; i < new_rows; ++i) {
      const int p = context + i;
      batch.positions.push_back(p);
      batch.kv_slots.push_back(tables[s][p / kBlock] * kBlock + p % kBlock);
      ids.push_back((s * 7919 + i * 104729) % kVocab);
    }
    last_rows.push_back(s * new_rows + new_rows - 1);
  }
  const int t = batch.num_rows = num_seqs * new_rows;
  std::vector<float> inv_freq(kHeadDim / 2);
  for (int i = 0; i < kHeadDim / 2; ++i) {
    inv_freq[i] = static_cast<float>(std::pow(1000000.0, -2.0 * i / kHeadDim));
  }
  std::vector<float> x(size_t{1} * t * kHidden), xb(x.size()), q(size_t{1} * t * kQ);
  std::vector<float> k(size_t{1} * t * kKv), v(k.size()), attn(q.size()), out(x.size());
  std::vector<float> gate(size_t{1} * t * kInter), up(gate.size());
  std::vector<float> last(size_t{1} * num_seqs * kHidden), logits(size_t{1} * num_seqs * kVocab);
  const float scale = 1.0f / std::sqrt(float{kHeadDim});
  for (auto _ : state) {
    backend.Embed(embed, ids, x.data());
    for (const Layer& w : layers) {
      const int layer = static_cast<int>(&w - layers.data());
      backend.RmsNorm(x.data(), w.norm1, t, 1e-6f, xb.data());
      backend.MatMul(w.wq, xb.data(), t, q.data(), &w.bq);
      backend.MatMul(w.wk, xb.data(), t, k.data(), &w.bk);
      backend.MatMul(w.wv, xb.data(), t, v.data(), &w.bv);
      backend.Rope(q.data(), batch, kHeads, kHeadDim, inv_freq);
      backend.Rope(k.data(), batch, kKvHeads, kHeadDim, inv_freq);
      backend.WriteKv(layer, k.data(), v.data(), batch);
      backend.Attention(layer, q.data(), batch, kHeads, scale, attn.data());
      backend.MatMul(w.wo, attn.data(), t, out.data(), nullptr);
      backend.Add(x.data(), out.data(), int64_t{t} * kHidden);
      backend.RmsNorm(x.data(), w.norm2, t, 1e-6f, xb.data());
      backend.MatMul(w.gate, xb.data(), t, gate.data(), nullptr);
      backend.MatMul(w.up, xb.data(), t, up.data(), nullptr);
      backend.SwiGlu(gate.data(), up.data(), int64_t{t} * kInter, gate.data());
      backend.MatMul(w.down, gate.data(), t, out.data(), nullptr);
      backend.Add(x.data(), out.data(), int64_t{t} * kHidden);
    }
    backend.GatherRows(x.data(), kHidden, last_rows, last.data());
    backend.RmsNorm(last.data(), final_norm, num_seqs, 1e-6f, last.data());
    backend.MatMul(lm_head, last.data(), num_seqs, logits.data(), nullptr);
    benchmark::DoNotOptimize(logits.data());
  }
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * t, benchmark::Counter::kIsRate);
}

struct Shape {
  const char* name;
  int64_t rows, cols;
};
constexpr Shape kShapes[] = {{"q_o", 1536, 1536},
                             {"k_v", 256, 1536},
                             {"gate_up", 8960, 1536},
                             {"down", 1536, 8960},
                             {"lm_head", 151936, 1536}};
constexpr DType kDTypes[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0};

template <typename... Args>
void Add(const std::string& name, Args&&... args) {
  Configure(benchmark::RegisterBenchmark(name.c_str(), std::forward<Args>(args)...));
}

void RegisterAll() {
  for (DType dtype : kDTypes) {
    const std::string type = std::string(DTypeName(dtype));
    for (const Shape& shape : kShapes) {
      for (int n : {1, 16, 512}) {
        if (n == 512 && shape.rows > 10000) continue;  // prefill computes logits for 1 row
        Add(absl::StrCat("MatMul/", type, "/", shape.name, "/n=", n), BM_MatMul, dtype, shape.rows,
            shape.cols, n, Variant::kDispatch);
      }
    }
    // The alternatives, at the shapes where the choice is made.
    for (const Shape& shape : {kShapes[0], kShapes[2], kShapes[3]}) {
      for (int n : {32, 64, 512}) {
        Add(absl::StrCat("MatMulAlt/", type, "/", shape.name, "/n=", n, "/prefill_blas"), BM_MatMul,
            dtype, shape.rows, shape.cols, n, Variant::kPrefillBlas);
        Add(absl::StrCat("MatMulAlt/", type, "/", shape.name, "/n=", n, "/prefill_blas_threaded"),
            BM_MatMul, dtype, shape.rows, shape.cols, n, Variant::kPrefillBlasThreaded);
        Add(absl::StrCat("MatMulAlt/", type, "/", shape.name, "/n=", n, "/prefill_own"), BM_MatMul,
            dtype, shape.rows, shape.cols, n, Variant::kPrefillOwn);
      }
      if (dtype == DType::kQ8_0) {
        for (int n : {1, 4, 16, 32, 64, 512}) {
          Add(absl::StrCat("MatMulAlt/", type, "/", shape.name, "/n=", n, "/int8_q8_0_avx2"),
              BM_MatMul, dtype, shape.rows, shape.cols, n, Variant::kInt8Q8_0Avx2);
          Add(absl::StrCat("MatMulAlt/", type, "/", shape.name, "/n=", n, "/int8_q8_0_avx512"),
              BM_MatMul, dtype, shape.rows, shape.cols, n, Variant::kInt8Q8_0Avx512);
          Add(absl::StrCat("MatMulAlt/", type, "/", shape.name, "/n=", n, "/int8_q8_0_amx"),
              BM_MatMul, dtype, shape.rows, shape.cols, n, Variant::kInt8Q8_0Amx);
        }
        for (int n : {1, 4, 16, 32}) {
          Add(absl::StrCat("MatMulAlt/", type, "/", shape.name, "/n=", n, "/small_batch_q8_0_avx2"),
              BM_MatMul, dtype, shape.rows, shape.cols, n, Variant::kSmallBatchQ8_0Avx2);
        }
      }
      if (dtype != DType::kQ8_0) {
        for (int n : {16, 32, 64}) {
          Add(absl::StrCat("MatMulAlt/", type, "/", shape.name, "/n=", n, "/small_batch"),
              BM_MatMul, dtype, shape.rows, shape.cols, n, Variant::kSmallBatch);
        }
      }
    }
    Add(absl::StrCat("MatMulAlt/", type, "/q_o/n=1/portable"), BM_MatMul, dtype, 1536, 1536, 1,
        Variant::kPortable);
    Add(absl::StrCat("MatMulAlt/", type, "/q_o/n=1/reference"), BM_MatMulReference, dtype, 1536,
        1536);
  }
  for (DType dtype : {DType::kF16, DType::kQ8_0}) {
    for (auto [seqs, context, rows, label] :
         {std::tuple{1, 0, 512, "prefill512"}, std::tuple{1, 512, 1, "decode1_ctx512"},
          std::tuple{16, 512, 1, "decode16_ctx512"}}) {
      Add(absl::StrCat("Forward/", DTypeName(dtype), "/", label), BM_Forward, dtype, seqs, context,
          rows);
    }
  }
  for (CpuKernelLevel level : {CpuKernelLevel::kAvx2, CpuKernelLevel::kPortable}) {
    const char* suffix = level == CpuKernelLevel::kAvx2 ? "" : "/portable";
    for (auto [seqs, context, rows, label] :
         {std::tuple{1, 512, 1, "decode_ctx512"}, std::tuple{1, 2048, 1, "decode_ctx2048"},
          std::tuple{16, 512, 1, "decode16_ctx512"}, std::tuple{16, 2048, 1, "decode16_ctx2048"},
          std::tuple{1, 0, 512, "prefill512"}}) {
      Add(absl::StrCat("Attention/", label, suffix), BM_Attention, seqs, context, rows, level);
    }
  }
}

}  // namespace
}  // namespace r1serve::engine

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0) {
      r1serve::engine::g_threads = std::atoi(argv[i] + 10);
    }
    if (std::strncmp(argv[i], "--working_set_mb=", 17) == 0) {
      r1serve::engine::g_working_set_bytes = std::atoll(argv[i] + 17) * (size_t{1} << 20);
    }
  }
  r1serve::engine::RegisterAll();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
