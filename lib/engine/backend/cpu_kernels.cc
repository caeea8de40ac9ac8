#include "lib/engine/backend/cpu_kernels.h"

namespace r1serve::engine {

CpuKernelLevel DetectCpuKernelLevel() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
      __builtin_cpu_supports("f16c")) {
    return CpuKernelLevel::kAvx2;
  }
#endif
  return CpuKernelLevel::kPortable;
}

}  // namespace r1serve::engine
