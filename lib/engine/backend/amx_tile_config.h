// The operand of AMX's ldtilecfg and a load that the compiler cannot get wrong: for the CPU
// backend's AMX kernel and for bench/machine_limits' AMX peak. x86-64 only; call only where
// AMX tiles are usable (DetectCpuKernelLevel() returned kAmx, which also asked the kernel for
// permission).
//
//   alignas(64) TileConfig config;
//   config.rows[0] = 16;  config.colsb[0] = 64;   // tile 0: 16 rows of 64 bytes
//   LoadTileConfig(config);
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace r1serve::engine {

// The 64-byte operand of ldtilecfg (palette 1).
struct TileConfig {
  uint8_t palette_id = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};  // bytes per row of each tile
  uint8_t rows[16] = {};
};

__attribute__((target("amx-tile"))) inline void LoadTileConfig(const TileConfig& config) {
  // GCC's _tile_loadconfig tells the compiler it reads only the first 8 bytes, which lets it
  // drop the caller's stores to the rest; the empty asm with a memory clobber keeps them.
  __asm__ volatile("" : : "r"(&config) : "memory");
  _tile_loadconfig(&config);
}

}  // namespace r1serve::engine
