// Deterministic pseudo-random weights for synthetic models (tests and benchmarks: no real
// weights can be downloaded here). Every value is a pure function of (seed, canonical tensor
// name, element index), so any chunking, ordering or thread count gives the same values, a GGUF
// writer can produce rows in its interleaved order, and both formats hold identical numbers.
//
//   RandomWeights init({.seed = 7, .value_dtype = DType::kF16});
//   std::vector<float> row(t.shape.back());
//   init.FillRows(t, /*first_row=*/0, /*count=*/1, row.data());
//
// Distribution (portable: integer hashing and exactly rounded IEEE arithmetic only, no libm):
// z is a sum of four 16-bit uniform draws from one SplitMix64 hash, centred and scaled to unit
// variance (Irwin-Hall, approximately normal, bounded at +-3.46). Then by role:
//   embedding, projection, bias: std * z;  output (and a tied embedding): output_scale * std * z;
//   norm: 1 + 0.05 * z.
// Finally each value is rounded to value_dtype, so that a format storing it wider (GGUF keeps
// norms in F32) stores exactly the same number.
#pragma once

#include <cstdint>

#include "lib/engine/format/architecture.h"
#include "lib/engine/format/dtype.h"

namespace r1serve::engine {

struct RandomWeightsOptions {
  uint64_t seed = 0;
  double std = 0.02;
  double output_scale = 1.0;
  bool tied_output = false;         // token_embd is also the output: output_scale applies to it
  DType value_dtype = DType::kF32;  // F32, F16 or BF16
};

class RandomWeights {
 public:
  explicit RandomWeights(const RandomWeightsOptions& options) : options_(options) {}

  // Canonical rows [first_row, first_row + count) of `tensor` (a 1-D tensor is one row), as
  // count * tensor.shape.back() floats.
  void FillRows(const ExpectedTensor& tensor, int64_t first_row, int64_t count, float* out) const;

  // The approximately standard normal draw for one element (exposed for tests).
  static float StandardDraw(uint64_t stream, uint64_t index);
  // The stream of a tensor: a hash of the seed and the canonical name.
  static uint64_t Stream(uint64_t seed, absl::string_view canonical_name);

 private:
  RandomWeightsOptions options_;
};

}  // namespace r1serve::engine
