// AVX2 versions of the CPU backend's elementwise loops (the portable loops live in
// cpu_backend.cc, next to the ops). Memory-bound but for silu's exp, which a scalar libm call
// makes the most expensive part of a prefill's MLP after the matmuls.
//
//   if (level >= CpuKernelLevel::kAvx2) elementwise_kernels::SwiGluAvx2(gate, up, n, out);
#pragma once

#include <cstdint>

namespace r1serve::engine::elementwise_kernels {

// out[n] = gate / (1 + exp(-gate)) * up; out may equal gate.
void SwiGluAvx2(const float* gate, const float* up, int64_t n, float* out);

// Σ x[i]^2 in f32 with 4 independent 8-lane accumulators.
float SumSquaresAvx2(const float* x, int64_t n);

// out[n] = x * scale * weight (the second half of RmsNorm).
void ScaleByWeightAvx2(const float* x, float scale, const float* weight, int64_t n, float* out);

// IEEE half conversion, round to nearest even (vcvtps2ph; bit-identical to FloatToHalf).
void FloatToHalfAvx2(const float* x, int64_t n, uint16_t* out);

}  // namespace r1serve::engine::elementwise_kernels
