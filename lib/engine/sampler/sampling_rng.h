// The random draws of one sample: a counter-based generator, so that draw j of a sequence is a
// pure function of (key, j). A sequence's generator is then just its key plus the number of tokens
// it has generated, which makes the draws reproducible across everything that can happen to a
// sequence between two tokens: preemption and recomputation, the prefill instance sampling the
// first token and the decode instance the rest, a retry after a failed step.
//
//   SamplingRng rng(SamplingRng::KeyFor(/*seed=*/42, /*sample_index=*/0));
//   double u = rng.Uniform(/*draw=*/0);   // in [0, 1), the same every time
//
// Draw j is SplitMix64's output number j for the state `key` (Steele, Lea, Flood: "Fast
// splittable pseudorandom number generators", 2014): state key + (j + 1) * gamma through the
// finalizer below. SplitMix64 passes BigCrush, and one sequence uses at most a few tens of
// thousands of draws.
#pragma once

#include <cstdint>

namespace r1serve::engine {

class SamplingRng {
 public:
  // SplitMix64's finalizer (a bijection of 64-bit words with full avalanche).
  static constexpr uint64_t Mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // The key of sample `sample_index` of a request with `seed` (SamplingParams.seed: "seeded from
  // (seed, i)"). Nested mixing keeps (seed, i) pairs from colliding in any simple pattern.
  static constexpr uint64_t KeyFor(uint64_t seed, uint64_t sample_index) {
    return Mix(Mix(seed) + sample_index);
  }

  explicit constexpr SamplingRng(uint64_t key) : key_(key) {}

  constexpr uint64_t Bits(uint64_t draw) const { return Mix(key_ + (draw + 1) * kGamma); }

  // Uniform in [0, 1) with 53 random bits.
  constexpr double Uniform(uint64_t draw) const {
    return static_cast<double>(Bits(draw) >> 11) * 0x1.0p-53;
  }

  constexpr uint64_t key() const { return key_; }

 private:
  static constexpr uint64_t kGamma = 0x9e3779b97f4a7c15ULL;  // 2^64 / golden ratio, odd
  uint64_t key_;
};

}  // namespace r1serve::engine
