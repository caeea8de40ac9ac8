// AVX-512 VNNI and AMX-INT8 Q8_0 kernels (see matmul_kernels.h) on weights in the Q8_0 groups
// layout (q8_0_groups.h): the packer that makes it, and the GEMM micro-kernels for any n.
// Every function here carries R1_AVX512 (or R1_AMX) and is only called after
// DetectCpuKernelLevel() returned kAvx512 (kAmx).
//
// The layout stores w as signed bytes. AMX multiplies signed by signed (tdpbssd): no
// correction. vpdpbusd multiplies unsigned bytes by signed bytes (4 products summed into each
// int32 lane), so the VNNI kernels make the weight side unsigned as they load it, w + 128
// (w ^ 0x80: exact for every int8, -128 included; one XOR per 64 bytes, shared by every x row
// of the tile), and start each block's sum at -128 * sum(x block), which the quantizer stored:
// sum((w + 128) * x) - 128 * sum(x) = sum(w * x), exactly, in int32 (at most 32 * 255 * 127 per
// block).
#if defined(__x86_64__)

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "lib/engine/backend/amx_tile_config.h"
#include "lib/engine/backend/matmul_kernels.h"
#include "lib/engine/backend/q8_0_groups.h"

// AVX-512 F/BW/VL + VNNI, plus what the AVX2 level has.
#define R1_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

namespace r1serve::engine::matmul_kernels {
namespace {

constexpr int64_t kGroupRows = kQ8_0GroupRows;
constexpr int64_t kPackedBlockBytes = kQ8_0GroupBlockBytes;
constexpr int64_t kScaleBytes = kGroupRows * 2;  // a block's fp16 scales, before its values

// The 16 fp16 scales of a packed block as f32.
R1_AVX512 inline __m512 BlockScales(const std::byte* packed) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(packed)));
}

// Software prefetch distance, in blocks, of the weight stream in AmxTile. With 16 x rows (16
// sequences decoding) each block is used once, straight from memory, and tdpbssd waited on
// its tile load: Qwen2-1.5B shape, 16-sequence decode 143 -> 167 tokens/s with 4 or 8 blocks
// ahead (16: 160); prefill, which reuses L2-resident panels, is unchanged.
constexpr int64_t kAheadBlocks = 4;

// ---- GEMM micro-kernel: y[M rows, NG * 16 columns] for M x rows (row stride `cols`
// bytes) and NG packed groups (stride group_bytes). Per block: the int32 accumulators start at
// the correction, 8 steps of 4 k each do NG loads (and flips) and M broadcasts for M * NG
// vpdpbusd, then
// M * NG conversions and FMAs with the scales. M = 4, NG = 2: 8 int32 + 8 f32 accumulators,
// 2 weight vectors, scale vectors and broadcasts: under the 32 zmm registers.
template <int M, int NG>
R1_AVX512 void GemmTile(const int8_t* xq, const float* xd, const int32_t* xs, int64_t cols,
                        const std::byte* groups, int64_t group_bytes, int valid, const float* bias,
                        float* y, int64_t ldy) {
  const int64_t blocks = cols / kQ8_0BlockValues;
  __m512 acc[M][NG];
#pragma GCC unroll 8
  for (int m = 0; m < M; ++m) {
#pragma GCC unroll 8
    for (int g = 0; g < NG; ++g) acc[m][g] = _mm512_setzero_ps();
  }
  const __m512i flip = _mm512_set1_epi32(static_cast<int>(0x80808080u));
  for (int64_t b = 0; b < blocks; ++b) {
    const std::byte* packed = groups + b * kPackedBlockBytes;
    // With one x row (batch-1 decode) the hardware prefetcher keeps up with the two streams
    // and software prefetches only cost (17.5 -> 16.9 tokens/s); with more, the loop is
    // instruction-dense and they help (8 sequences: 78 -> 89 tokens/s).
    if constexpr (M > 1) {
#pragma GCC unroll 2
      for (int g = 0; g < NG; ++g) {
        const char* ahead = reinterpret_cast<const char*>(packed + g * group_bytes +
                                                          kAheadBlocks * kPackedBlockBytes);
#pragma GCC unroll 9
        for (int line = 0; line < 9; ++line) _mm_prefetch(ahead + 64 * line, _MM_HINT_T0);
      }
    }
    __m512i dot[M][NG];
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) {
      const __m512i correction = _mm512_set1_epi32(-128 * xs[m * blocks + b]);
#pragma GCC unroll 8
      for (int g = 0; g < NG; ++g) dot[m][g] = correction;
    }
    const int8_t* xb = xq + b * kQ8_0BlockValues;
#pragma GCC unroll 8
    for (int s = 0; s < 8; ++s) {
      __m512i wv[NG];
#pragma GCC unroll 8
      for (int g = 0; g < NG; ++g) {
        wv[g] = _mm512_xor_si512(
            _mm512_loadu_si512(packed + g * group_bytes + kScaleBytes + s * 64), flip);
      }
#pragma GCC unroll 8
      for (int m = 0; m < M; ++m) {
        int32_t four;
        std::memcpy(&four, xb + m * cols + 4 * s, 4);
        const __m512i xv = _mm512_set1_epi32(four);
#pragma GCC unroll 8
        for (int g = 0; g < NG; ++g) dot[m][g] = _mm512_dpbusd_epi32(dot[m][g], wv[g], xv);
      }
    }
    __m512 dw[NG];
#pragma GCC unroll 8
    for (int g = 0; g < NG; ++g) {
      dw[g] = BlockScales(packed + g * group_bytes);
    }
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) {
      const __m512 dx = _mm512_set1_ps(xd[m * blocks + b]);
#pragma GCC unroll 8
      for (int g = 0; g < NG; ++g) {
        acc[m][g] =
            _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[m][g]), _mm512_mul_ps(dw[g], dx), acc[m][g]);
      }
    }
  }
#pragma GCC unroll 8
  for (int g = 0; g < NG; ++g) {
    const int columns =
        static_cast<int>(std::clamp<int64_t>(valid - g * kGroupRows, 0, kGroupRows));
    const __mmask16 mask = static_cast<__mmask16>((1u << columns) - 1);
    const __m512 b =
        bias != nullptr ? _mm512_maskz_loadu_ps(mask, bias + g * kGroupRows) : _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) {
      _mm512_mask_storeu_ps(y + m * ldy + g * kGroupRows, mask, _mm512_add_ps(acc[m][g], b));
    }
  }
}

using GemmTileFn = void (*)(const int8_t*, const float*, const int32_t*, int64_t, const std::byte*,
                            int64_t, int, const float*, float*, int64_t);
constexpr int kTileRows = 4;  // x rows per micro-kernel call
template <int M>
constexpr GemmTileFn kGemmTileRow[2] = {&GemmTile<M, 1>, &GemmTile<M, 2>};
template <std::size_t... I>
constexpr std::array<const GemmTileFn*, sizeof...(I)> MakeGemmTiles(std::index_sequence<I...>) {
  return {kGemmTileRow<static_cast<int>(I) + 1>...};
}
constexpr auto kGemmTiles = MakeGemmTiles(std::make_index_sequence<kTileRows>());

// ---- AMX: one tile op per block of 16 x rows by 16 weight rows. tdpbssd multiplies the x
// tile (A: 16 rows x 32 signed bytes, one block) by the group's packed block (B: 8 rows of
// [16 columns][4 bytes] of signed w: the very layout above) into 16 x 16 int32; the int32 tile
// goes through memory (tilestored) to the vector unit, which applies the scales and
// accumulates in f32 registers (the vector work per block, not the tile op, bounds this
// kernel: signed x signed spares it the VNNI kernels' correction). Blocks alternate between two
// tile sets (C, A, B = tiles 0, 1, 2 and 3, 4, 5) so that one block's tile work overlaps the
// previous block's vector work.
#define R1_AMX                                                                  \
  __attribute__((                                                               \
      target("amx-tile,amx-int8,avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma," \
             "f16c")))

R1_AMX void ConfigureTiles() {
  alignas(64) TileConfig config;
  for (int set = 0; set < 2; ++set) {
    config.rows[3 * set] = 16;  // C: 16 x rows x 16 int32
    config.colsb[3 * set] = 64;
    config.rows[3 * set + 1] = 16;  // A: 16 x rows x 32 bytes (one block)
    config.colsb[3 * set + 1] = kQ8_0BlockValues;
    config.rows[3 * set + 2] = 8;  // B: 8 (k / 4) x [16 columns][4 bytes]
    config.colsb[3 * set + 2] = 64;
  }
  LoadTileConfig(config);
}

// acc[16 x rows] += int32 tile rows [16][16] * w scales * x scale.
R1_AMX inline void ApplyBlock(const int32_t* tile, const std::byte* packed, const float* xd,
                              int64_t blocks, __m512* acc) {
  const __m512 dw = BlockScales(packed);
#pragma GCC unroll 16
  for (int r = 0; r < 16; ++r) {
    acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(tile + 16 * r)),
                             _mm512_mul_ps(dw, _mm512_set1_ps(xd[r * blocks])), acc[r]);
  }
}

// The int32 tile of block b (x tile at xq, the group's packed block at `packed`) into
// `out` [16][16], on tile set `Set` (C, A, B = tiles 3 * Set, 3 * Set + 1, 3 * Set + 2).
template <int Set>
R1_AMX inline void BlockTile(const int8_t* xq, int64_t cols, const std::byte* packed,
                             int32_t* out) {
  // The tile macros paste their register numbers into the instruction: literals only.
  if constexpr (Set == 0) {
    _tile_zero(0);
    _tile_loadd(1, xq, cols);
    _tile_loadd(2, packed + kScaleBytes, 64);
    _tile_dpbssd(0, 1, 2);
    _tile_stored(0, out, 64);
  } else {
    _tile_zero(3);
    _tile_loadd(4, xq, cols);
    _tile_loadd(5, packed + kScaleBytes, 64);
    _tile_dpbssd(3, 4, 5);
    _tile_stored(3, out, 64);
  }
}

// y[16 rows, valid columns] for 16 x rows and one packed group (tiles configured). Software
// pipelined: block b + 1's tile work is issued before block b's vector work, which reads the
// int32 tile stored one step earlier, so that neither waits for the other.

R1_AMX void AmxTile(const int8_t* xq, const float* xd, int64_t cols, const std::byte* group,
                    int valid, const float* bias, float* y, int64_t ldy) {
  const int64_t blocks = cols / kQ8_0BlockValues;
  alignas(64) int32_t tiles[2][16 * 16];  // [set][16 x rows][16 columns]
  __m512 acc[16];
#pragma GCC unroll 16
  for (int r = 0; r < 16; ++r) acc[r] = _mm512_setzero_ps();
  BlockTile<0>(xq, cols, group, tiles[0]);
  int64_t b = 0;
  for (; b + 2 <= blocks; b += 2) {
    const std::byte* p0 = group + b * kPackedBlockBytes;
    const std::byte* p1 = p0 + kPackedBlockBytes;
    // The two blocks kAheadBlocks on (2 x 544 bytes = 17 cache lines).
    const char* ahead = reinterpret_cast<const char*>(p0 + kAheadBlocks * kPackedBlockBytes);
#pragma GCC unroll 17
    for (int line = 0; line < 17; ++line) _mm_prefetch(ahead + 64 * line, _MM_HINT_T0);
    BlockTile<1>(xq + (b + 1) * kQ8_0BlockValues, cols, p1, tiles[1]);
    ApplyBlock(tiles[0], p0, xd + b, blocks, acc);
    if (b + 2 < blocks) {
      BlockTile<0>(xq + (b + 2) * kQ8_0BlockValues, cols, p1 + kPackedBlockBytes, tiles[0]);
    }
    ApplyBlock(tiles[1], p1, xd + b + 1, blocks, acc);
  }
  if (b < blocks) {
    ApplyBlock(tiles[0], group + b * kPackedBlockBytes, xd + b, blocks, acc);
  }
  const __mmask16 mask = static_cast<__mmask16>((1u << valid) - 1);
  const __m512 bv = bias != nullptr ? _mm512_maskz_loadu_ps(mask, bias) : _mm512_setzero_ps();
#pragma GCC unroll 16
  for (int r = 0; r < 16; ++r) _mm512_mask_storeu_ps(y + r * ldy, mask, _mm512_add_ps(acc[r], bv));
}

R1_AMX void ReleaseTiles() { _tile_release(); }

// The VNNI micro-kernels over x rows [row_lo, x.n).
void GemmRowsAvx512(const QuantizedX& x, int row_lo, const std::byte* packed, int64_t count,
                    const float* bias, float* y, int64_t ldy);

}  // namespace

// One gather per 4 k of a group's block (16 rows' dwords at a row stride) does the dword
// transpose. It runs once per weight, when the backend uploads it (PackQ8_0Groups).
R1_AVX512 void PackQ8_0Avx512(const Weight& w, int64_t row_lo, int64_t count, std::byte* packed) {
  const int64_t row_bytes = RowBytes(DType::kQ8_0, w.cols);
  const int64_t blocks = w.cols / kQ8_0BlockValues;
  const int64_t group_bytes = Q8_0GroupBytes(w.cols);
  const auto* base = static_cast<const std::byte*>(w.data) + row_lo * row_bytes;
  // Byte offsets of the group's 16 rows (at most 15 * 9.4 KiB for cols = 8960: int32).
  const __m512i offsets =
      _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(static_cast<int>(row_bytes)));
  for (int64_t g = 0; g * kGroupRows < count; ++g) {
    // Rows past `count` in the last group are not read: scale 0 and w = 0.
    const int64_t valid = std::min(kGroupRows, count - g * kGroupRows);
    const __mmask16 rows = static_cast<__mmask16>((1u << valid) - 1);
    const std::byte* group = base + g * kGroupRows * row_bytes;
    for (int64_t b = 0; b < blocks; ++b) {
      const std::byte* block = group + b * kQ8_0BlockBytes;
      std::byte* dst = packed + g * group_bytes + b * kPackedBlockBytes;
      // The fp16 scale is the low half of the dword at each block's start.
      const __m512i scale_bits =
          _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), rows, offsets, block, 1);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm512_cvtepi32_epi16(scale_bits));
#pragma GCC unroll 8
      for (int s = 0; s < 8; ++s) {
        const __m512i four = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), rows, offsets,
                                                         block + 2 + 4 * s, 1);
        _mm512_storeu_si512(dst + kScaleBytes + s * 64, four);
      }
    }
  }
}

void GemmQ8_0Avx512(const QuantizedX& x, const std::byte* packed, int64_t count, const float* bias,
                    float* y, int64_t ldy) {
  GemmRowsAvx512(x, 0, packed, count, bias, y, ldy);
}

void GemmQ8_0Amx(const QuantizedX& x, const std::byte* packed, int64_t count, const float* bias,
                 float* y, int64_t ldy) {
  const int64_t cols = x.cols;
  const int64_t blocks = cols / kQ8_0BlockValues;
  const int64_t group_bytes = Q8_0GroupBytes(cols);
  const int64_t groups = (count + kGroupRows - 1) / kGroupRows;
  const int full_rows = x.n / 16 * 16;
  if (full_rows > 0) {
    // Tile configuration is per thread; loading it each call costs next to a panel's work.
    ConfigureTiles();
    for (int t = 0; t < full_rows; t += 16) {
      for (int64_t g = 0; g < groups; ++g) {
        const int valid = static_cast<int>(std::min<int64_t>(kGroupRows, count - g * kGroupRows));
        AmxTile(x.values.data() + t * cols, x.scales.data() + t * blocks, cols,
                packed + g * group_bytes, valid, bias != nullptr ? bias + g * kGroupRows : nullptr,
                y + t * ldy + g * kGroupRows, ldy);
      }
    }
    ReleaseTiles();
  }
  // The last n % 16 rows: the VNNI micro-kernels, on the same packed panel.
  if (full_rows < x.n) GemmRowsAvx512(x, full_rows, packed, count, bias, y, ldy);
}

namespace {

void GemmRowsAvx512(const QuantizedX& x, int row_lo, const std::byte* packed, int64_t count,
                    const float* bias, float* y, int64_t ldy) {
  const int64_t cols = x.cols;
  const int64_t blocks = cols / kQ8_0BlockValues;
  const int64_t group_bytes = Q8_0GroupBytes(cols);
  const int64_t groups = (count + kGroupRows - 1) / kGroupRows;
  // x tiles outer: a tile's 4 rows (4 * cols bytes, up to 35 KiB at cols = 8960) stay in L1
  // while the panel's groups stream from L2.
  for (int t = row_lo; t < x.n; t += kTileRows) {
    const int m = std::min(kTileRows, x.n - t);
    for (int64_t g = 0; g < groups; g += 2) {
      const int ng = static_cast<int>(std::min<int64_t>(2, groups - g));
      const int valid =
          static_cast<int>(std::min<int64_t>(ng * kGroupRows, count - g * kGroupRows));
      kGemmTiles[m - 1][ng - 1](
          x.values.data() + t * cols, x.scales.data() + t * blocks, x.sums.data() + t * blocks,
          cols, packed + g * group_bytes, group_bytes, valid,
          bias != nullptr ? bias + g * kGroupRows : nullptr, y + t * ldy + g * kGroupRows, ldy);
    }
  }
}

}  // namespace

}  // namespace r1serve::engine::matmul_kernels

#else  // !defined(__x86_64__)

#include <cstdlib>

#include "lib/engine/backend/matmul_kernels.h"

namespace r1serve::engine::matmul_kernels {

// Off x86-64 these kernels do not exist; DetectCpuKernelLevel() never returns kAvx512 there.
void PackQ8_0Avx512(const Weight&, int64_t, int64_t, std::byte*) { std::abort(); }
void GemmQ8_0Avx512(const QuantizedX&, const std::byte*, int64_t, const float*, float*, int64_t) {
  std::abort();
}
void GemmQ8_0Amx(const QuantizedX&, const std::byte*, int64_t, const float*, float*, int64_t) {
  std::abort();
}

}  // namespace r1serve::engine::matmul_kernels

#endif  // defined(__x86_64__)
