#include "tools/loadgen/latency_stats.h"

#include <gtest/gtest.h>

namespace r1serve::loadgen {
namespace {

TEST(LatencyStatsTest, NearestRank) {
  std::vector<double> v;
  for (int i = 100; i >= 1; --i) v.push_back(i);  // unsorted on purpose
  LatencySummary s = Summarize(v);
  EXPECT_EQ(s.count, 100u);
  EXPECT_DOUBLE_EQ(s.p50, 50);
  EXPECT_DOUBLE_EQ(s.p90, 90);
  EXPECT_DOUBLE_EQ(s.p99, 99);
  EXPECT_DOUBLE_EQ(s.max, 100);
  EXPECT_DOUBLE_EQ(s.mean, 50.5);
}

TEST(LatencyStatsTest, SmallSamples) {
  LatencySummary s = Summarize({3.0});
  EXPECT_DOUBLE_EQ(s.p50, 3);
  EXPECT_DOUBLE_EQ(s.p99, 3);
  s = Summarize({1.0, 2.0});
  EXPECT_DOUBLE_EQ(s.p50, 1);
  EXPECT_DOUBLE_EQ(s.p90, 2);
}

TEST(LatencyStatsTest, EmptyIsZero) {
  LatencySummary s = Summarize({});
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.p99, 0);
}

}  // namespace
}  // namespace r1serve::loadgen
