#include "lib/engine/backend/q8_0_groups.h"

#include <sys/mman.h>

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "lib/base/status_macros.h"
#include "lib/engine/backend/matmul_kernels.h"

namespace r1serve::engine {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;

// `bytes` of zeroed anonymous memory starting on a 2 MiB boundary, transparent huge pages
// asked for (with THP in "madvise" mode, as on Debian, only such ranges get them). The mapping
// ends at `bytes` rounded to 4 KiB: a last partial 2 MiB stays in small pages instead of
// costing a whole huge page.
absl::StatusOr<std::shared_ptr<void>> MapHugePageAligned(size_t bytes) {
  const size_t length = (bytes + 4095) / 4096 * 4096;
  void* raw =
      mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cpu backend: cannot map ", bytes, " bytes for a packed weight"));
  }
  const auto start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHugePage - 1) / kHugePage * kHugePage;
  if (aligned > start) munmap(raw, aligned - start);
  const uintptr_t end = start + length + kHugePage;
  if (end > aligned + length) {
    munmap(reinterpret_cast<void*>(aligned + length), end - aligned - length);
  }
  void* data = reinterpret_cast<void*>(aligned);
  madvise(data, length, MADV_HUGEPAGE);  // a hint: without THP, small pages still work
  return std::shared_ptr<void>(data, [length](void* p) { munmap(p, length); });
}

}  // namespace

void ReadQ8_0Block(const Weight& w, int64_t row, int64_t block, float* scale, int8_t* values) {
  assert(w.dtype == DType::kQ8_0 && row >= 0 && row < w.rows);
  const auto* base = static_cast<const std::byte*>(w.data);
  if (w.layout == WeightLayout::kRowMajor) {
    const std::byte* b = base + row * RowBytes(DType::kQ8_0, w.cols) + block * kQ8_0BlockBytes;
    DequantizeRow(DType::kF16, b, 1, scale);
    std::memcpy(values, b + 2, kQ8_0BlockValues);
    return;
  }
  const int64_t lane = row % kQ8_0GroupRows;
  const std::byte* b =
      base + row / kQ8_0GroupRows * Q8_0GroupBytes(w.cols) + block * kQ8_0GroupBlockBytes;
  DequantizeRow(DType::kF16, b + 2 * lane, 1, scale);
  const std::byte* quants = b + 2 * kQ8_0GroupRows;
  for (int step = 0; step < kQ8_0BlockValues / 4; ++step) {
    for (int i = 0; i < 4; ++i) {
      values[step * 4 + i] = static_cast<int8_t>(quants[(step * kQ8_0GroupRows + lane) * 4 + i]);
    }
  }
}

void DequantizeWeightRow(const Weight& w, int64_t row, float* out) {
  if (w.layout == WeightLayout::kRowMajor) {
    DequantizeRow(w.dtype, static_cast<const std::byte*>(w.data) + row * RowBytes(w.dtype, w.cols),
                  w.cols, out);
    return;
  }
  float scale;
  int8_t values[kQ8_0BlockValues];
  for (int64_t b = 0; b < w.cols / kQ8_0BlockValues; ++b) {
    ReadQ8_0Block(w, row, b, &scale, values);
    for (int i = 0; i < kQ8_0BlockValues; ++i) out[b * kQ8_0BlockValues + i] = scale * values[i];
  }
}

absl::StatusOr<Weight> PackQ8_0Groups(ThreadPool& pool, const Weight& row_major) {
  assert(row_major.dtype == DType::kQ8_0 && row_major.layout == WeightLayout::kRowMajor);
  const int64_t groups = (row_major.rows + kQ8_0GroupRows - 1) / kQ8_0GroupRows;
  const int64_t group_bytes = Q8_0GroupBytes(row_major.cols);
  ASSIGN_OR_RETURN(std::shared_ptr<void> memory,
                   MapHugePageAligned(static_cast<size_t>(groups * group_bytes)));
  auto* packed = static_cast<std::byte*>(memory.get());
  pool.ParallelFor(0, groups, 16, [&](int64_t lo, int64_t hi) {
    const int64_t row_lo = lo * kQ8_0GroupRows;
    const int64_t count = std::min(hi * kQ8_0GroupRows, row_major.rows) - row_lo;
    matmul_kernels::PackQ8_0Avx512(row_major, row_lo, count, packed + lo * group_bytes);
  });
  Weight weight = row_major;
  weight.layout = WeightLayout::kQ8_0Groups16;
  weight.data = packed;
  weight.owner = std::move(memory);
  return weight;
}

}  // namespace r1serve::engine
