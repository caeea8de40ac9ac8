#include "lib/engine/backend/cpu_kernels.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace r1serve::engine {
namespace {

#if defined(__x86_64__) && defined(__GNUC__)
// AMX-TILE and AMX-INT8 in CPUID, tile state enabled in XCR0, and Linux's permission for this
// process to use the tile data (arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA): without
// it the first tile instruction faults).
bool AmxUsable() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  constexpr unsigned kAmxTile = 1u << 24, kAmxInt8 = 1u << 25, kOsxsave = 1u << 27;
  if ((edx & kAmxTile) == 0 || (edx & kAmxInt8) == 0) return false;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || (ecx & kOsxsave) == 0) return false;
  unsigned xcr0_lo, xcr0_hi;
  __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  constexpr unsigned kTileState = (1u << 17) | (1u << 18);  // XTILECFG, XTILEDATA
  if ((xcr0_lo & kTileState) != kTileState) return false;
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}
#endif

CpuKernelLevel HardwareLevel() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  // libgcc's checks include the OS's (XCR0 enables the AVX / AVX-512 register state).
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("f16c");
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
  if (avx2 && avx512) return AmxUsable() ? CpuKernelLevel::kAmx : CpuKernelLevel::kAvx512;
  if (avx2) return CpuKernelLevel::kAvx2;
#endif
  return CpuKernelLevel::kPortable;
}

// R1SERVE_CPU_KERNEL_LEVEL caps the level; unset or unknown leaves the hardware's.
CpuKernelLevel EnvironmentCap() {
  const char* value = std::getenv("R1SERVE_CPU_KERNEL_LEVEL");
  if (value == nullptr) return CpuKernelLevel::kAmx;
  for (CpuKernelLevel level : {CpuKernelLevel::kPortable, CpuKernelLevel::kAvx2,
                               CpuKernelLevel::kAvx512, CpuKernelLevel::kAmx}) {
    if (std::strcmp(value, CpuKernelLevelName(level)) == 0) return level;
  }
  return CpuKernelLevel::kAmx;
}

}  // namespace

CpuKernelLevel DetectCpuKernelLevel() {
  static const CpuKernelLevel level = std::min(HardwareLevel(), EnvironmentCap());
  return level;
}

const char* CpuKernelLevelName(CpuKernelLevel level) {
  switch (level) {
    case CpuKernelLevel::kPortable:
      return "portable";
    case CpuKernelLevel::kAvx2:
      return "avx2";
    case CpuKernelLevel::kAvx512:
      return "avx512";
    case CpuKernelLevel::kAmx:
      return "amx";
  }
  return "portable";
}

}  // namespace r1serve::engine
