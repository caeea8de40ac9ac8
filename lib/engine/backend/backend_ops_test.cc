// Every op of the CPU backend against reference_ops.h on random inputs, at every kernel level
// the machine runs (portable always; AVX2, AVX-512 and AMX where available), with a per-op
// tolerance whose reason is stated where it is checked.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/engine/backend/cpu_backend.h"
#include "lib/engine/backend/matmul_kernels.h"
#include "lib/engine/backend/q8_0_groups.h"
#include "lib/engine/backend/reference_ops.h"

namespace r1serve::engine {
namespace {

std::vector<float> RandomFloats(std::mt19937& rng, int64_t n, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> out(n);
  for (float& v : out) v = dist(rng);
  return out;
}

// A random weight in `dtype`, owning its bytes; `values` are the floats it was made from.
struct HostWeight {
  std::vector<float> values;
  std::vector<std::byte> bytes;
  TensorView view;
  Weight weight;     // as the backend uploaded it (Q8_0 at AVX-512: the groups layout)
  Weight row_major;  // the bytes as they are, for the kernels that read only that layout
};

HostWeight MakeWeight(Backend& backend, std::mt19937& rng, DType dtype, int64_t rows, int64_t cols,
                      bool vector = false) {
  HostWeight w;
  w.values = RandomFloats(rng, rows * cols);
  w.bytes.resize(rows * RowBytes(dtype, cols));
  for (int64_t r = 0; r < rows; ++r) {
    EncodeRow(dtype, w.values.data() + r * cols, cols, w.bytes.data() + r * RowBytes(dtype, cols));
  }
  w.view.name = "test";
  w.view.dtype = dtype;
  w.view.shape = vector ? std::vector<int64_t>{cols} : std::vector<int64_t>{rows, cols};
  w.view.data = w.bytes.data();
  w.view.size_bytes = static_cast<int64_t>(w.bytes.size());
  auto uploaded = backend.UploadWeight(w.view, WeightUse::kMatMul);
  EXPECT_TRUE(uploaded.ok()) << uploaded.status();
  w.weight = *uploaded;
  w.row_major = w.weight;
  w.row_major.layout = WeightLayout::kRowMajor;
  w.row_major.data = w.bytes.data();
  w.row_major.owner = nullptr;
  return w;
}

constexpr DType kAllDTypes[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0};

std::string LevelName(CpuKernelLevel level) {
  switch (level) {
    case CpuKernelLevel::kPortable:
      return "Portable";
    case CpuKernelLevel::kAvx2:
      return "Avx2";
    case CpuKernelLevel::kAvx512:
      return "Avx512";
    case CpuKernelLevel::kAmx:
      return "Amx";
  }
  return "Unknown";
}

class BackendOpsTest : public ::testing::TestWithParam<CpuKernelLevel> {
 protected:
  void SetUp() override {
    if (GetParam() > DetectCpuKernelLevel()) GTEST_SKIP() << "CPU lacks " << LevelName(GetParam());
    backend_ = std::make_unique<CpuBackend>(CpuBackendOptions{.num_threads = 2});
    backend_->set_kernel_level(GetParam());
  }

  std::unique_ptr<CpuBackend> backend_;
  std::mt19937 rng_{1234};
};

TEST_P(BackendOpsTest, EmbedIsExactForEveryDType) {
  for (DType dtype : kAllDTypes) {
    HostWeight table = MakeWeight(*backend_, rng_, dtype, 50, 64);
    const std::vector<int32_t> ids = {3, 0, 49, 3, 17};
    std::vector<float> got(ids.size() * 64), want(ids.size() * 64);
    backend_->Embed(table.weight, ids, got.data());
    reference::Embed(table.weight, ids, want.data());
    // Both decode the same stored values with the same conversion: bit-exact.
    EXPECT_EQ(got, want) << DTypeName(dtype);
  }
}

// Q8_0 matrices uploaded at AVX-512 and above are copied into the groups layout (and only
// they): every row, padding rows of the last group included, reads back bit for bit.
TEST_P(BackendOpsTest, UploadPacksQ8_0MatricesAtAvx512) {
  const bool packs = GetParam() >= CpuKernelLevel::kAvx512;
  for (int64_t rows : {1, 15, 16, 17, 100}) {
    for (int64_t cols : {32, 96, 1024}) {
      SCOPED_TRACE(testing::Message() << "rows " << rows << " cols " << cols);
      HostWeight w = MakeWeight(*backend_, rng_, DType::kQ8_0, rows, cols);
      EXPECT_EQ(w.weight.layout, packs ? WeightLayout::kQ8_0Groups16 : WeightLayout::kRowMajor);
      EXPECT_EQ(w.weight.owner != nullptr, packs);
      EXPECT_EQ(w.weight.data == w.bytes.data(), !packs);
      std::vector<float> got(cols), want(cols);
      for (int64_t r = 0; r < rows; ++r) {
        DequantizeWeightRow(w.weight, r, got.data());
        DequantizeRow(DType::kQ8_0, w.bytes.data() + r * RowBytes(DType::kQ8_0, cols), cols,
                      want.data());
        ASSERT_EQ(got, want) << "row " << r;
      }
    }
  }
  // Lookup tables (an untied embedding), vectors and other dtypes are used where they lie.
  HostWeight table = MakeWeight(*backend_, rng_, DType::kQ8_0, 20, 64);
  absl::StatusOr<Weight> lookup = backend_->UploadWeight(table.view, WeightUse::kLookup);
  ASSERT_TRUE(lookup.ok()) << lookup.status();
  EXPECT_EQ(lookup->layout, WeightLayout::kRowMajor);
  EXPECT_EQ(lookup->data, table.bytes.data());
  HostWeight vector = MakeWeight(*backend_, rng_, DType::kQ8_0, 1, 64, /*vector=*/true);
  EXPECT_EQ(vector.weight.layout, WeightLayout::kRowMajor);
  HostWeight f16 = MakeWeight(*backend_, rng_, DType::kF16, 20, 64);
  EXPECT_EQ(f16.weight.data, f16.bytes.data());
}

TEST_P(BackendOpsTest, RmsNorm) {
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16}) {
    const int n = 5, dim = 1536;
    HostWeight scale = MakeWeight(*backend_, rng_, dtype, 1, dim, /*vector=*/true);
    std::vector<float> x = RandomFloats(rng_, n * dim, -3.0f, 3.0f);
    std::vector<float> got(n * dim), want(n * dim);
    backend_->RmsNorm(x.data(), scale.weight, n, 1e-6f, got.data());
    reference::RmsNorm(x.data(), scale.weight, n, 1e-6f, want.data());
    // Each output is x * inv_rms * scale: a handful of float roundings after the sum of squares
    // (float sums of 1536 positive terms lose at most ~1e-4 relative to double; the square
    // root halves that): 1e-5 relative.
    for (int i = 0; i < n * dim; ++i) {
      ASSERT_NEAR(got[i], want[i], 1e-5f * std::fabs(want[i]) + 1e-6f) << DTypeName(dtype) << i;
    }
    // In place (out == x) is allowed.
    backend_->RmsNorm(x.data(), scale.weight, n, 1e-6f, x.data());
    for (int i = 0; i < n * dim; ++i) ASSERT_EQ(x[i], got[i]);
  }
}

// The matmul tolerance, per output: y = Σ w_i x_i is computed in f32 by every kernel.
// - Float weights (F32/F16/BF16 decode exactly to f32): only the order of the f32 sums differs
//   from the double reference. A sum of K products in f32 errs by at most ~K·2^-24·Σ|w_i x_i|
//   in the worst case and ~sqrt(K)·2^-24 typically; 2e-5·Σ|w_i x_i| covers K up to ~9000 with
//   margin (K=8960 is Qwen2-1.5B's down projection).
// - Q8_0: the fast kernels quantize x to int8 blocks of 32 (as llama.cpp does) to use integer
//   dot products: each x_i moves by at most half a quantization step, amax(block)/254, so y
//   moves by at most Σ_i |w_i|·amax(block of i)/254, on top of the f32 rounding.
double MatMulTolerance(DType dtype, const std::vector<float>& w_row, const float* x, int64_t cols) {
  double abs_products = 0.0, quantization = 0.0;
  for (int64_t b = 0; b < cols; b += 32) {
    float amax = 0.0f;
    for (int64_t i = b; i < std::min(cols, b + 32); ++i) amax = std::max(amax, std::fabs(x[i]));
    for (int64_t i = b; i < std::min(cols, b + 32); ++i) {
      abs_products += std::fabs(double{w_row[i]} * x[i]);
      quantization += std::fabs(w_row[i]) * amax / 254.0;
    }
  }
  return 2e-5 * abs_products + (dtype == DType::kQ8_0 ? quantization * 1.001 : 0.0) + 1e-6;
}

// A matmul kernel as the tests call it: the backend's dispatch, or one version directly.
// It gets the HostWeight so that it can pick the uploaded or the row-major weight.
using MatMulFn = std::function<void(const HostWeight&, const float*, int, float*, const float*)>;

void CheckMatMul(CpuBackend& backend, std::mt19937& rng, DType dtype, int64_t rows, int64_t cols,
                 int n, bool with_bias, const MatMulFn& kernel = nullptr) {
  SCOPED_TRACE(testing::Message() << DTypeName(dtype) << " rows " << rows << " cols " << cols
                                  << " n " << n << " bias " << with_bias);
  HostWeight w = MakeWeight(backend, rng, dtype, rows, cols);
  HostWeight bias = MakeWeight(backend, rng, DType::kF32, 1, rows, /*vector=*/true);
  std::vector<float> x = RandomFloats(rng, int64_t{n} * cols);
  std::vector<float> got(int64_t{n} * rows, NAN), want(int64_t{n} * rows);
  if (kernel) {
    kernel(w, x.data(), n, got.data(), with_bias ? bias.values.data() : nullptr);
  } else {
    backend.MatMul(w.weight, x.data(), n, got.data(), with_bias ? &bias.weight : nullptr);
  }
  reference::MatMul(w.weight, x.data(), n, want.data(), with_bias ? &bias.weight : nullptr);
  std::vector<float> w_row(cols);
  int failures = 0;
  for (int64_t o = 0; o < rows && failures < 5; ++o) {
    DequantizeRow(dtype, w.bytes.data() + o * RowBytes(dtype, cols), cols, w_row.data());
    for (int t = 0; t < n && failures < 5; ++t) {
      const double tolerance = MatMulTolerance(dtype, w_row, x.data() + t * cols, cols);
      const double error = std::fabs(double{got[t * rows + o]} - want[t * rows + o]);
      if (!(error <= tolerance)) {
        ++failures;
        ADD_FAILURE() << "y[" << t << ", " << o << "] = " << got[t * rows + o] << ", want "
                      << want[t * rows + o] << " (tolerance " << tolerance << ")";
      }
    }
  }
}

TEST_P(BackendOpsTest, MatMulEveryDTypeAndBatchSize) {
  for (DType dtype : kAllDTypes) {
    // Odd row counts and batch sizes leave remainders in every tile of the fast kernels; the
    // large n takes the prefill path.
    for (int n : {1, 2, 3, 5, 16, 17, 40, 130}) {
      CheckMatMul(*backend_, rng_, dtype, /*rows=*/67, /*cols=*/96, n, /*with_bias=*/n % 2 == 1);
    }
    CheckMatMul(*backend_, rng_, dtype, /*rows=*/300, /*cols=*/1024, 1, true);
    CheckMatMul(*backend_, rng_, dtype, /*rows=*/33, /*cols=*/2080, 16, false);
  }
}

TEST_P(BackendOpsTest, MatMulLargePrefillShape) {
  for (DType dtype : kAllDTypes) {
    CheckMatMul(*backend_, rng_, dtype, /*rows=*/520, /*cols=*/768, /*n=*/300, true);
  }
}

// Every matmul version on its own, whatever n the dispatch would give it (each stays a
// correct general kernel, so the dispatch thresholds can move).
TEST_P(BackendOpsTest, MatMulEveryKernelVersion) {
  ThreadPool& pool = backend_->thread_pool();
  const CpuKernelLevel level = GetParam();
  const auto split = [&pool](int64_t rows, const auto& slice) {
    pool.ParallelFor(0, rows, 16, slice);
  };
  // The AVX2 kernels read row-major weights; the dispatching ones take what UploadWeight made.
  std::vector<std::pair<std::string, MatMulFn>> versions = {
      {"small_batch_portable",
       [&](const HostWeight& w, const float* x, int n, float* y, const float* b) {
         split(w.weight.rows, [&](int64_t lo, int64_t hi) {
           matmul_kernels::SmallBatchPortable(w.weight, x, n, y, b, lo, hi);
         });
       }},
      {"prefill_blas", [&](const HostWeight& w, const float* x, int n, float* y, const float* b) {
         matmul_kernels::PrefillBlas(pool, level, w.weight, x, n, y, b);
       }}};
  if (level >= CpuKernelLevel::kAvx2) {
    versions.push_back({"small_batch_avx2",
                        [&](const HostWeight& hw, const float* x, int n, float* y, const float* b) {
                          const Weight& w = hw.row_major;
                          if (w.dtype == DType::kQ8_0) {
                            matmul_kernels::QuantizedX qx;
                            matmul_kernels::QuantizeXAvx2(x, n, w.cols, qx);
                            split(w.rows, [&](int64_t lo, int64_t hi) {
                              matmul_kernels::SmallBatchQ8_0Avx2(w, qx, y, b, lo, hi);
                            });
                          } else {
                            split(w.rows, [&](int64_t lo, int64_t hi) {
                              matmul_kernels::SmallBatchAvx2(w, x, n, y, b, lo, hi);
                            });
                          }
                        }});
    versions.push_back(
        {"prefill_own", [&](const HostWeight& w, const float* x, int n, float* y, const float* b) {
           matmul_kernels::PrefillOwn(pool, w.row_major, x, n, y, b);
         }});
  }
  // The int8 path for Q8_0 (other dtypes: MatMulQ8_0Int8 is not for them), on the uploaded
  // weight (AVX-512 / AMX: groups layout) and at kAvx2 on the row-major one.
  versions.push_back(
      {"int8_q8_0", [&](const HostWeight& w, const float* x, int n, float* y, const float* b) {
         if (w.weight.dtype == DType::kQ8_0) {
           matmul_kernels::MatMulQ8_0Int8(pool, level, w.weight, x, n, y, b);
         } else {
           matmul_kernels::PrefillBlas(pool, level, w.weight, x, n, y, b);
         }
       }});
  if (level >= CpuKernelLevel::kAvx2) {
    versions.push_back({"int8_q8_0_avx2",
                        [&](const HostWeight& w, const float* x, int n, float* y, const float* b) {
                          if (w.weight.dtype == DType::kQ8_0) {
                            matmul_kernels::MatMulQ8_0Int8(pool, CpuKernelLevel::kAvx2, w.row_major,
                                                           x, n, y, b);
                          } else {
                            matmul_kernels::PrefillBlas(pool, level, w.weight, x, n, y, b);
                          }
                        }});
  }
  for (const auto& [name, kernel] : versions) {
    SCOPED_TRACE(name);
    for (DType dtype : kAllDTypes) {
      for (int n : {1, 7, 37}) {
        CheckMatMul(*backend_, rng_, dtype, /*rows=*/83, /*cols=*/320, n, n != 7, kernel);
      }
      // k longer than the prefill kernel's 256-wide k-slices, rows past a 16-row panel.
      CheckMatMul(*backend_, rng_, dtype, /*rows=*/35, /*cols=*/608, 13, true, kernel);
    }
  }
}

// The int8 kernels of the Q8_0 path against its scalar definition (SmallBatchQ8_0Portable) on
// the same quantized x. The quantizers must agree bit for bit; the integer block dot products
// are then exact in every kernel, so only the order of the f32 sums of (dot x scale x scale)
// terms differs: K / 32 terms (at most 280 here), so 2e-5 of Σ|w_i|·|x_i quantized| covers
// it with a wide margin, and a wrong block, lane or correction shows up far above it.
TEST_P(BackendOpsTest, MatMulQ8_0Int8KernelsMatchScalarDefinition) {
  const CpuKernelLevel level = GetParam();
  if (level == CpuKernelLevel::kPortable) GTEST_SKIP() << "the scalar definition itself";
  ThreadPool& pool = backend_->thread_pool();
  struct Case {
    int64_t rows, cols;
    int n;
  };
  // Rows off every tile (8-row AVX2 groups, 16-row AVX-512 groups in pairs, 32-row panels),
  // x rows off the 4-row tiles, k from one block up to the down projection's 8960.
  const Case cases[] = {{1, 32, 1},    {15, 64, 3},     {17, 96, 5},     {33, 320, 16},
                        {67, 608, 17}, {100, 1536, 40}, {300, 256, 130}, {48, 8960, 9}};
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << "rows " << c.rows << " cols " << c.cols << " n " << c.n);
    HostWeight w = MakeWeight(*backend_, rng_, DType::kQ8_0, c.rows, c.cols);
    // Varied magnitudes per block, zeros (a block of zeros has scale 0) and a lone outlier.
    std::vector<float> x = RandomFloats(rng_, int64_t{c.n} * c.cols, -4.0f, 4.0f);
    for (int64_t i = 0; i < std::min<int64_t>(32, x.size()); ++i) x[i] = 0.0f;
    x[x.size() / 2] = 100.0f;
    std::vector<float> bias = RandomFloats(rng_, c.rows);

    matmul_kernels::QuantizedX scalar, simd;
    matmul_kernels::ResizeQuantizedX(c.n, c.cols, scalar);
    matmul_kernels::QuantizeRowsPortable(x.data(), 0, c.n, scalar);
    matmul_kernels::QuantizeXAvx2(x.data(), c.n, c.cols, simd);
    ASSERT_EQ(simd.values, scalar.values);
    ASSERT_EQ(simd.scales, scalar.scales);
    ASSERT_EQ(simd.sums, scalar.sums);

    // The definition on the file's layout; on the groups layout it must give the same bits.
    std::vector<float> want(int64_t{c.n} * c.rows);
    matmul_kernels::SmallBatchQ8_0Portable(w.row_major, scalar, want.data(), bias.data(), 0,
                                           c.rows);
    if (w.weight.layout != WeightLayout::kRowMajor) {
      std::vector<float> on_groups(want.size());
      matmul_kernels::SmallBatchQ8_0Portable(w.weight, scalar, on_groups.data(), bias.data(), 0,
                                             c.rows);
      ASSERT_EQ(on_groups, want);
    }

    std::vector<std::pair<std::string, std::function<void(float*)>>> kernels = {
        {"small_batch_avx2",
         [&](float* y) {
           matmul_kernels::SmallBatchQ8_0Avx2(w.row_major, simd, y, bias.data(), 0, c.rows);
         }},
        {"int8_q8_0_avx2",
         [&](float* y) {
           matmul_kernels::MatMulQ8_0Int8(pool, CpuKernelLevel::kAvx2, w.row_major, x.data(), c.n,
                                          y, bias.data());
         }},
        {"int8_q8_0", [&](float* y) {
           matmul_kernels::MatMulQ8_0Int8(pool, level, w.weight, x.data(), c.n, y, bias.data());
         }}};
    std::vector<float> w_row(c.cols);
    for (const auto& [name, kernel] : kernels) {
      SCOPED_TRACE(name);
      std::vector<float> got(want.size(), NAN);
      kernel(got.data());
      int failures = 0;
      for (int64_t o = 0; o < c.rows && failures < 5; ++o) {
        DequantizeRow(DType::kQ8_0, w.bytes.data() + o * RowBytes(DType::kQ8_0, c.cols), c.cols,
                      w_row.data());
        for (int t = 0; t < c.n && failures < 5; ++t) {
          double magnitude = 0.0;
          for (int64_t i = 0; i < c.cols; ++i) {
            magnitude += std::fabs(double{w_row[i]}) *
                         std::fabs(scalar.values[t * c.cols + i] *
                                   double{scalar.scales[(t * c.cols + i) / 32]});
          }
          const double error = std::fabs(double{got[t * c.rows + o]} - want[t * c.rows + o]);
          if (!(error <= 2e-5 * magnitude + 1e-6)) {
            ++failures;
            ADD_FAILURE() << "y[" << t << ", " << o << "] = " << got[t * c.rows + o] << ", want "
                          << want[t * c.rows + o];
          }
        }
      }
    }
  }
}

TEST_P(BackendOpsTest, MatMulBiasInF16) {
  HostWeight w = MakeWeight(*backend_, rng_, DType::kF16, 40, 64);
  HostWeight bias = MakeWeight(*backend_, rng_, DType::kF16, 1, 40, /*vector=*/true);
  std::vector<float> x = RandomFloats(rng_, 3 * 64);
  std::vector<float> got(3 * 40), want(3 * 40);
  backend_->MatMul(w.weight, x.data(), 3, got.data(), &bias.weight);
  reference::MatMul(w.weight, x.data(), 3, want.data(), &bias.weight);
  for (int i = 0; i < 3 * 40; ++i) EXPECT_NEAR(got[i], want[i], 1e-4f) << i;
}

// A batch of sequences with the given (start_position, num_rows), each with its own block
// table drawn from a shuffled pool of block ids, so that no sequence's blocks are contiguous.
struct TestBatch {
  BatchLayout layout;
  std::vector<std::vector<int32_t>> tables;
};

TestBatch MakeBatch(std::mt19937& rng, const std::vector<std::pair<int, int>>& sequences,
                    int block_size, int num_blocks) {
  TestBatch batch;
  std::vector<int32_t> pool(num_blocks);
  std::iota(pool.begin(), pool.end(), 0);
  std::shuffle(pool.begin(), pool.end(), rng);
  size_t next_block = 0;
  batch.tables.resize(sequences.size());
  int row = 0;
  for (size_t s = 0; s < sequences.size(); ++s) {
    const auto [start, count] = sequences[s];
    const int blocks = (start + count + block_size - 1) / block_size;
    for (int b = 0; b < blocks; ++b) batch.tables[s].push_back(pool.at(next_block++));
    SequenceSlice slice;
    slice.first_row = row;
    slice.num_rows = count;
    slice.start_position = start;
    slice.block_table = batch.tables[s].data();
    slice.num_blocks = blocks;
    batch.layout.sequences.push_back(slice);
    for (int i = 0; i < count; ++i) {
      const int position = start + i;
      batch.layout.positions.push_back(position);
      batch.layout.kv_slots.push_back(batch.tables[s][position / block_size] * block_size +
                                      position % block_size);
    }
    row += count;
  }
  batch.layout.num_rows = row;
  return batch;
}

// Random cache contents (encoded floats) of one layer: all its K blocks, then all its V blocks
// (ReadKvBlocks with v_host = k_host + num_blocks * BlockBytes(), in block order).
std::vector<std::byte> RandomCacheLayer(std::mt19937& rng, const KvCacheSpec& spec) {
  const int64_t values =
      int64_t{spec.num_blocks} * spec.num_kv_heads * spec.block_size * spec.head_dim * 2;
  std::vector<float> floats = RandomFloats(rng, values);
  std::vector<std::byte> bytes(values * RowBytes(spec.dtype, 1));
  EncodeRow(spec.dtype, floats.data(), values, bytes.data());
  return bytes;
}

std::vector<int32_t> AllBlocks(const KvCacheSpec& spec) {
  std::vector<int32_t> ids(spec.num_blocks);
  std::iota(ids.begin(), ids.end(), 0);
  return ids;
}

TEST_P(BackendOpsTest, RopeNeoxLayout) {
  const int num_heads = 3, head_dim = 64;
  TestBatch batch = MakeBatch(rng_, {{0, 4}, {5000, 1}, {123456, 2}}, 64, 3000);
  std::vector<float> inv_freq(head_dim / 2);
  for (int i = 0; i < head_dim / 2; ++i) {
    inv_freq[i] = static_cast<float>(std::pow(1000000.0, -2.0 * i / head_dim));
  }
  std::vector<float> got =
      RandomFloats(rng_, int64_t{batch.layout.num_rows} * num_heads * head_dim);
  std::vector<float> want = got;
  backend_->Rope(got.data(), batch.layout, num_heads, head_dim, inv_freq);
  reference::Rope(want.data(), batch.layout, num_heads, head_dim, inv_freq);
  // cos and sin are computed in double and rounded to f32 (relative error 2^-24 each), then
  // two products and a sum in f32: a few ulp of |a| + |b| <= 2, so 1e-6 absolute.
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-6f) << i;

  // Same positions again (the cached angles), then other positions and other frequencies.
  for (int round = 0; round < 3; ++round) {
    if (round == 1) batch = MakeBatch(rng_, {{7, 3}, {0, 2}}, 64, 3000);
    if (round == 2) inv_freq[3] *= 0.5f;
    std::vector<float> again =
        RandomFloats(rng_, int64_t{batch.layout.num_rows} * num_heads * head_dim);
    std::vector<float> again_want = again;
    backend_->Rope(again.data(), batch.layout, num_heads, head_dim, inv_freq);
    reference::Rope(again_want.data(), batch.layout, num_heads, head_dim, inv_freq);
    for (size_t i = 0; i < again.size(); ++i) ASSERT_NEAR(again[i], again_want[i], 1e-6f) << i;
  }
}

TEST_P(BackendOpsTest, SwiGluAddGather) {
  const int64_t n = 70000;  // crosses the elementwise split into threads
  std::vector<float> gate = RandomFloats(rng_, n, -8.0f, 8.0f), up = RandomFloats(rng_, n);
  // Where exp(-gate) underflows or overflows in f32.
  const float extremes[] = {-1000.0f, -100.0f, -88.5f, -87.0f, 87.0f, 89.0f, 100.0f, 1000.0f};
  for (size_t i = 0; i < std::size(extremes); ++i) gate[1000 + i] = extremes[i];
  std::vector<float> got(n), want(n);
  backend_->SwiGlu(gate.data(), up.data(), n, got.data());
  reference::SwiGlu(gate.data(), up.data(), n, want.data());
  // silu(g) = g / (1 + exp(-g)) in f32: exp within a few ulp, then a divide and a multiply:
  // 1e-6 relative of |g·up| covers it.
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_NEAR(got[i], want[i], 1e-6f * std::fabs(gate[i] * up[i]) + 1e-7f) << i;
  }
  std::vector<float> in_place = gate;
  backend_->SwiGlu(in_place.data(), up.data(), n, in_place.data());
  EXPECT_EQ(in_place, got);

  std::vector<float> x = gate, x_want = gate;
  backend_->Add(x.data(), up.data(), n);
  reference::Add(x_want.data(), up.data(), n);
  EXPECT_EQ(x, x_want);  // one f32 addition each: exact

  const std::vector<int32_t> rows = {6, 0, 6, 2};
  std::vector<float> gathered(rows.size() * 7), gathered_want(rows.size() * 7);
  backend_->GatherRows(up.data(), 7, rows, gathered.data());
  reference::GatherRows(up.data(), 7, rows, gathered_want.data());
  EXPECT_EQ(gathered, gathered_want);
}

struct AttentionCase {
  DType cache_dtype;
  int num_heads;
  int num_kv_heads;
  int head_dim;
  int block_size;
  std::vector<std::pair<int, int>> sequences;  // (start_position, num_rows)
};

void CheckAttention(CpuBackend& backend, std::mt19937& rng, const AttentionCase& c) {
  SCOPED_TRACE(testing::Message() << DTypeName(c.cache_dtype) << " heads " << c.num_heads << "/"
                                  << c.num_kv_heads << " dim " << c.head_dim << " block "
                                  << c.block_size);
  KvCacheSpec spec;
  spec.num_layers = 2;
  // Every sequence's blocks plus spares, so that tables come from a shuffled, larger pool.
  spec.num_blocks = 8;
  for (const auto& [start, count] : c.sequences) {
    spec.num_blocks += (start + count + c.block_size - 1) / c.block_size;
  }
  spec.block_size = c.block_size;
  spec.num_kv_heads = c.num_kv_heads;
  spec.head_dim = c.head_dim;
  spec.dtype = c.cache_dtype;
  ASSERT_TRUE(backend.AllocateKvCache(spec).ok());
  const int layer = 1;
  const std::vector<int32_t> all = AllBlocks(spec);
  // Earlier context of every sequence (positions before start_position): random cache
  // contents, the same in the backend and in the reference's host copy.
  std::vector<std::byte> host = RandomCacheLayer(rng, spec);
  const size_t half = all.size() * spec.BlockBytes();  // the layer's K blocks, then its V
  backend.WriteKvBlocks(layer, all, host.data(), host.data() + half);

  TestBatch batch = MakeBatch(rng, c.sequences, spec.block_size, spec.num_blocks);
  const int rows = batch.layout.num_rows;
  const int64_t kv_width = int64_t{c.num_kv_heads} * c.head_dim;
  const int64_t q_width = int64_t{c.num_heads} * c.head_dim;
  std::vector<float> k = RandomFloats(rng, rows * kv_width);
  std::vector<float> v = RandomFloats(rng, rows * kv_width);
  std::vector<float> q = RandomFloats(rng, rows * q_width);

  backend.WriteKv(layer, k.data(), v.data(), batch.layout);
  void* ref_k = host.data();
  void* ref_v = host.data() + spec.num_blocks * spec.BlockBytes();
  reference::WriteKv(spec, ref_k, ref_v, k.data(), v.data(), batch.layout);
  // Storing is a conversion per value (round to nearest even for F16) in both: bit-exact.
  std::vector<std::byte> read_back(host.size());
  backend.ReadKvBlocks(layer, all, read_back.data(), read_back.data() + half);
  ASSERT_TRUE(read_back == host) << "WriteKv differs from the reference";

  std::vector<float> got(rows * q_width, NAN), want(rows * q_width);
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  backend.Attention(layer, q.data(), batch.layout, c.num_heads, scale, got.data());
  reference::Attention(spec, ref_k, ref_v, q.data(), batch.layout, c.num_heads, scale, want.data());
  // Both read the same (already rounded) cache, so the F16 storage error is not part of the
  // comparison (it is the cache's, not the kernel's). What differs: f32 dot products of
  // head_dim terms (|q·k|·scale <~ 3, error ~1e-6), f32 exp and softmax sums over up to a few
  // hundred positions, and the f32 weighted sum of V (|v| <= 1): 2e-5 absolute on outputs
  // bounded by 1.
  int failures = 0;
  for (int64_t i = 0; i < rows * q_width && failures < 5; ++i) {
    if (!(std::fabs(got[i] - want[i]) <= 2e-5f)) {
      ++failures;
      ADD_FAILURE() << "out[" << i / q_width << ", " << (i % q_width) / c.head_dim << ", "
                    << i % c.head_dim << "] = " << got[i] << ", want " << want[i];
    }
  }
}

TEST_P(BackendOpsTest, AttentionMixedPrefillAndDecodeBatch) {
  // A fresh prefill, two decodes with context, a chunked prefill continuing a sequence, and
  // a first-token decode, with GQA (group of 6), in both cache dtypes.
  const std::vector<std::pair<int, int>> sequences = {
      {0, 37}, {100, 1}, {45, 20}, {0, 1}, {250, 1}};
  for (DType dtype : {DType::kF16, DType::kF32}) {
    CheckAttention(*backend_, rng_, {dtype, 12, 2, 128, 16, sequences});
  }
}

TEST_P(BackendOpsTest, AttentionHeadLayouts) {
  // Multi-head (group 1), multi-query (one KV head), small heads, other block sizes.
  CheckAttention(*backend_, rng_, {DType::kF16, 4, 4, 64, 16, {{0, 9}, {30, 1}, {17, 3}}});
  CheckAttention(*backend_, rng_, {DType::kF16, 8, 1, 32, 8, {{3, 5}, {60, 1}}});
  CheckAttention(*backend_, rng_, {DType::kF32, 6, 3, 16, 32, {{0, 70}, {33, 1}}});
  CheckAttention(*backend_, rng_, {DType::kF16, 2, 1, 128, 1, {{0, 5}, {20, 2}}});
}

TEST_P(BackendOpsTest, AttentionDecodeLongContext) {
  CheckAttention(*backend_, rng_, {DType::kF16, 12, 2, 128, 16, {{700, 1}, {0, 1}, {511, 1}}});
}

TEST_P(BackendOpsTest, KvBlocksRoundTripAndCopy) {
  KvCacheSpec spec;
  spec.num_layers = 3;
  spec.num_blocks = 12;
  spec.block_size = 4;
  spec.num_kv_heads = 2;
  spec.head_dim = 8;
  spec.dtype = DType::kF16;
  ASSERT_TRUE(backend_->AllocateKvCache(spec).ok());
  const size_t block_bytes = spec.BlockBytes();
  EXPECT_EQ(block_bytes, 2u * 4 * 8 * 2);
  const std::vector<int32_t> all = AllBlocks(spec);

  // Fill every layer with random contents and keep a host mirror per layer.
  std::vector<std::vector<std::byte>> mirror(spec.num_layers);
  for (int layer = 0; layer < spec.num_layers; ++layer) {
    mirror[layer] = RandomCacheLayer(rng_, spec);
    backend_->WriteKvBlocks(layer, all, mirror[layer].data(),
                            mirror[layer].data() + spec.num_blocks * block_bytes);
  }

  // Round trip through a subset of blocks in an arbitrary order, K and V in separate buffers.
  const std::vector<int32_t> some = {7, 2, 11};
  std::vector<std::byte> out[2] = {std::vector<std::byte>(some.size() * block_bytes),
                                   std::vector<std::byte>(some.size() * block_bytes)};
  backend_->ReadKvBlocks(1, some, out[0].data(), out[1].data());
  for (size_t i = 0; i < some.size(); ++i) {
    for (int kv = 0; kv < 2; ++kv) {
      EXPECT_EQ(std::memcmp(out[kv].data() + i * block_bytes,
                            mirror[1].data() + (kv * spec.num_blocks + some[i]) * block_bytes,
                            block_bytes),
                0);
    }
  }
  for (int kv = 0; kv < 2; ++kv) {
    std::vector<float> fresh_values = RandomFloats(rng_, out[kv].size() / 2);
    EncodeRow(DType::kF16, fresh_values.data(), fresh_values.size(), out[kv].data());
  }
  backend_->WriteKvBlocks(1, some, out[0].data(), out[1].data());
  for (size_t i = 0; i < some.size(); ++i) {
    for (int kv = 0; kv < 2; ++kv) {
      std::memcpy(mirror[1].data() + (kv * spec.num_blocks + some[i]) * block_bytes,
                  out[kv].data() + i * block_bytes, block_bytes);
    }
  }

  // Copy-on-write in order: 3 -> 5, then 5 -> 9 (reads what the first copy wrote).
  const std::vector<std::pair<int32_t, int32_t>> copies = {{3, 5}, {5, 9}, {7, 0}};
  backend_->CopyKvBlocks(copies);
  for (const auto& [src, dst] : copies) {
    for (int layer = 0; layer < spec.num_layers; ++layer) {
      for (int kv = 0; kv < 2; ++kv) {
        std::byte* base = mirror[layer].data() + kv * spec.num_blocks * block_bytes;
        std::memcpy(base + dst * block_bytes, base + src * block_bytes, block_bytes);
      }
    }
  }
  for (int layer = 0; layer < spec.num_layers; ++layer) {
    std::vector<std::byte> got(mirror[layer].size());
    backend_->ReadKvBlocks(layer, all, got.data(), got.data() + spec.num_blocks * block_bytes);
    EXPECT_TRUE(got == mirror[layer]) << "layer " << layer;
  }
}

TEST_P(BackendOpsTest, RejectsBadKvSpecAndWeights) {
  KvCacheSpec spec;
  spec.num_layers = 1;
  spec.num_blocks = 1;
  spec.num_kv_heads = 1;
  spec.head_dim = 8;
  spec.dtype = DType::kQ8_0;
  EXPECT_FALSE(backend_->AllocateKvCache(spec).ok());
  TensorView bad;
  bad.name = "bad";
  bad.dtype = DType::kQ8_0;
  bad.shape = {2, 40};  // not a multiple of 32
  EXPECT_FALSE(backend_->UploadWeight(bad, WeightUse::kMatMul).ok());
}

INSTANTIATE_TEST_SUITE_P(Levels, BackendOpsTest,
                         ::testing::Values(CpuKernelLevel::kPortable, CpuKernelLevel::kAvx2,
                                           CpuKernelLevel::kAvx512, CpuKernelLevel::kAmx),
                         [](const auto& info) { return LevelName(info.param); });

}  // namespace
}  // namespace r1serve::engine
