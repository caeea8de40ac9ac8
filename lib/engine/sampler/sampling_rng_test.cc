// SamplingRng: draws are a pure function of (key, draw number), uniform in [0, 1), and keys
// separate seeds and samples.
#include "lib/engine/sampler/sampling_rng.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

namespace r1serve::engine {
namespace {

TEST(SamplingRngTest, DrawsArePureFunctionsOfKeyAndIndex) {
  const SamplingRng a(SamplingRng::KeyFor(42, 0));
  const SamplingRng b(SamplingRng::KeyFor(42, 0));
  for (uint64_t j = 0; j < 100; ++j) EXPECT_EQ(a.Bits(j), b.Bits(j));
  EXPECT_NE(a.Bits(0), a.Bits(1));
  static_assert(SamplingRng(1).Bits(0) == SamplingRng(1).Bits(0));  // usable at compile time
}

TEST(SamplingRngTest, KeysSeparateSeedsAndSampleIndices) {
  std::set<uint64_t> keys;
  for (uint64_t seed = 0; seed < 100; ++seed) {
    for (uint64_t index = 0; index < 100; ++index) keys.insert(SamplingRng::KeyFor(seed, index));
  }
  EXPECT_EQ(keys.size(), 100u * 100u);
}

TEST(SamplingRngTest, UniformIsInUnitIntervalWithTheRightMoments) {
  const SamplingRng rng(SamplingRng::KeyFor(7, 3));
  const int n = 200000;
  double sum = 0, sum_sq = 0;
  int buckets[10] = {};
  for (int j = 0; j < n; ++j) {
    const double u = rng.Uniform(j);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
    sum_sq += u * u;
    ++buckets[static_cast<int>(u * 10)];
  }
  // Mean 1/2 and variance 1/12, within ~5 standard errors.
  EXPECT_NEAR(sum / n, 0.5, 5 * std::sqrt(1.0 / 12 / n));
  EXPECT_NEAR(sum_sq / n - (sum / n) * (sum / n), 1.0 / 12, 0.002);
  double chi2 = 0;
  for (int count : buckets) chi2 += (count - n / 10.0) * (count - n / 10.0) / (n / 10.0);
  EXPECT_LT(chi2, 27.88);  // 9 degrees of freedom, 0.999 quantile
}

}  // namespace
}  // namespace r1serve::engine
