// CRC32C (Castagnoli, polynomial 0x1EDC6F41, reflected, initial and final XOR 0xFFFFFFFF): the
// checksum of every KvChunk (prefill.proto). Standard check value: Crc32c("123456789") ==
// 0xE3069283.
//
//   uint32_t crc = Crc32c(chunk.k_bytes());
//   crc = Crc32cExtend(crc, chunk.v_bytes());  // the CRC of k_bytes followed by v_bytes
//
// Debian packages no crc32c library for C++ (google/crc32c is not in bookworm), and SSE4.2's
// crc32 instruction computes exactly this polynomial at several GB/s, far above the KV stream's
// rate; a table-driven loop covers CPUs without SSE4.2.
#pragma once

#include <cstdint>
#include <string_view>

namespace r1serve::services {

// The CRC32C of the bytes that produced `crc` followed by `data` (Crc32cExtend(0, x) ==
// Crc32c(x)).
uint32_t Crc32cExtend(uint32_t crc, std::string_view data);

inline uint32_t Crc32c(std::string_view data) { return Crc32cExtend(0, data); }

}  // namespace r1serve::services
