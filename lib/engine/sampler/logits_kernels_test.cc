// Each kernel against a plain scalar reference written here, on sizes that exercise the vector
// bodies, block skips and tails; and the AVX2 variants against the portable ones, bit for bit.
#include "lib/engine/sampler/logits_kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

namespace r1serve::engine {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<float> RandomRow(size_t n, uint32_t seed, float lo = -10, float hi = 10) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> row(n);
  for (float& v : row) v = dist(gen);
  return row;
}

// Sizes around the 8-lane and 64-element block boundaries.
const size_t kSizes[] = {1, 7, 8, 9, 63, 64, 65, 127, 128, 200, 1000, 4099};

TEST(ExpNonPositiveTest, MatchesStdExpWithinTwoTenthsOfAMillionth) {
  for (float x = -87.0f; x <= 0.0f; x += 0.0137f) {
    const double want = std::exp(static_cast<double>(x));
    EXPECT_NEAR(ExpNonPositive(x), want, 2e-7 * want) << x;
  }
  EXPECT_EQ(ExpNonPositive(0.0f), 1.0f);
}

TEST(ExpNonPositiveTest, UnderflowInfinityAndNanGiveZero) {
  EXPECT_EQ(ExpNonPositive(-87.5f), 0.0f);
  EXPECT_EQ(ExpNonPositive(-1000.0f), 0.0f);
  EXPECT_EQ(ExpNonPositive(-kInf), 0.0f);
  EXPECT_EQ(ExpNonPositive(std::nanf("")), 0.0f);
}

TEST(MaxWithNanCheckTest, FindsMaxAndNanAtEveryPosition) {
  for (size_t n : kSizes) {
    std::vector<float> row = RandomRow(n, 1);
    const LogitsMax stats = MaxWithNanCheck(row);
    EXPECT_EQ(stats.max, *std::max_element(row.begin(), row.end())) << n;
    EXPECT_FALSE(stats.has_nan);
    row[n - 1] = std::nanf("");
    EXPECT_TRUE(MaxWithNanCheck(row).has_nan) << n;
  }
  const std::vector<float> masked(10, -kInf);
  EXPECT_EQ(MaxWithNanCheck(masked).max, -kInf);
}

TEST(FirstIndexOfTest, ReturnsLowestIndexOfTies) {
  for (size_t n : kSizes) {
    std::vector<float> row(n, 0.0f);
    row[n - 1] = 5;
    EXPECT_EQ(FirstIndexOf(row, 5), static_cast<int64_t>(n - 1));
    row[n / 2] = 5;
    EXPECT_EQ(FirstIndexOf(row, 5), static_cast<int64_t>(n / 2));
    EXPECT_EQ(FirstIndexOf(row, 7), -1);
  }
}

TEST(SumExpAtLeastTest, MatchesDoubleReference) {
  for (size_t n : kSizes) {
    std::vector<float> row = RandomRow(n, 3);
    if (n > 1) row[0] = -kInf;  // masked tokens weigh nothing
    const float max = *std::max_element(row.begin(), row.end());
    for (float floor : {-kInf, 0.0f, 9.0f}) {
      double want = 0;
      for (float v : row) {
        if (v >= floor) want += std::exp((static_cast<double>(v) - max) * 0.7);
      }
      EXPECT_NEAR(SumExpAtLeast(row, floor, max, 0.7f), want, 1e-6 * want + 1e-30)
          << n << " " << floor;
    }
  }
}

TEST(ExpScaledTest, MatchesScalarKernel) {
  for (size_t n : kSizes) {
    const std::vector<float> row = RandomRow(n, 4);
    const float max = *std::max_element(row.begin(), row.end());
    std::vector<float> out(n);
    ExpScaled(row, max, 1.5f, out);
    for (size_t i = 0; i < n; ++i) {
      EXPECT_EQ(out[i], ExpNonPositive((row[i] - max) * 1.5f)) << i;
    }
  }
}

TEST(SumWeightsAtLeastTest, MatchesReference) {
  for (size_t n : kSizes) {
    const std::vector<float> row = RandomRow(n, 5);
    const std::vector<float> w = RandomRow(n, 6, 0, 1);
    double want = 0;
    for (size_t i = 0; i < n; ++i) want += row[i] >= 2.0f ? w[i] : 0;
    EXPECT_NEAR(SumWeightsAtLeast(row, w, 2.0f), want, 1e-6 * want + 1e-12);
  }
}

TEST(GatherAtLeastTest, KeepsOrderAndDropsInfinityAndNan) {
  for (size_t n : kSizes) {
    std::vector<float> row = RandomRow(n, 7);
    row[0] = -kInf;
    if (n > 1) row[1] = std::nanf("");
    std::vector<float> out_x(n);
    std::vector<int32_t> out_i(n);
    const size_t count = GatherAtLeast(row, -3.0f, out_x, out_i);
    std::vector<int32_t> want;
    for (size_t i = 0; i < n; ++i) {
      if (row[i] >= -3.0f) want.push_back(static_cast<int32_t>(i));
    }
    ASSERT_EQ(count, want.size()) << n;
    for (size_t k = 0; k < count; ++k) {
      EXPECT_EQ(out_i[k], want[k]);
      EXPECT_EQ(out_x[k], row[want[k]]);
    }
  }
}

TEST(SampleCumulativeWeightsTest, PicksTheElementWhoseIntervalHoldsTheTarget) {
  for (size_t n : kSizes) {
    const std::vector<float> row = RandomRow(n, 8);
    const std::vector<float> w = RandomRow(n, 9, 0, 1);
    const float floor = -5.0f;
    std::vector<double> prefix(n + 1, 0);  // cumulative kept weight before element i
    for (size_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + (row[i] >= floor ? w[i] : 0);
    if (prefix[n] == 0) continue;
    for (double u : {0.0, 0.1, 0.37, 0.5, 0.93, 0.999999}) {
      const double target = u * prefix[n];
      const int64_t at = SampleCumulativeWeights(row, w, floor, target);
      ASSERT_GE(at, 0);
      EXPECT_GE(row[at], floor);
      EXPECT_LE(prefix[at], target + 1e-9 * prefix[n]) << n << " " << u;
      EXPECT_GT(prefix[at + 1], target - 1e-9 * prefix[n]) << n << " " << u;
    }
    // Rounding can leave the total just short of the target: the last positive weight.
    int64_t last = -1;
    for (size_t i = 0; i < n; ++i) {
      if (row[i] >= floor && w[i] > 0) last = static_cast<int64_t>(i);
    }
    EXPECT_EQ(SampleCumulativeWeights(row, w, floor, prefix[n] * 2), last);
  }
}

TEST(SampleCumulativeWeightsTest, NeverPicksZeroWeight) {
  const std::vector<float> row = {1, 1, 1, 1};
  const std::vector<float> w = {0, 1, 0, 1};
  EXPECT_EQ(SampleCumulativeWeights(row, w, 0, 0.0), 1);
  EXPECT_EQ(SampleCumulativeWeights(row, w, 0, 1.0), 3);
  const std::vector<float> none = {0, 0, 0, 0};
  EXPECT_EQ(SampleCumulativeWeights(row, none, 0, 0.0), -1);
}

TEST(TopNTest, LargestFirstThenLowestIndex) {
  for (size_t n : kSizes) {
    std::vector<float> row = RandomRow(n, 10);
    for (size_t i = 0; i < n; i += 3) row[i] = 4.0f;  // many ties
    for (size_t k : {size_t{1}, size_t{5}, size_t{20}}) {
      std::vector<int32_t> order(n);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(),
                       [&](int32_t a, int32_t b) { return row[a] > row[b]; });
      const std::vector<RankedLogit> top = TopN(row, {}, -kInf, k);
      ASSERT_EQ(top.size(), std::min(k, n));
      for (size_t r = 0; r < top.size(); ++r) {
        EXPECT_EQ(top[r].index, order[r]) << n << " " << k << " " << r;
        EXPECT_EQ(top[r].value, row[order[r]]);
      }
    }
  }
}

TEST(TopNTest, HonoursFloorAndIndexMap) {
  const std::vector<float> x = {3, 9, 1, 9};
  const std::vector<int32_t> ids = {10, 20, 30, 40};
  const std::vector<RankedLogit> top = TopN(x, ids, 2.0f, 10);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].index, 20);
  EXPECT_EQ(top[1].index, 40);
  EXPECT_EQ(top[2].index, 10);
}

// The definition: the largest v among x >= floor with sum of w over x >= v at least target.
float ReferenceThreshold(const std::vector<float>& x, const std::vector<float>& w, float floor,
                         double target) {
  std::vector<size_t> order;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i] >= floor) order.push_back(i);
  }
  if (order.empty()) return floor;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return x[a] > x[b]; });
  double cumulative = 0;
  for (size_t i = 0; i < order.size();) {
    const float v = x[order[i]];
    for (; i < order.size() && x[order[i]] == v; ++i) cumulative += w[order[i]];
    if (cumulative >= target) return v;
  }
  return x[order.back()];
}

TEST(SelectWeightedThresholdTest, UnitWeightsGiveKthLargest) {
  SelectionScratch scratch;
  for (size_t n : {10, 97, 500, 5000, 100000}) {
    const std::vector<float> x = RandomRow(n, 11);
    const std::vector<float> ones(n, 1.0f);
    for (size_t k : {size_t{1}, size_t{2}, size_t{50}, n / 2, n}) {
      if (k > n) continue;
      std::vector<float> sorted = x;
      std::sort(sorted.begin(), sorted.end(), std::greater<float>());
      EXPECT_EQ(SelectWeightedThreshold(x, ones, -kInf, static_cast<double>(k), scratch),
                sorted[k - 1])
          << n << " " << k;
    }
  }
}

TEST(SelectWeightedThresholdTest, MatchesReferenceOnFlatPeakedTiedAndFloored) {
  SelectionScratch scratch;
  std::mt19937 gen(12);
  for (size_t n : {5, 130, 1000, 20000, 151936}) {
    // Flat weights, peaked (exponential) weights, and values with heavy ties.
    std::vector<std::vector<float>> xs = {RandomRow(n, 13, 0, 1), RandomRow(n, 14, -20, 0)};
    std::vector<float> tied(n);
    std::uniform_int_distribution<int> few(0, 9);
    for (float& v : tied) v = static_cast<float>(few(gen));
    xs.push_back(tied);
    for (const std::vector<float>& x : xs) {
      std::vector<float> w(n);
      for (size_t i = 0; i < n; ++i) w[i] = std::exp(x[i]);
      const double total = std::accumulate(w.begin(), w.end(), 0.0);
      for (double p : {0.01, 0.5, 0.9, 0.95, 0.999}) {
        for (float floor : {-kInf, x[n / 3]}) {
          const float want = ReferenceThreshold(x, w, floor, p * total);
          EXPECT_EQ(SelectWeightedThreshold(x, w, floor, p * total, scratch), want)
              << "n=" << n << " p=" << p << " floor=" << floor;
        }
      }
      // More than everything: the smallest value.
      EXPECT_EQ(SelectWeightedThreshold(x, w, -kInf, 2 * total, scratch),
                *std::min_element(x.begin(), x.end()));
    }
  }
}

TEST(SelectWeightedThresholdTest, AllEqualValues) {
  SelectionScratch scratch;
  const std::vector<float> x(1000, 3.0f);
  const std::vector<float> w(1000, 1.0f);
  EXPECT_EQ(SelectWeightedThreshold(x, w, -kInf, 10, scratch), 3.0f);
}

TEST(SelectWeightedThresholdTest, SparseRegionUnderFloor) {
  SelectionScratch scratch;
  std::vector<float> x = RandomRow(100000, 15, -10, 0);
  for (size_t i = 0; i < 40; ++i) x[i * 2477] = 5.0f + static_cast<float>(i);
  const std::vector<float> ones(x.size(), 1.0f);
  EXPECT_EQ(SelectWeightedThreshold(x, ones, 4.0f, 10, scratch), 35.0f);
  EXPECT_EQ(SelectWeightedThreshold(x, ones, 4.0f, 100, scratch), 5.0f);  // short: smallest
}

TEST(Avx2KernelsTest, BitIdenticalToPortable) {
  if (!Avx2KernelsAvailable()) GTEST_SKIP() << "no AVX2 on this CPU";
  for (size_t n : kSizes) {
    const std::vector<float> row = RandomRow(n, 16, -60, 0);
    std::vector<float> fast(n), portable(n);
    EnableAvx2Kernels(true);
    ExpScaled(row, 0.0f, 1.3f, fast);
    const double fast_sum = SumExpAtLeast(row, -30.0f, 0.0f, 1.3f);
    EnableAvx2Kernels(false);
    ExpScaled(row, 0.0f, 1.3f, portable);
    const double portable_sum = SumExpAtLeast(row, -30.0f, 0.0f, 1.3f);
    EnableAvx2Kernels(true);
    EXPECT_EQ(std::memcmp(fast.data(), portable.data(), n * sizeof(float)), 0) << n;
    EXPECT_EQ(fast_sum, portable_sum) << n;
  }
}

}  // namespace
}  // namespace r1serve::engine
