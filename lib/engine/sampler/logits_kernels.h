// Vocabulary-wide loops of the sampler: the only code that touches every logit of a row, so the
// only code whose speed matters (a Qwen2 row has 151,936 logits and a decode step has a budget of
// a few hundred microseconds for the whole sampler). Everything else in the sampler works on the
// few candidates these kernels hand it.
//
//   LogitsMax stats = MaxWithNanCheck(row);                          // row: [vocab]
//   GatherAtLeast(row, floor, logits, ids);                          // candidates: [n]
//   ExpScaled(logits, stats.max, 1.0f / temperature, weights);        // [n]
//   double z = SumWeightsAtLeast(logits, weights, floor);
//   int32_t token = ids[SampleCumulativeWeights(logits, weights, floor, u * z)];
//
// Conventions shared by every kernel:
// - "Weight" of logit x is exp((x - shift) * scale) with shift >= max(x), so weights are in
//   [0, 1]; weights below exp(-87) are 0 (float underflow), -inf logits weigh exactly 0.
// - A `floor` keeps the logits x >= floor; the others count as absent.
// - Results do not depend on the instruction set: lanes are fixed (8 floats), every sum is
//   accumulated in the same order on every machine and no multiply-add is fused, so a seeded
//   sample is the same with or without AVX2, on any x86-64 (or other) build.
// - NaN logits are not kept by any floor comparison; MaxWithNanCheck reports them so the caller
//   can refuse the row.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace r1serve::engine {

// exp(x) for x <= 0 (including -inf, which gives 0), within 2e-7 relative of std::exp above
// -87; 0 below. The scalar form of the vectorized exponential the kernels use.
float ExpNonPositive(float x);

struct LogitsMax {
  float max;     // largest non-NaN value; -inf when there is none
  bool has_nan;  // some value is NaN
};
LogitsMax MaxWithNanCheck(std::span<const float> x);

// Index of the first element equal to `value`, or -1. With value = max, the argmax with ties
// broken towards the lowest index.
int64_t FirstIndexOf(std::span<const float> x, float value);

// Sum over x_i >= floor of exp((x_i - shift) * scale), shift >= max(x).
double SumExpAtLeast(std::span<const float> x, float floor, float shift, float scale);

// out[i] = exp((x[i] - shift) * scale), shift >= max(x). out.size() == x.size().
void ExpScaled(std::span<const float> x, float shift, float scale, std::span<float> out);

// Sum over x_i >= floor of w_i. x.size() == w.size().
double SumWeightsAtLeast(std::span<const float> x, std::span<const float> w, float floor);

// Writes (x_i, i) for every x_i >= floor to the fronts of out_x and out_index, in increasing i;
// returns how many. Both outputs need room for x.size() elements (all of them are scratch).
size_t GatherAtLeast(std::span<const float> x, float floor, std::span<float> out_x,
                     std::span<int32_t> out_index);

// Inverse-CDF draw over the kept elements (x_i >= floor) with weights w, in index order: the
// first index whose cumulative weight exceeds `target` (a uniform draw times the kept total).
// When rounding leaves the total just short of target, the last index with positive weight. -1
// when no kept element has positive weight. x.size() == w.size().
int64_t SampleCumulativeWeights(std::span<const float> x, std::span<const float> w, float floor,
                                double target);

// One entry of a top-N list.
struct RankedLogit {
  int32_t index;
  float value;
};

// The `n` largest x_i >= floor, largest first; equal values rank the lower index first.
// `index_of` maps positions to the reported index (e.g. candidate positions to token ids); it
// must be increasing so that the tie-break holds, and empty means the identity.
std::vector<RankedLogit> TopN(std::span<const float> x, std::span<const int32_t> index_of,
                              float floor, size_t n);

// Buffers SelectWeightedThreshold works in, grown to the largest input and reused.
struct SelectionScratch {
  std::vector<float> x;
  std::vector<float> w;
};

// Weighted selection, the core of top-k and top-p without sorting. Among the elements with
// x_i >= floor: the largest value v such that the weights of all x_i >= v sum to at least
// `target` (ties at v are all inside). With unit weights and target k this is the k-th largest
// value; with probabilities and target p * total it is the top-p cut. When all the weights
// together fall short of target, the smallest such x; `floor` when no element passes it.
// x.size() == w.size(); x holds no NaN. Expected time linear in the input.
float SelectWeightedThreshold(std::span<const float> x, std::span<const float> w, float floor,
                              double target, SelectionScratch& scratch);

// SumExpAtLeast and ExpScaled (the exp()-bound kernels) have an AVX2 variant on x86-64, used
// when the CPU has AVX2. It computes bit-identical results; these let tests check that.
bool Avx2KernelsAvailable();
// Returns the previous setting. Enabled by default.
bool EnableAvx2Kernels(bool enable);

}  // namespace r1serve::engine
