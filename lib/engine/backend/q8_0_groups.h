// The CPU backend's own layout for Q8_0 weights ("Q8_0 groups"), made once when a weight is
// uploaded at kernel level kAvx512 or above: rows in groups of 16, each group's blocks
// contiguous, each block interleaved for vpdpbusd and AMX tdpbssd:
//
//   weight  [ceil(rows / 16) groups][cols / 32 blocks][kQ8_0GroupBlockBytes]
//   block   [16 rows] fp16 scales (32 bytes), then [8 (k / 4)][16 rows][4 bytes] of int8 w
//
// so one 64-byte load (or one AMX B-tile row) holds 4 consecutive k of all 16 rows, and a block
// costs 16 * 34 bytes, exactly as in the file. Rows past `rows` in the last group
// are padding: scale 0, w = 0. Why: the file's row layout makes the decode GEMV stream 8-16
// rows at once in 34-byte pieces (19.6 GB/s for Qwen2-1.5B's Q8_0 decode here); this layout is
// one contiguous stream per group (28.8 GB/s, against a 31 GB/s read limit) and needs no
// repacking per call for the prefill GEMM. The copy is 2 MiB-aligned with transparent huge
// pages asked for; they made no measurable difference to decode (18.0 tokens/s either way).
//
//   Weight packed = *PackQ8_0Groups(pool, row_major);   // layout kQ8_0Groups16
//   float row[cols];
//   DequantizeWeightRow(packed, 5, row);                 // any dtype, any layout
#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "lib/engine/backend/backend.h"
#include "lib/engine/backend/thread_pool.h"

namespace r1serve::engine {

inline constexpr int64_t kQ8_0GroupRows = 16;
inline constexpr int64_t kQ8_0GroupBlockBytes = kQ8_0GroupRows * (2 + kQ8_0BlockValues);

// Bytes of one group (16 rows x cols) in the layout.
inline int64_t Q8_0GroupBytes(int64_t cols) {
  return cols / kQ8_0BlockValues * kQ8_0GroupBlockBytes;
}

// Block `block` of row `row` of a Q8_0 weight in either layout: its scale and 32 int8 values.
void ReadQ8_0Block(const Weight& w, int64_t row, int64_t block, float* scale, int8_t* values);

// Row `row` of a weight of any dtype and layout as w.cols floats.
void DequantizeWeightRow(const Weight& w, int64_t row, float* out);

// A row-major Q8_0 matrix in the groups layout, in new memory the result owns (2 MiB-aligned,
// transparent huge pages asked for); packing is split over the pool's threads. Needs AVX-512
// (the packer uses its gathers): call it only at kernel level kAvx512 or above.
absl::StatusOr<Weight> PackQ8_0Groups(ThreadPool& pool, const Weight& row_major);

}  // namespace r1serve::engine
